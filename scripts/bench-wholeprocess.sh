#!/usr/bin/env bash
# bench-wholeprocess.sh measures the poolleak pipeline as users run it:
# whole processes, both binaries on the same file, page cache warm,
# interleaved runs, medians.
#
# It builds examples/etlstat and examples/poolleak, generates scale traces
# with examples/etlgen (in both stack shapes, at the sizes asked for) into
# a work folder, reads each trace once to warm the page cache, then runs
# `etlstat -json TRACE` and `poolleak -json TRACE` one after the other N
# times. It prints, per trace, the median wall time of each, poolleak's
# MB/s, the ratio etlstat/poolleak (the pipeline's speed as a fraction of
# etlstat's; the issue's aim is 0.75 or more), the median CPU time (user +
# system) of each, and the largest resident set of each (from
# /usr/bin/time when present).
#
# Usage (from anywhere in the repository):
#
#	scripts/bench-wholeprocess.sh [-n RUNS] [-sizes "200 1000"] [-shapes "keys full"] [-dir DIR] [-base TREE] [-extra FILE]... [-quiet]
#
#	-n RUNS      interleaved pairs per trace (default 5)
#	-sizes MB    trace sizes in MB (default "200 1000")
#	-shapes S    stack shapes of etlgen -stackwalk (default "keys full")
#	-dir DIR     work folder for binaries and traces (default: a new temp
#	             folder, removed at the end); traces already in DIR are
#	             reused, so a second run skips generation
#	-base TREE   also build poolleak from this other checkout of etwkit
#	             (e.g. a worktree of main) and run it in the same
#	             interleaved rounds, to compare before and after a change
#	-extra FILE  also measure this trace (repeatable), e.g. a real one
#	-quiet       start each round of runs only once the machine has been
#	             idle for half a second (Linux: /proc/stat), so that other
#	             work on it does not take one of the cores mid-round
#
# The machine should be quiet: wall times of memory-bound work on a
# shared machine vary by up to half between spells. On a VM a core can
# also run slower than the other for minutes (its host core shared with
# another guest): the script times etlstat -json on the first trace pinned
# to each core (taskset) before and after the runs, and says so when one
# core is more than 15% slower, since a run's wall time then depends on
# which core its busiest thread lands on.
set -euo pipefail

runs=5
sizes="200 1000"
shapes="keys full"
dir=""
extra=()
base=""
quiet=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n) runs=$2; shift 2 ;;
	-sizes) sizes=$2; shift 2 ;;
	-shapes) shapes=$2; shift 2 ;;
	-dir) dir=$2; shift 2 ;;
	-base) base=$2; shift 2 ;;
	-extra) extra+=("$2"); shift 2 ;;
	-quiet) quiet=1; shift ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/etwkit-wholeprocess.XXXXXX")
	tmpdir=$dir
fi
mkdir -p "$dir"
# Binaries and scratch files of this run (traces stay in $dir).
bin=$(mktemp -d "$dir/run.XXXXXX")
trap 'rm -rf "$bin"; [ -n "${tmpdir:-}" ] && rm -rf "$tmpdir"' EXIT

echo "building etlstat, poolleak and etlgen of $root" >&2
(cd "$root" && go build -o "$bin/etlstat" ./examples/etlstat && go build -o "$bin/poolleak" ./examples/poolleak &&
	go build -o "$bin/etlgen" ./examples/etlgen)
tools="etlstat poolleak"
if [ -n "$base" ]; then
	echo "building poolleak of $base" >&2
	(cd "$base" && go build -o "$bin/poolleak-base" ./examples/poolleak)
	tools="etlstat poolleak poolleak-base"
fi

# Bytes per record of each shape (measured on etlgen's output), to turn a
# size in MB into -events.
bytes_per_record() {
	case "$1" in
	keys) echo 47 ;;
	full) echo 73 ;;
	*) echo "unknown shape $1" >&2; exit 2 ;;
	esac
}

traces=()
for shape in $shapes; do
	for mb in $sizes; do
		f="$dir/scale-$shape-${mb}MB.etl"
		if [ ! -s "$f" ]; then
			events=$((mb * 1000000 / $(bytes_per_record "$shape")))
			echo "generating $f ($events records)" >&2
			"$bin/etlgen" -scenario scale -stackwalk "$shape" -events "$events" -q -o "$f.tmp"
			mv "$f.tmp" "$f"
		fi
		traces+=("$f")
	done
done
traces+=("${extra[@]}")

have_time=0
if [ -x /usr/bin/time ]; then
	have_time=1
fi

