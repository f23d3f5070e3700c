#!/usr/bin/env bash
# GPU check, for a machine with a GPU, the CUDA toolkit and PyTorch, but no internet and no
# GoogleTest. Runs the GPU tests and benchmarks from gpu-carry/ (made on a build machine by
# scripts/prepare-gpu-carry.sh) and writes OUTDIR/report.txt and OUTDIR/report.json with: the
# device, GPU tests passed/failed/skipped (a skip fails the check), fused-gradient GB/s against the device's copy
# bandwidth and cuBLAS two-gemv (and PyTorch's X.T @ (X @ w - y)), per-iteration time on a
# paper-size problem (9 workers, d = 50), the NCCL paths that ran, and mpirun -np 2 with
# --backend cuda against the single-process run (scripts/gpu-check-mpi.sh). Under 5 minutes.
#
#   scripts/gpu-check.sh OUTDIR [CARRY_DIR]
set -uo pipefail
out=${1:?usage: scripts/gpu-check.sh OUTDIR [CARRY_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
carry=${2:-$root/gpu-carry}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log="$out/report.txt"
: > "$log"
say() { echo "$*" | tee -a "$log"; }

# The CUDA libraries come from this machine: the toolkit, or PyTorch's wheels.
libdirs="$carry/lib"
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
  [ -d "$d" ] && libdirs="$libdirs:$d"
done
py=$(command -v python3 || true)
if [ -n "$py" ]; then
  extra=$("$py" - <<'PY' 2>/dev/null
import glob, os, site
dirs = set()
for base in site.getsitepackages():
    for pattern in ("nvidia/*/lib", "torch/lib"):
        for d in glob.glob(os.path.join(base, pattern)):
            dirs.add(d)
print(":".join(sorted(dirs)))
PY
)
  [ -n "$extra" ] && libdirs="$libdirs:$extra"
fi
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin="$carry/bin"
# This machine is here to run the GPU code: every GPU test that would skip fails instead
# (tests/gpu/gpu_probe.hpp, tests/mpi/gpu), and the check fails if anything skipped anyway.
export LAG_TEST_REQUIRE_GPU=1

say "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$log"
"$bin/lag" info 2>&1 | tee -a "$log"

say "== GPU tests"
passed=0; failed=0; skipped=0
for t in "$bin"/test_gpu_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  timeout 120 "$t" --gtest_output="json:$out/$name.json" > "$out/$name.log" 2>&1
  rc=$?
  counts=$("$py" - "$out/$name.json" <<'PY'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception:
    print("0 0 0"); sys.exit()
p = f = s = 0
for suite in doc.get("testsuites", []):
    for t in suite.get("testsuite", []):
        if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN": s += 1
        elif t.get("failures"): f += 1
        else: p += 1
print(p, f, s)
PY
)
  read -r p f s <<< "$counts"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # a crash counts as a failure
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  say "$name: $p passed, $f failed, $s skipped (exit $rc)"
  grep -E "^\[  FAILED  \]|Failure|error" "$out/$name.log" | head -20 | tee -a "$log"
done
say "GPU tests: $passed passed, $failed failed, $skipped skipped"

# compute-sanitizer (where installed) over the kernel tests: out-of-bounds and misaligned
# accesses that happen to give right answers still show up here.
if command -v compute-sanitizer > /dev/null && [ -x "$bin/test_gpu_kernels" ]; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/test_gpu_kernels" \
    > "$out/sanitizer.log" 2>&1
  say "compute-sanitizer memcheck (test_gpu_kernels): exit $?"
  grep -E "ERROR SUMMARY|Invalid|Program hit" "$out/sanitizer.log" | head -10 | tee -a "$log"
fi

say "== fused gradient (1e6 x 500)"
bench_json=()
for prec in fp64 fp32; do
  if [ -x "$bin/bench_gpu_gradient" ]; then
    timeout 120 "$bin/bench_gpu_gradient" --rows 1000000 --dim 500 --precision "$prec" \
      > "$out/bench_gradient_$prec.log" 2>&1
    cat "$out/bench_gradient_$prec.log" | grep -v '^JSON ' | tee -a "$log"
    j=$(grep '^JSON ' "$out/bench_gradient_$prec.log" | head -1 | cut -c6-)
    bench_json+=("${j:-null}")
  fi
done

say "== PyTorch baseline: X.T @ (X @ w - y), 1e6 x 500"
torch_json=$(timeout 120 "$py" - <<'PY' 2>&1 | tail -1
import json
try:
    import torch
    res = {}
    for name, dt in (("fp64", torch.float64), ("fp32", torch.float32)):
        n, d = 1_000_000, 500
        g = torch.Generator(device="cuda").manual_seed(1)
        X = torch.rand(n, d, device="cuda", dtype=dt, generator=g)
        w = torch.rand(d, device="cuda", dtype=dt, generator=g)
        y = torch.rand(n, device="cuda", dtype=dt, generator=g)
        for _ in range(3): X.T @ (X @ w - y)
        torch.cuda.synchronize()
        times = []
        for _ in range(20):
            a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
            a.record(); X.T @ (X @ w - y); b.record(); torch.cuda.synchronize()
            times.append(a.elapsed_time(b) / 1e3)
        times.sort(); t = times[len(times) // 2]
        res[name] = {"seconds": t, "GBps_X": X.numel() * X.element_size() / t / 1e9}
        del X
    print(json.dumps(res))
except Exception as e:
    print(json.dumps({"error": str(e)}))
PY
)
say "pytorch: $torch_json"

say "== paper-size iteration (9 workers, d = 50)"
work=$(mktemp -d)
"$bin/lag" gen paper-linear --out "$work/data" > /dev/null
iter_json="{}"
for variant in cuda-graphs cuda-nographs cpu; do
  case "$variant" in
    cuda-graphs) args=(--backend cuda --cuda-graphs on) ;;
    cuda-nographs) args=(--backend cuda --cuda-graphs off) ;;
    cpu) args=(--backend cpu) ;;
  esac
  NCCL_DEBUG=INFO NCCL_DEBUG_FILE="$out/nccl-$variant.%p.log" \
    timeout 120 "$bin/lag" train "${args[@]}" --data "$work/data" --algo gd,lag-wk,lag-ps \
      --max-iters 3000 --eval-every 1000000 --quiet --out "$work/run-$variant" \
      > "$out/paper-$variant.log" 2>&1
  per=$("$py" - "$work/run-$variant/summary.json" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
    print(json.dumps({r["algo"]: {"us_per_iter": 1e6 * r["wall_seconds"] / max(r["iterations"], 1),
                                   "uploads": r["uploads"]} for r in s["runs"]}))
except Exception as e:
    print(json.dumps({"error": str(e)}))
PY
)
  say "$variant: $per"
  grep -E "error" "$out/paper-$variant.log" | head -5 | tee -a "$log"
  iter_json=$("$py" -c "import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]=json.loads(sys.argv[3]); print(json.dumps(d))" "$iter_json" "$variant" "$per")
