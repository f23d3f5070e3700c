#!/usr/bin/env bash
# Per-iteration cost of the cluster layer: µs per iteration of `lag train --backend cpu` on the
# paper-size problem (`lag gen paper-linear`: M = 9 workers, 50 rows each, d = 50, fp64, least
# squares; the problem of the "paper-size iteration" in scripts/gpu-check.sh), in one process
# (default threads and --threads 1) and under `mpirun -np 4` and `-np 2`. At d = 50 a gradient is
# ~2500 multiply-adds, so the figure is dominated by what an iteration costs around the
# arithmetic: dispatch to the workers, the trigger, the exchange, the step. Run it before and
# after a change to the cluster classes, on the same machine, and compare the tables.
#
#   bench/cluster_overhead.sh BUILD_DIR [OUT.md]      (about 5 minutes on 2 cores)
#
# Environment: REPS (repetitions per configuration, default 5), RANKS (the mpirun -np values,
# default "4 2": 4 ranks oversubscribe a 2-core machine, 2 do not), ALGOS (default
# "gd lag-wk lag-ps"), MPIRUN (default mpirun; for a relocated Open MPI, source
# scripts/openmpi-env.sh first).
#
# µs/iteration = 1e6 · wall_seconds / iterations from the run's summary.json, as gpu-check.sh
# derives it. wall_seconds is the engine's training time: planning, compute and exchange, with
# evaluation (monitoring) and the writing of metrics.csv excluded (src/engine/engine.cpp).
set -euo pipefail

build=${1:?usage: bench/cluster_overhead.sh BUILD_DIR [OUT.md]}
out_md=${2:-}
lag=$(cd "$build" && pwd)/lag
[ -x "$lag" ] || { echo "no lag binary in $build" >&2; exit 1; }
reps=${REPS:-5}
rank_counts=${RANKS:-4 2}
algos=${ALGOS:-gd lag-wk lag-ps}
mpirun=${MPIRUN:-mpirun}
py=$(command -v python3) || { echo "python3 is needed to read summary.json" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$lag" gen paper-linear --out "$work/data" > /dev/null

# Iterations per run, fixed (not calibrated) so that a later run of this script measures the same
# iterations: on this problem every algorithm has converged after a few hundred iterations, and
# what an iteration costs afterwards differs from the first ones (LAG-PS then selects nobody and
# computes nothing: its figure is almost pure loop and exchange overhead). The counts make each
# run train for at least 1 s on a 2-core Xeon; a run that trains for less is marked in the table.
iters() {  # MODE ALGO
  case "$1:$2" in
    mpi:gd) echo 150000 ;;      # 2 ranks ~10 µs/iteration, 4 ranks ~20; 2-4x that under load
    mpi:lag-wk) echo 150000 ;;  # as gd
    mpi:lag-ps) echo 400000 ;;  # 2 ranks ~3.5 µs, 4 ranks ~12
    *:lag-ps) echo 3000000 ;;   # ~0.5 µs in one process (its metrics.csv: ~220 MB)
    *) echo 200000 ;;           # gd, lag-wk in one process: ~7-16 µs
  esac
}

# Open MPI as the project's MPI tests start it (tests/mpi/mpirun.hpp): allowed as root (CI
# containers) and with more ranks than cores. Under mpirun each rank's default thread pool is
# its share of the cores (at least 1).
mpi_env=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
         OMPI_MCA_rmaps_base_oversubscribe=1)

# The configurations: "label|mode|extra lag train options", mode "one" or "mpi RANKS".
configs=("1 process, default threads|one|"
         "1 process, --threads 1|one|--threads 1")
for r in $rank_counts; do configs+=("mpirun -np $r|mpi $r|"); done

results="$work/results.tsv"  # label, algo, iterations, threads, ranks, wall_seconds
: > "$results"

