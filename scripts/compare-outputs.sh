#!/usr/bin/env bash
# compare-outputs.sh checks that a change keeps what the tools print: it
# builds poolleak, etlstat and etwdump from this checkout and from another
# one (the base, e.g. a worktree of main), runs both builds on the same
# traces with the same flags, and compares standard output, standard error
# and exit status byte for byte. Speed work must leave all three alone.
#
# The traces cover both stack shapes real Windows writes (stack-key
# references and full StackWalk records) and both PoolTrace headers
# (SYSTEM, with process and thread, and PERFINFO, without), plain and
# compressed buffers, and damage:
#
#   - testdata/irp-leak.etl, the seed scenario;
#   - etlgen's irp-leak and scale scenarios in the four shape/header
#     combinations, and compressed;
#   - a truncated copy and a corrupted copy of a scale trace;
#   - with ../shared/testdata/etl (or $ETWKIT_TESTDATA) present, the real
#     traces of the corpus (etlstat -json on every one; etwdump -stacks and
#     poolleak on the PerfView kernel traces).
#
# Usage (from anywhere in the repository):
#
#	scripts/compare-outputs.sh -base TREE [-dir DIR] [-events N]
#
#	-base TREE   the other checkout of etwkit to compare with (required)
#	-dir DIR     work folder (default: a new temp folder, removed at the
#	             end); traces already there are reused
#	-events N    records of the generated scale traces (default 300000)
#
# It prints one line per difference and a count, and exits 1 when anything
# differs.
set -euo pipefail

base=""
dir=""
events=300000
while [ $# -gt 0 ]; do
	case "$1" in
	-base) base="$2"; shift 2 ;;
	-dir) dir="$2"; shift 2 ;;
	-events) events="$2"; shift 2 ;;
	*) echo "usage: $0 -base TREE [-dir DIR] [-events N]" >&2; exit 2 ;;
	esac
done
if [ -z "$base" ] || [ ! -f "$base/go.mod" ]; then
	echo "compare-outputs: -base must name a checkout of etwkit" >&2
	exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
base="$(cd "$base" && pwd)"
if [ -z "$dir" ]; then
	dir="$(mktemp -d)"
	trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir/new" "$dir/base" "$dir/traces" "$dir/out"

for tool in poolleak etlstat etwdump etlgen; do
	(cd "$root" && go build -o "$dir/new/$tool" "./examples/$tool")
done
for tool in poolleak etlstat etwdump; do
	(cd "$base" && go build -o "$dir/base/$tool" "./examples/$tool")
done

t="$dir/traces"
gen() { # gen NAME etlgen-flags...
	local name="$1"
	shift
	[ -f "$t/$name" ] || "$dir/new/etlgen" -q "$@" -o "$t/$name"
}
cp "$root/testdata/irp-leak.etl" "$t/irp-leak.etl"
for shape in keys full; do
	for hdr in system perfinfo; do
		gen "irp-$shape-$hdr.etl" -scenario irp-leak -stackwalk "$shape" -pool-header "$hdr"
		gen "scale-$shape-$hdr.etl" -scenario scale -stackwalk "$shape" -pool-header "$hdr" -events "$events"
	done
done
gen "irp-compressed.etl" -scenario irp-leak -compress
gen "scale-keys-compressed.etl" -scenario scale -events "$events" -compress
gen "scale-full-compressed.etl" -scenario scale -stackwalk full -events "$events" -compress
# Damage: the first 60% of a trace, and 64 bytes of garbage inside one of
# its buffers' records.
if [ ! -f "$t/truncated.etl" ]; then
	size=$(wc -c <"$t/scale-full-system.etl")
	head -c $((size * 6 / 10)) "$t/scale-full-system.etl" >"$t/truncated.etl"
fi
if [ ! -f "$t/corrupted.etl" ]; then
	cp "$t/scale-keys-perfinfo.etl" "$t/corrupted.etl"
	size=$(wc -c <"$t/corrupted.etl")
	printf '%064d' 0 | tr 0 '\377' | dd of="$t/corrupted.etl" bs=1 seek=$((size * 4 / 10 + 1000)) conv=notrunc status=none
fi

differ=0
same=0
# check LABEL TOOL ARGS...: runs both builds and compares.
check() {
	local label="$1" tool="$2"
	shift 2
	local a="$dir/out/new" b="$dir/out/base" sa=0 sb=0
	"$dir/new/$tool" "$@" >"$a.out" 2>"$a.err" || sa=$?
	"$dir/base/$tool" "$@" >"$b.out" 2>"$b.err" || sb=$?
	if [ "$sa" != "$sb" ] || ! cmp -s "$a.out" "$b.out" || ! cmp -s "$a.err" "$b.err"; then
		echo "DIFFERS: $label: $tool $* (exit $sa vs $sb)"
		differ=$((differ + 1))
	else
		same=$((same + 1))
	fi
}

for f in "$t"/*.etl; do
	n="$(basename "$f")"
	check "$n" poolleak -json "$f"
	check "$n" poolleak "$f"
	check "$n" poolleak -fold -top 30 "$f"
	check "$n" poolleak -json -window 1:3 "$f"
	check "$n" poolleak -json -tag Irp "$f"
	check "$n" etlstat -json "$f"
	check "$n" etwdump -kinds pool,stack -stacks -limit 5000 "$f"
done
# A process filter needs a process the trace has: take the first one the
# report names.
for f in "$t"/irp-*.etl "$t"/scale-keys-system.etl; do
	pid="$("$dir/new/poolleak" -json "$f" | grep -o '"pid": *[0-9]*' | head -1 | grep -o '[0-9]*$' || true)"
	[ -n "$pid" ] && check "$(basename "$f")" poolleak -json -pid "$pid" "$f"
done

corpus="${ETWKIT_TESTDATA:-$root/../shared/testdata/etl}"
if [ -d "$corpus" ]; then
	for f in "$corpus"/*.etl "$corpus"/*.etl.zip; do
		[ -f "$f" ] || continue
		check "$(basename "$f")" etlstat -json "$f"
	done
	for f in "$corpus"/microsoft__perfview__*; do
		[ -f "$f" ] || continue
		case "$f" in
		*diaghub-etls.zip) f="$f!diaghub-etls/diaghub.kernel.1.etl" ;; # four members
		esac
		check "$(basename "$f")" etwdump -stacks "$f"
		check "$(basename "$f")" poolleak -json "$f"
	done
else
	echo "compare-outputs: no corpus at $corpus: real traces not compared"
fi

echo "compare-outputs: $same commands print the same, $differ differ"
[ "$differ" -eq 0 ]