done

say "== checkpoint and resume on the GPU"
# The graphs run above, killed (SIGKILL) at its 4000th metrics row (LAG-WK's iteration 998) and
# resumed from its checkpoint: the outputs must be the uninterrupted run's, bit for bit but the
# time.
LAG_TEST_KILL_AT_ROW=4000 timeout 120 "$bin/lag" train --backend cuda --cuda-graphs on \
  --data "$work/data" --algo gd,lag-wk,lag-ps --max-iters 3000 --eval-every 1000000 \
  --checkpoint-every 250 --quiet --out "$work/ck" > "$out/checkpoint.log" 2>&1
timeout 120 "$bin/lag" train --resume "$work/ck/checkpoint" --quiet >> "$out/checkpoint.log" 2>&1
checkpoint=$("$py" - "$work/run-cuda-graphs" "$work/ck" <<'PY'
import csv, json, os, sys
whole, cut = sys.argv[1:3]
def rows(d):
    with open(os.path.join(d, "metrics.csv")) as f:
        return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in csv.DictReader(f)]
def same(name):
    return open(os.path.join(whole, name), "rb").read() == open(os.path.join(cut, name), "rb").read()
try:
    ok = rows(whole) == rows(cut) and all(same(f"weights-{a}.txt") for a in ("gd", "lag-wk", "lag-ps"))
    print("identical" if ok else "DIFFERENT")
