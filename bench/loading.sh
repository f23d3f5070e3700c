#!/usr/bin/env bash
# Loading speed and peak memory of the LIBSVM reader: `lag gen hetero` shards (WORKERS of ROWS x
# DIM, dense rows as text, about 3 times the size of their doubles), loaded by bench_load with 1
# parsing thread and with one per hardware thread, each in a process of its own. A report, not a
# test: the figures are in docs/benchmarks.md §8.
#
#   bench/loading.sh [BUILD] [WORKDIR]
#
# BUILD: the build folder (default: build). WORKDIR (default: a new temporary folder, removed at
# the end) keeps the shards for a second run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
work=${2:-}
workers=${WORKERS:-4}
rows=${ROWS:-20000}
dim=${DIM:-400}
[ -x "$build/lag" ] && [ -x "$build/bench/bench_load" ] || {
  echo "needs $build/lag and $build/bench/bench_load (cmake --build $build)" >&2
  exit 1
}
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/lag-loading.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
data="$work/data-$workers-$rows-$dim"
[ -f "$data/shard-01.svm" ] || "$build/lag" gen hetero --workers "$workers" --rows "$rows" \
  --dim "$dim" --out "$data" >/dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) hardware threads; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $workers LIBSVM shards of $rows x $dim"
for threads in 1 0; do
  sync
  "$build/bench/bench_load" --threads "$threads" "$data"/shard-*.svm
done
echo "(threads 0: one per hardware thread, as lag train loads; the text is in the page cache)"
