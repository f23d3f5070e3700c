#!/usr/bin/env bash
# Bytes to an objective error of 1e-8 for GD, LAG-WK, LAQ (b = 2, 4, 8), EF21 and CLAG (several
# k and zeta, at the theory's step and at 1/L) on the paper's linear problem and a logistic set,
# and uplink bytes and test accuracy after 300 iterations of the Fashion-MNIST main job (softmax
# has no closed-form L* to measure an error against). Writes OUTDIR/compressed-bytes.md (the
# tables) and the runs under OUTDIR/runs.
#
#   bench/compressed_bytes.sh OUTDIR     (about 5 minutes on 2 cores; LAG=path/to/lag)
set -euo pipefail
out=${1:?usage: bench/compressed_bytes.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
lag=${LAG:-$root/build/lag}
[ -x "$lag" ] || { echo "compressed_bytes: no $lag (build first: scripts/build.sh)" >&2; exit 1; }
mkdir -p "$out/runs" "$out/data"
out=$(cd "$out" && pwd)
report="$out/compressed-bytes.md"

"$lag" gen paper-linear --out "$out/data/linear" > /dev/null
"$lag" gen hetero --model logistic --workers 9 --rows 50 --dim 50 --spread 21 \
  --out "$out/data/logistic" > /dev/null

# run EXPERIMENT LABEL ARGS...: one lag train into runs/EXPERIMENT/LABEL (status 3, diverged, is
# a result).
run() {
  local experiment=$1 label=$2
  shift 2
  local status=0
  "$lag" train --quiet --out "$out/runs/$experiment/$label" "$@" \
    2> "$out/runs/$experiment-$label.log" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    cat "$out/runs/$experiment-$label.log" >&2
    exit "$status"
  fi
}

# sweep EXPERIMENT ARGS...: every variant on one data set.
sweep() {
  local e=$1
  shift
  run "$e" base --algo gd,lag-wk,laq "$@"
  for b in 2 8; do run "$e" "laq-b$b" --algo laq --bits "$b" "$@"; done
  for k in 5 10 25; do
    run "$e" "ef21-k$k-theory" --algo ef21 --topk "$k" "$@"
    run "$e" "ef21-k$k-1overL" --algo ef21 --topk "$k" --alpha "$alpha" "$@"
  done
  for z in 1 4 16; do
    for k in 5 25; do run "$e" "clag-k$k-z$z-1overL" --algo clag --topk "$k" --zeta "$z" --alpha "$alpha" "$@"; done
  done
}

echo "linear (paper-linear, M = 9, d = 50)"
alpha=$("$lag" info --data "$out/data/linear" 2>/dev/null | sed -n 's/.*alpha = \([^ ]*\).*/\1/p' | head -1)
sweep linear --data "$out/data/linear" --target-gap 1e-8 --max-iters 20000 --threads 1
echo "logistic (M = 9, N_m = 50, d = 50, lambda = 1e-3)"
alpha=$("$lag" info --data "$out/data/logistic" --model logistic --lambda 1e-3 2>/dev/null |
  sed -n 's/.*alpha = \([^ ]*\).*/\1/p' | head -1)
sweep logistic --data "$out/data/logistic" --model logistic --lambda 1e-3 --target-gap 1e-8 \
  --max-iters 20000 --threads 1
echo "fashion-mnist (the main job, 300 iterations)"
run fashion base --algo gd,lag-wk,laq --max-iters 300 --eval-every 300
run fashion laq-b2 --algo laq --bits 2 --max-iters 300 --eval-every 300
run fashion ef21-k785 --algo ef21 --topk 785 --max-iters 300 --eval-every 300
run fashion clag-k785-z4 --algo clag --topk 785 --zeta 4 --max-iters 300 --eval-every 300

/usr/bin/python3 - "$out/runs" "$report" <<'PY'
import json, os, sys
runs, report = sys.argv[1:3]
lines = ["# Bytes to the target: LAQ, EF21 and CLAG against GD and LAG-WK", "",
         "Produced by `bench/compressed_bytes.sh`. Linear and logistic: to an objective error",
         "of 1e-8 (at most 20000 iterations); Fashion-MNIST: 300 iterations of the main job.", ""]
for experiment in ("linear", "logistic", "fashion"):
    rows = []
    for label in sorted(os.listdir(os.path.join(runs, experiment))):
        s = json.load(open(os.path.join(runs, experiment, label, "summary.json")))
        for r in s["runs"]:
            name = r["algo"] if label == "base" else label
            rows.append((name, r))
    base = {n: r for n, r in rows}
    gd, wk = base["gd"]["bytes_up"], base["lag-wk"]["bytes_up"]
    lines += [f"## {experiment}", "",
              "| run | alpha | iterations | uploads | bits/upload | uplink bytes | vs GD | vs LAG-WK | stop | test acc |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(rows, key=lambda x: x[1]["bytes_up"]):
        acc = r.get("test_accuracy")
        lines.append(f"| {name} | {r['alpha']:.3g} | {r['iterations']} | {r['uploads']} | "
                     f"{r['bits_per_upload']:.0f} | {r['bytes_up']} | {r['bytes_up'] / gd:.3f} | "
                     f"{r['bytes_up'] / wk:.3f} | {r['stop_reason']} | "
                     f"{'' if acc is None else f'{100 * acc:.2f}%'} |")
    lines.append("")
open(report, "w").write("\n".join(lines))
print(open(report).read())
PY