except Exception as e:
    print(f"error: {e}")
PY
)
say "checkpoint resume: $checkpoint"
if [ "$checkpoint" != "identical" ]; then failed=$((failed + 1)); fi

say "== minibatches on the GPU"
# SGD, LASG-WK and LASG-PS through the CLI on both backends (paper-linear, minibatches of 10 of
# each worker's 50 rows): the same uploads and bytes per run and per epoch. (Every decision of
# these runs has a margin above rounding: the CPU's fp32 runs decide as its fp64 runs, all 500
# iterations, so a GPU's other summation order cannot flip one.)
for b in cuda cpu; do
  timeout 120 "$bin/lag" train --backend "$b" --data "$work/data" --algo sgd,lasg-wk,lasg-ps \
    --batch-size 10 --lr-schedule inv-sqrt --max-iters 500 --quiet --out "$work/mb-$b" \
    > "$out/minibatch-$b.log" 2>&1
  grep -E "error" "$out/minibatch-$b.log" | head -5 | tee -a "$log"
done
minibatch=$("$py" - "$work/mb-cuda/summary.json" "$work/mb-cpu/summary.json" <<'PY'
import json, sys
try:
    gpu, cpu = (json.load(open(p))["runs"] for p in sys.argv[1:3])
    keys = ("algo", "uploads", "bytes_up")
    same = all(all(g[k] == c[k] for k in keys) and
               [e["uploads"] for e in g["epochs"]] == [e["uploads"] for e in c["epochs"]]
               for g, c in zip(gpu, cpu)) and len(gpu) == len(cpu) == 3
    print(("identical" if same else "DIFFERENT") + ": " +
          ", ".join(f'{g["algo"]} {g["uploads"]}/{c["uploads"]} uploads' for g, c in zip(gpu, cpu)))
except Exception as e:
    print(f"error: {e}")
PY
)
say "minibatch cuda/cpu: $minibatch"
case "$minibatch" in identical*) ;; *) failed=$((failed + 1)) ;; esac

say "== MPI + NCCL over ranks"
# mpirun -np 2 --backend cuda (both ranks on this GPU) against the single-process run, through
# the Open MPI carried along; recorded in report.json, never fatal (scripts/gpu-check-mpi.sh).
timeout 250 "$root/scripts/gpu-check-mpi.sh" "$out" "$carry" "$work/data" 2>&1 | tee -a "$log"
# The same iteration in PyTorch (eager, the nine workers as one batched matmul): GD without a
# host round trip, and LAG-WK with the one it needs to know who sent (fp64, 3000 iterations).
torch_iter=$(timeout 120 "$py" - <<'PY' 2>&1 | tail -1
import json, time
try:
    import torch
    dev, dt, M, n, d, iters = "cuda", torch.float64, 9, 50, 50, 3000
    g = torch.Generator(device=dev).manual_seed(1)
    X = torch.randn(M, n, d, device=dev, dtype=dt, generator=g)
    y = torch.randn(M, n, 1, device=dev, dtype=dt, generator=g)
    L = float(torch.linalg.eigvalsh(torch.einsum("mij,mik->jk", X, X)).max())
    alpha = 1.0 / L
    def gd():
        th = torch.zeros(d, 1, device=dev, dtype=dt)
        for _ in range(iters):
            gm = torch.bmm(X.transpose(1, 2), torch.bmm(X, th.expand(M, d, 1)) - y)
            th -= alpha * gm.sum(0)
        return th
    def lag_wk():
        th = torch.zeros(d, 1, device=dev, dtype=dt)
        ghat = torch.zeros(M, d, 1, device=dev, dtype=dt)
        agg = torch.zeros(d, 1, device=dev, dtype=dt)
        hist = [0.0] * 10
        for _ in range(iters):
            gm = torch.bmm(X.transpose(1, 2), torch.bmm(X, th.expand(M, d, 1)) - y)
            delta = gm - ghat
            tau = sum(hist) / (alpha * alpha * M * M * 10)
            fire = (delta * delta).sum((1, 2)) > tau
            f = fire.view(M, 1, 1)
            agg += torch.where(f, delta, torch.zeros_like(delta)).sum(0)
            ghat = torch.where(f, gm, ghat)
            new = th - alpha * agg
            change = float(((new - th) ** 2).sum())  # the host needs it for tau, as the engine
            th = new
            hist = [change] + hist[:-1]
        return th
    out = {}
    for name, fn in (("gd", gd), ("lag-wk", lag_wk)):
        fn(); torch.cuda.synchronize()
        t0 = time.perf_counter(); fn(); torch.cuda.synchronize()
        out[name] = {"us_per_iter": 1e6 * (time.perf_counter() - t0) / iters}
    print(json.dumps(out))
except Exception as e:
    print(json.dumps({"error": str(e)}))
PY
)
say "pytorch-eager: $torch_iter"
iter_json=$("$py" -c "import json,sys; d=json.loads(sys.argv[1]); d['pytorch-eager']=json.loads(sys.argv[2]); print(json.dumps(d))" "$iter_json" "$torch_iter")

