#!/usr/bin/env bash
# pgo.sh regenerates the profiles that `go build` uses for profile-guided
# optimization of poolleak and etlstat: examples/poolleak/default.pgo and
# examples/etlstat/default.pgo (Go builds a main package with the
# default.pgo beside it unless told -pgo=off).
#
# It builds the two tools and etlgen without a profile, writes generated
# traces of the scale scenario in the shapes real Windows writes (stack-key
# references and full StackWalk records; pool events under SYSTEM and
# PERFINFO headers; one XPRESS-compressed), runs each tool on each trace
# with -cpuprofile, poolleak 10 times and etlstat 25 (etlstat also on the
# real traces of the corpus when ../shared/testdata/etl or
# $ETWKIT_TESTDATA is present), and merges each tool's profiles with
# `go tool pprof -proto`.
#
# Run it after changes to the hot paths of the reader or the pipeline, and
# commit the two files with the change. A stale profile costs only speed:
# the compiler ignores what no longer matches the code. It takes about a
# minute.
#
# Usage (from anywhere in the repository): scripts/pgo.sh [-events N]
#
#	-events N   records per generated trace (default 2000000, about 100
#	            to 150 MB each)
set -euo pipefail

events=2000000
while [ $# -gt 0 ]; do
	case "$1" in
	-events) events=$2; shift 2 ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in etlgen poolleak etlstat; do
	go build -pgo=off -o "$work/$tool" "./examples/$tool"
done

traces=()
for shape in keys full; do
	for header in system perfinfo; do
		t="$work/scale-$shape-$header.etl"
		"$work/etlgen" -q -scenario scale -stackwalk "$shape" -pool-header "$header" -events "$events" -o "$t"
		traces+=("$t")
	done
done
t="$work/scale-keys-compressed.etl"
"$work/etlgen" -q -scenario scale -compress -events "$events" -o "$t"
traces+=("$t" testdata/irp-leak.etl)

# A profile samples 100 times a second: the runs are repeated so that
# each tool's merged profile holds over a thousand samples (about 13 s of
# CPU each; with a few hundred, two profiles of the same code gave builds
# 4% apart in instructions, with these within 1%).
n=0
for t in "${traces[@]}"; do
	for run in $(seq 10); do
		n=$((n + 1))
		"$work/poolleak" -json -cpuprofile "$work/poolleak-$n.prof" "$t" >/dev/null
	done
	for run in $(seq 25); do
		n=$((n + 1))
		"$work/etlstat" -json -cpuprofile "$work/etlstat-$n.prof" "$t" >/dev/null
	done
done
corpus=${ETWKIT_TESTDATA:-../shared/testdata/etl}
if [ -d "$corpus" ]; then
	for run in $(seq 10); do
		n=$((n + 1))
		# Some corpus traces are damaged on purpose: exit status 1 is theirs.
		"$work/etlstat" -json -cpuprofile "$work/etlstat-$n.prof" "$corpus" >/dev/null 2>&1 || true
	done
fi

go tool pprof -proto "$work"/poolleak-*.prof >examples/poolleak/default.pgo 2>/dev/null
go tool pprof -proto "$work"/etlstat-*.prof >examples/etlstat/default.pgo 2>/dev/null
ls -l examples/poolleak/default.pgo examples/etlstat/default.pgo
