#!/usr/bin/env bash
# Peak memory (maximum resident set size, GNU time) of `lag train` on one data file per worker:
# one process, then every rank of `mpirun -np 2` and `mpirun -np 4`. The shards are written first
# with `lag gen hetero` (LIBSVM, dense rows). A report, not a test: results are in
# bench/peak-memory.md.
#
#   bench/peak_memory.sh [LAG] [WORKDIR]
#
# LAG: the lag binary (default: build/lag). WORKDIR (default: a new temporary folder, removed at
# the end) keeps the shards, so a second run (another binary) skips writing them. The job's size:
# WORKERS (4) shards of ROWS (20000) x DIM (400) doubles, 256 MB as fp64 by default; ITERS (3)
# iterations of GD. Needs /usr/bin/time and, for the ranks, mpirun (Open MPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lag=${1:-$root/build/lag}
work=${2:-}
workers=${WORKERS:-4}
rows=${ROWS:-20000}
dim=${DIM:-400}
iters=${ITERS:-3}
[ -x "$lag" ] || { echo "no lag binary at $lag" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/lag-peak-memory.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
data="$work/data-$workers-$rows-$dim"
if [ ! -f "$data/shard-01.svm" ]; then
  "$lag" gen hetero --workers "$workers" --rows "$rows" --dim "$dim" --out "$data" >/dev/null
fi
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1"; }
train="train --data $data --algo gd --max-iters $iters --quiet"

data_mb=$(awk -v n="$workers" -v r="$rows" -v d="$dim" 'BEGIN { printf "%.0f", n * r * d * 8 / 1048576 }')
text_mb=$(du -sm "$data" | cut -f1)
echo "lag: $lag"
echo "data: $workers shards of $rows x $dim, $data_mb MiB as fp64 ($text_mb MiB of LIBSVM text)"
echo "| processes | rank | its share (MiB fp64) | max RSS (MiB) | wall |"
echo "|---|---|---|---|---|"
/usr/bin/time -v -o "$work/time.single" "$lag" $train --out "$work/out" >/dev/null
echo "| 1 (no mpirun) | - | $data_mb | $(mb "$(rss "$work/time.single")") | $(wall "$work/time.single") |"

if ! command -v mpirun >/dev/null; then
  echo "(no mpirun: the ranks are not measured)"
  exit 0
fi
# As root, and with more ranks than cores, Open MPI wants to be told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
for ranks in 2 4; do
  [ "$ranks" -le "$workers" ] || continue
  rm -f "$work"/time.rank.*
  mpirun -np "$ranks" sh -c "exec /usr/bin/time -v -o '$work/time.rank.'\$OMPI_COMM_WORLD_RANK \
    '$lag' $train --out '$work/out'" >/dev/null
  for ((r = 0; r < ranks; r++)); do
    # Worker blocks as the trainer assigns them: the first workers % ranks ranks hold one more.
    held=$(( workers / ranks + (r < workers % ranks ? 1 : 0) ))
    held_mb=$(awk -v n="$held" -v r="$rows" -v d="$dim" 'BEGIN { printf "%.0f", n * r * d * 8 / 1048576 }')
    f="$work/time.rank.$r"
    echo "| $ranks | $r | $held_mb | $(mb "$(rss "$f")") | $(wall "$f") |"
  done
done