run_one() {  # LABEL MODE EXTRA ALGO ITERS
  local label=$1 mode=$2 extra=$3 algo=$4 n=$5 dir="$work/run"  # mode: one, or "mpi R"
  rm -rf "$dir"
  local cmd=("$lag" train --backend cpu --data "$work/data" --algo "$algo" --max-iters "$n"
             --eval-every 1000000000 --quiet --out "$dir")
  # shellcheck disable=SC2206  # extra is a word list on purpose
  cmd+=($extra)
  if [ "${mode% *}" = mpi ]; then
    env "${mpi_env[@]}" timeout 600 "$mpirun" -np "${mode#mpi }" "${cmd[@]}" > "$work/log" 2>&1
  else
    timeout 600 "${cmd[@]}" > "$work/log" 2>&1
  fi || { echo "failed: ${cmd[*]}" >&2; cat "$work/log" >&2; exit 1; }
  "$py" - "$dir/summary.json" "$label" "$n" >> "$results" <<'PY'
import json, sys
path, label, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = json.load(open(path))
(r,) = s["runs"]
# A run that stopped early (divergence, a stopping rule) would not measure what it claims to.
if r["iterations"] != n or r["stop_reason"] != "max_iters":
    sys.exit(f"{path}: {r['iterations']} iterations, stop {r['stop_reason']}; expected {n}")
print("\t".join(map(str, (label, r["algo"], n, r["threads"], s["ranks"], r["wall_seconds"]))))
PY
  rm -rf "$dir"  # metrics.csv of a long run is hundreds of MB
}

# Fail fast on a broken build or mpirun before spending minutes: every configuration once, short.
for c in "${configs[@]}"; do
  IFS='|' read -r label mode extra <<< "$c"
  for algo in $algos; do run_one "$label" "$mode" "$extra" "$algo" 50; done
done
: > "$results"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
# Repetitions outermost, configurations interleaved: a change in the machine's load during the
# measurement (other jobs on a shared machine) spreads over all configurations instead of
# landing on one.
for ((rep = 1; rep <= reps; rep++)); do
  for c in "${configs[@]}"; do
    IFS='|' read -r label mode extra <<< "$c"
    for algo in $algos; do
      run_one "$label" "$mode" "$extra" "$algo" "$(iters "${mode% *}" "$algo")"
    done
  done
  echo "repetition $rep/$reps done ($(($(date +%s) - start)) s," \
    "load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

elapsed=$(($(date +%s) - start))
table=$("$py" - "$results" "$reps" "$load_before" "$load_after" "$(nproc)" "$elapsed" <<'PY'
import statistics, sys
from collections import OrderedDict
path, reps, load_before, load_after, cores, secs = sys.argv[1:7]
groups = OrderedDict()
for line in open(path):
    label, algo, n, threads, ranks, wall = line.rstrip("\n").split("\t")
    g = groups.setdefault((label, algo),
                          {"n": int(n), "threads": threads, "ranks": ranks, "wall": []})
    g["wall"].append(float(wall))
print("| configuration | algo | ranks × threads | iterations | median µs/it | min µs/it "
      "| max/min |")
print("|---|---|---|---|---|---|---|")
short = False
for (label, algo), g in groups.items():
    us = sorted(1e6 * w / g["n"] for w in g["wall"])
    mark = ""
    if min(g["wall"]) < 1.0:  # shorter than the 1 s each run is meant to last
        mark, short = " †", True
    print(f"| {label} | {algo} | {g['ranks']} × {g['threads']} | {g['n']}{mark} | "
          f"{statistics.median(us):.3g} | {us[0]:.3g} | {us[-1] / us[0]:.2f} |")
print()
print(f"{reps} runs per row, interleaved; µs/it = 1e6 · wall_seconds / iterations (summary.json, "
      f"training time, evaluation excluded); max/min = spread of the runs.")
if short:
    print("† at least one run trained for less than 1 s.")
print(f"Load average (1, 5, 15 min) on {cores} cores: {load_before} before, {load_after} after "
      f"({secs} s).")
PY
)

{
  echo "## Cluster overhead: paper-size iteration (M = 9, d = 50, fp64), --backend cpu"
  echo
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "$("$lag" info 2>/dev/null | head -1), $(nproc) cores: ${cpu:-unknown CPU}."
  commit=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2> /dev/null || echo unknown)
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit."
  echo
  echo "$table"
} | if [ -n "$out_md" ]; then tee "$out_md"; else cat; fi