say "== NCCL paths"
# One line per communicator (ranks, devices) and per transport a connection used; with one GPU
# in one process there is no transport (the server's own workers add on the device).
for f in "$out"/nccl-*.log; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .log)
  grep -hoE "NCCL version [^ ]+" "$f" | head -1 | sed "s/^/$name: /" | tee -a "$log"
  grep -hoE "Init(All)? COMPLETE|comm 0x[0-9a-f]+ rank [0-9]+ nRanks [0-9]+ nNodes [0-9]+" "$f" |
    sed -E 's/comm 0x[0-9a-f]+ //' | sort | uniq -c | sed "s/^/$name: /" | tee -a "$log"
  grep -hoE "\[(send|receive)\] via [^ ]+" "$f" | sort | uniq -c | sed "s/^/$name: /" | tee -a "$log"
done
rm -rf "$work"

LAG_CHECKPOINT_RESUME="$checkpoint" LAG_MINIBATCH="$minibatch" "$py" - "$out/report.json" "$passed" "$failed" "$skipped" "$torch_json" "$iter_json" "${bench_json[@]}" <<'PY'
import json, os, subprocess, sys
path, p, f, s, torch, iters = sys.argv[1:7]
try:
    mpi = json.load(open(os.path.join(os.path.dirname(path), "mpi-ranks.json")))
except Exception as e:
    mpi = {"status": "missing", "error": str(e)}
benches = [json.loads(b) if b != "null" else None for b in sys.argv[7:]]
try:
    name = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                          capture_output=True, text=True).stdout.strip()
except Exception:
    name = "unknown"
json.dump({"device": name,
           "gpu_tests": {"passed": int(p), "failed": int(f), "skipped": int(s)},
           "fused_gradient": benches, "pytorch": json.loads(torch),
           "paper_iteration": json.loads(iters), "mpi_ranks": mpi,
           "checkpoint_resume": os.environ.get("LAG_CHECKPOINT_RESUME", "not run"),
           "minibatch_cuda_vs_cpu": os.environ.get("LAG_MINIBATCH", "not run")},
          open(path, "w"), indent=2)
PY
# The GPU+MPI section's skips, or 1 if the whole section skipped (no Open MPI in the carry).
mpi_skipped=$("$py" -c "
import json, sys
d = json.load(open(sys.argv[1]))
print(1 if d.get('status') == 'skipped' else d.get('tests', {}).get('skipped', 0))" \
  "$out/mpi-ranks.json" 2>/dev/null || echo 1)
say "report: $out/report.txt, $out/report.json"
if [ "$skipped" -ne 0 ] || [ "$mpi_skipped" -ne 0 ]; then
  say "FAIL: $skipped GPU tests and $mpi_skipped GPU+MPI tests skipped on a machine with a GPU"
  exit 1
fi
[ "$failed" -eq 0 ]
