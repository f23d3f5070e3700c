#!/usr/bin/env bash
# The three experiments of the LAG paper (Chen, Giannakis, Sun, Yin, NeurIPS 2018), its five
# algorithms and LAQ, EF21 and CLAG to the objective error 1e-8, and per experiment a PNG of
# objective error against iterations, cumulative uploads and cumulative uplink bytes (log
# scale): OUTDIR/{linear,logistic,fashion-pairs}.png.
#
#   scripts/paper-figures.sh OUTDIR      (10-45 s on 2 cores; LAG=path/to/lag to override)
#
#   linear         the paper's synthetic least squares: lag gen paper-linear (M = 9, d = 50,
#                  L_m = (1.3^(m-1) + 1)^2)
#   logistic       synthetic logistic regression as in the paper: M = 9 workers of N_m = 50 rows,
#                  d = 50, lambda = 1e-3, L_m increasing geometrically by the paper's ratio
#                  L_9 / L_1 = (1.3^8 + 1)^2 / 4 ~ 21 (lag gen hetero --model logistic --spread 21)
#   fashion-pairs  real data, logistic: the paper splits three small UCI sets over three workers
#                  each; here three Fashion-MNIST two-class tasks (T-shirt/Trouser 200 images,
#                  Sandal/Sneaker 600, Pullover/Coat 1800), 4x4-pooled to 49 pixels + 1, over
#                  3 workers each (scripts/fashion_pairs.py), lambda = 10 (lambda 1e-3 leaves
#                  these near-separable tasks so ill-conditioned that GD needs >10^4 iterations)
set -euo pipefail
. "$(dirname "$0")/report-env.sh"
mkdir -p "$out/data"
start=$SECONDS

# train NAME ARGS...: all eight algorithms to 1e-8 into $out/NAME, the comparison table to stdout
# and $out/NAME.txt; a diverged run (status 3) is a result, not a failure.
train() {
  local name=$1
  shift
  echo "== $name [$((SECONDS - start))s]"
  local status=0
  "$lag" train --algo gd,lag-wk,lag-ps,cyc-iag,num-iag,laq,ef21,clag --target-gap 1e-8 \
    --max-iters 20000 \
    --threads 1 --out "$out/$name" "$@" > "$out/$name.txt" 2>&1 || status=$?
  cat "$out/$name.txt"
  if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then exit "$status"; fi
}

"$lag" gen paper-linear --out "$out/data/linear" > /dev/null
train linear --data "$out/data/linear"

"$lag" gen hetero --model logistic --workers 9 --rows 50 --dim 50 --spread 21 \
  --out "$out/data/logistic" > /dev/null
train logistic --data "$out/data/logistic" --model logistic --lambda 1e-3

"$py" "$root/scripts/fashion_pairs.py" --out "$out/data/fashion-pairs" > /dev/null
train fashion-pairs --data "$out/data/fashion-pairs" --model logistic --lambda 10

"$py" "$root/scripts/plot_paper_figures.py" --target 1e-8 \
  "$out/linear" "Linear regression, synthetic (lag gen paper-linear: M = 9, d = 50)" \
  "$out/logistic" "Logistic regression, synthetic (M = 9, N_m = 50, d = 50, L_9/L_1 = 21, lambda = 1e-3)" \
  "$out/fashion-pairs" "Logistic regression, Fashion-MNIST pairs 0/1, 5/7, 2/4 over 3 workers each (d = 50, lambda = 10)"
echo "wrote $out/linear.png, $out/logistic.png, $out/fashion-pairs.png ($((SECONDS - start)) s)"
