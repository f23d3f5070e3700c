#!/usr/bin/env bash
# Bytes saved per epoch: every algorithm across heterogeneity, worker counts and data splits,
# from the runs' summary.json, as a table (stdout), OUTDIR/bytes_saved.csv and
# OUTDIR/bytes_saved.png.
#
#   scripts/bytes-saved.sh OUTDIR        (1-2 minutes on 2 cores; LAG=path/to/lag to override)
#
# An epoch is one iteration: one server round, in which GD takes all M worker gradients (one pass
# over the data). LAG-PS and the IAGs compute fewer gradients in a round; their `computes` column
# says how many. The runs:
#   linear   lag gen hetero --spread r, r in 1 10 100 1000, M in 3 9 27 (200 rows x 50 per shard);
#            to the objective error 1e-8 (iterations to eps), at most 20000 iterations
#   logistic the same data with +-1 labels, M = 9, lambda 1e-3; to 1e-8, at most 10000 iterations
#   softmax  Fashion-MNIST, the first 6000 training images, M = 10 split iid and by label
#            (worker m holds class m); a budget of 200 iterations, test accuracy on the 10000
#            test images at the end (softmax has no closed-form optimum to measure eps against)
set -euo pipefail
. "$(dirname "$0")/report-env.sh"
algos=gd,lag-wk,lag-ps,cyc-iag,num-iag,laq,ef21,clag
index="$out/runs.tsv"
printf 'dir\texperiment\tmodel\tdata\tsplit\tworkers\tspread\n' > "$index"
start=$SECONDS

# train NAME ARGS...: one lag train into $out/runs/NAME; a diverged run (status 3) is data, not a
# failure of the sweep.
train() {
  local name=$1
  shift
  local status=0
  "$lag" train --algo "$algos" --quiet --out "$out/runs/$name" "$@" 2> "$out/runs/$name.log" ||
    status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    cat "$out/runs/$name.log" >&2
    exit "$status"
  fi
}
mkdir -p "$out/runs" "$out/data"

for M in 3 9 27; do
  for r in 1 10 100 1000; do
    name=linear-M$M-r$r
    echo "[$((SECONDS - start))s] $name"
    "$lag" gen hetero --workers "$M" --spread "$r" --out "$out/data/$name" > /dev/null
    # The shards are tiny: one thread avoids hand-offs that cost more than they save.
    train "$name" --data "$out/data/$name" --target-gap 1e-8 --max-iters 20000 --threads 1
    printf '%s\tlinear\tlinear\thetero\t-\t%s\t%s\n' "$name" "$M" "$r" >> "$index"
  done
done

for r in 1 10 100 1000; do
  name=logistic-M9-r$r
  echo "[$((SECONDS - start))s] $name"
  "$lag" gen hetero --model logistic --workers 9 --spread "$r" --out "$out/data/$name" > /dev/null
  train "$name" --data "$out/data/$name" --model logistic --lambda 1e-3 --target-gap 1e-8 \
    --max-iters 10000 --threads 1
  printf '%s\tlogistic\tlogistic\thetero\t-\t9\t%s\n' "$name" "$r" >> "$index"
done

for split in iid label; do
  name=fashion-$split
  echo "[$((SECONDS - start))s] $name"
  train "$name" --dataset fashion-mnist --model softmax --bias --limit 6000 --workers 10 \
    --partition "$split" --max-iters 200 --eval-every 20
  printf '%s\tsoftmax\tsoftmax\tfashion-mnist\t%s\t10\t-\n' "$name" "$split" >> "$index"
done

"$py" "$root/scripts/bytes_saved_table.py" "$index" "$out/bytes_saved.csv"
"$py" "$root/scripts/plot_bytes_saved.py" "$out/bytes_saved.csv" "$out/bytes_saved.png"
echo "wrote $out/bytes_saved.csv, $out/bytes_saved.png ($((SECONDS - start)) s)"