# run1 BINARY TRACE prints "wall_s cpu_s maxrss_kb" of one run; the
# output of the tool goes to /dev/null.
run1() {
	local t0 t1 rss cpu
	if [ $have_time = 1 ]; then
		t0=$(date +%s%N)
		/usr/bin/time -f '%M %U %S' -o "$bin/time.out" "$1" -json "$2" >/dev/null
		t1=$(date +%s%N)
		read -r rss u s <"$bin/time.out"
		cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	else
		t0=$(date +%s%N)
		"$1" -json "$2" >/dev/null
		t1=$(date +%s%N)
		rss=0 cpu=0
	fi
	awk -v a="$t0" -v b="$t1" -v c="$cpu" -v r="$rss" 'BEGIN { printf "%.4f %s %s\n", (b - a) / 1e9, c, r }'
}

# idle_wait waits, with -quiet, until less than an eighth of the
# machine's CPU time went to anything over half a second.
idle_wait() {
	[ $quiet = 1 ] && [ -r /proc/stat ] || return 0
	local a b
	while :; do
		a=$(head -1 /proc/stat)
		sleep 0.5
		b=$(head -1 /proc/stat)
		if awk -v a="$a" -v b="$b" 'BEGIN {
			split(a, x); split(b, y); t = 0
			for (i = 2; i <= length(y); i++) t += y[i] - x[i]
			idle = (y[5] + y[6]) - (x[5] + x[6])
			exit !(t > 0 && 1 - idle / t < 0.125)
		}'; then
			return 0
		fi
		sleep 1.5
	done
}

# core_check prints the time of etlstat -json on trace $1 pinned to each
# core, and a warning when the slowest is over 15% slower than the fastest.
core_check() {
	command -v taskset >/dev/null || return 0
	local c t0 t1 line=""
	for c in $(seq 0 $(($(nproc) - 1))); do
		t0=$(date +%s%N)
		taskset -c "$c" "$bin/etlstat" -json "$1" >/dev/null
		t1=$(date +%s%N)
		line="$line $(((t1 - t0) / 1000000))"
	done
	echo "etlstat -json $(basename "$1") pinned to each core, ms:$line" >&2
	awk -v l="$line" 'BEGIN { n = split(l, v); lo = v[1]; hi = v[1]
		for (i = 2; i <= n; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
		if (hi > 1.15 * lo) print "warning: the cores ran at different speeds; wall times depend on where threads land" > "/dev/stderr" }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { sort -g | tail -1; }

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs interleaved runs, medians" >&2
cat "${traces[0]%%!*}" >/dev/null
core_check "${traces[0]}"
if [ -n "$base" ]; then
	printf '| trace | MB | etlstat -json s | poolleak -json s | poolleak MB/s | ratio | base poolleak s | base ratio | CPU s etlstat / poolleak / base | max RSS MB etlstat / poolleak / base |\n'
	printf '|---|---|---|---|---|---|---|---|---|---|\n'
else
	printf '| trace | MB | etlstat -json s | poolleak -json s | poolleak MB/s | ratio | CPU s etlstat / poolleak | max RSS MB etlstat / poolleak |\n'
	printf '|---|---|---|---|---|---|---|---|\n'
fi
for f in "${traces[@]}"; do
	bytes=$(stat -c %s "${f%%!*}")
	cat "${f%%!*}" >/dev/null # warm the page cache
	for t in $tools; do : >"$bin/$t.txt"; done
	for i in $(seq "$runs"); do
		idle_wait
		for t in $tools; do run1 "$bin/$t" "$f" >>"$bin/$t.txt"; done
	done
	declare -A wall cpu rss
	for t in $tools; do
		wall[$t]=$(cut -d' ' -f1 "$bin/$t.txt" | median)
		cpu[$t]=$(cut -d' ' -f2 "$bin/$t.txt" | median)
		rss[$t]=$(cut -d' ' -f3 "$bin/$t.txt" | maximum)
	done
	awk -v n="$(basename "$f")" -v b="$bytes" -v ew="${wall[etlstat]}" -v pw="${wall[poolleak]}" -v bw="${wall[poolleak-base]:-}" \
		-v ec="${cpu[etlstat]}" -v pc="${cpu[poolleak]}" -v bc="${cpu[poolleak-base]:-}" \
		-v er="${rss[etlstat]}" -v pr="${rss[poolleak]}" -v br="${rss[poolleak-base]:-}" 'BEGIN {
		printf "| %s | %.0f | %.3f | %.3f | %.0f | %.2f |", n, b / 1e6, ew, pw, b / 1e6 / pw, ew / pw
		if (bw != "") {
			printf " %.3f | %.2f | %.2f / %.2f / %.2f | %.0f / %.0f / %.0f |\n", bw, ew / bw, ec, pc, bc, er / 1024, pr / 1024, br / 1024
		} else {
			printf " %.2f / %.2f | %.0f / %.0f |\n", ec, pc, er / 1024, pr / 1024
		}
	}'
done
core_check "${traces[0]}"
