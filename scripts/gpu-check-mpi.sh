#!/usr/bin/env bash
# The part of scripts/gpu-check.sh across MPI ranks: `mpirun -np R lag train --backend cuda` for
# R = 1, 2, 4 with the Open MPI carried in CARRY_DIR/openmpi.tar.gz (the GPU machine has none),
# every rank on device 0 (each under its own NCCL_HOSTID, so NCCL talks over sockets:
# scripts/nccl-rank-hostid.sh), against the single-process run on device 0: the same ledger and
# decisions and bit-identical theta (fp64), and the time per iteration of each (one rank with
# graphs: the rank path's paper-size figure). Then the GPU+MPI tests (test_mpi_gpu).
# Prints what it finds and writes OUTDIR/mpi-ranks.json; never fails the caller (exit 0), so a
# broken MPI set-up is recorded, not fatal.
#
#   scripts/gpu-check-mpi.sh OUTDIR CARRY_DIR DATA_DIR
set -uo pipefail
out=${1:?usage: scripts/gpu-check-mpi.sh OUTDIR CARRY_DIR DATA_DIR}
carry=${2:?usage: scripts/gpu-check-mpi.sh OUTDIR CARRY_DIR DATA_DIR}
data=${3:?usage: scripts/gpu-check-mpi.sh OUTDIR CARRY_DIR DATA_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$carry/bin"
json="$out/mpi-ranks.json"
py=$(command -v python3 || true)
record() { echo "$1" > "$json"; }

if [ ! -f "$carry/openmpi.tar.gz" ]; then
  echo "skipped: no openmpi.tar.gz in $carry (run scripts/prepare-gpu-carry.sh where Open MPI is installed)"
  record '{"status": "skipped", "why": "no Open MPI in the carry"}'
  exit 0
fi
record '{"status": "incomplete"}'  # until the end: a run cut short says so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$carry/openmpi.tar.gz"
# In a subshell: the relocated Open MPI's variables stay out of everything else.
ompi() { (. "$root/scripts/openmpi-env.sh" "$work/openmpi" && "$@"); }
runas=(--allow-run-as-root --oversubscribe)

start=$(date +%s)
ompi timeout 20 mpirun "${runas[@]}" -np 2 uname -n > "$out/mpi-smoke.log" 2>&1
smoke=$?
echo "mpirun -np 2 uname -n (relocated Open MPI): exit $smoke"
[ "$smoke" -ne 0 ] && head -20 "$out/mpi-smoke.log"

args=(train --data "$data" --algo gd,lag-wk,lag-ps --max-iters 1000 --eval-every 1000000
  --backend cuda --devices 0 --quiet)
timeout 45 "$bin/lag" "${args[@]}" --out "$work/single" > "$out/mpi-single.log" 2>&1
single=$?
# One, two and four ranks sharing the GPU: the rank code a multi-GPU node runs.
codes=()
for R in 1 2 4; do
  NCCL_DEBUG=INFO NCCL_DEBUG_FILE="$out/nccl-mpi-$R.%p.log" ompi timeout 60 mpirun "${runas[@]}" \
    -np "$R" "$root/scripts/nccl-rank-hostid.sh" "$bin/lag" "${args[@]}" --out "$work/ranks-$R" \
    > "$out/mpi-ranks-$R.log" 2>&1
  rc=$?
  codes+=("$rc")
  echo "single process: exit $single; mpirun -np $R: exit $rc"
  [ "$rc" -ne 0 ] && grep -E "error|NCCL WARN" "$out/mpi-ranks-$R.log" "$out"/nccl-mpi-$R.*.log 2>/dev/null | head -10
done
grep -hoE "NCCL INFO (Channel [0-9/]+ : .* via [^ ]+|NET/[A-Za-z]+ : Using .*)" "$out"/nccl-mpi-*.log \
  2>/dev/null | sed 's/Channel [0-9/]* : //' | sort | uniq -c | head -5

"$py" - "$work" "$single" "$smoke" "$work/compare.json" "${codes[@]}" << 'PY'
import json, math, os, sys
work, result = sys.argv[1], sys.argv[4]
codes = {"single": int(sys.argv[2]), "smoke": int(sys.argv[3])}
for R, c in zip((1, 2, 4), sys.argv[5:]):
    codes[f"ranks_{R}"] = int(c)
out = {"status": "fail", "exit_codes": codes, "runs": {}}
ok = True
try:
    single_dir = os.path.join(work, "single")
    a = json.load(open(os.path.join(single_dir, "summary.json")))
    us = lambda r: 1e6 * r["wall_seconds"] / max(r["iterations"], 1)
    for x in a["runs"]:
        out["runs"][x["algo"]] = {"us_per_iter_single": us(x)}
    for R in (1, 2, 4):
        ranks_dir = os.path.join(work, f"ranks-{R}")
        b = json.load(open(os.path.join(ranks_dir, "summary.json")))
        ok = ok and b.get("ranks") == R and len(a["runs"]) == len(b["runs"])
        out.setdefault("backend", {})[R] = b.get("backend")
        for x, y in zip(a["runs"], b["runs"]):
            algo = x["algo"]
            same = all(x[k] == y[k] for k in ("iterations", "uploads", "computes", "bytes_up",
                                               "bytes_down", "control_bytes", "stop_reason"))
            ta = [float(v) for v in open(os.path.join(single_dir, f"weights-{algo}.txt"))]
            tb = [float(v) for v in open(os.path.join(ranks_dir, f"weights-{algo}.txt"))]
            num = sum((p - q) ** 2 for p, q in zip(ta, tb))
            den = max(sum(q * q for q in ta), 1e-300)
            rel = math.sqrt(num / den) if len(ta) == len(tb) else float("inf")
            r = out["runs"][algo]
            r[f"ranks_{R}"] = {"ledger_identical": same, "theta_rel_diff": rel,
                               "bit_identical": ta == tb, "uploads": y["uploads"],
                               "physical_bytes_up": y["physical_bytes_up"],
                               "physical_bytes_down": y["physical_bytes_down"],
                               "us_per_iter": us(y)}
            # The design gives the single-GPU run's bits on any number of ranks.
            ok = ok and same and ta == tb
            print(f"{algo}, {R} rank(s): ledger {'identical' if same else 'DIFFERS'}, theta "
                  f"relative difference {rel:.3g}{' (bit-identical)' if ta == tb else ''}; "
                  f"{us(y):.1f} us/iter ({us(x):.1f} in one process)")
    out["status"] = "pass" if ok and all(c == 0 for c in codes.values()) else "fail"
except Exception as e:
    out["error"] = str(e)
    print(f"no comparison: {e}")
json.dump(out, open(result, "w"))
PY
compare=$(cat "$work/compare.json" 2> /dev/null || echo '{"status": "fail"}')

# The GPU+MPI tests, pointed at the carried programs and the relocated mpirun.
LAG_TEST_BINARY="$bin/lag" LAG_TEST_MPIEXEC=mpirun LAG_TEST_SCRIPTS="$root/scripts" \
  ompi timeout 120 "$bin/test_mpi_gpu" --gtest_output="json:$out/test_mpi_gpu.json" \
  > "$out/test_mpi_gpu.log" 2>&1
trc=$?
tests=$("$py" - "$out/test_mpi_gpu.json" "$trc" << 'PY'
import json, sys
p = f = s = 0
try:
    for suite in json.load(open(sys.argv[1])).get("testsuites", []):
        for t in suite.get("testsuite", []):
            if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN": s += 1
            elif t.get("failures"): f += 1
            else: p += 1
except Exception:
    pass
if int(sys.argv[2]) != 0 and f == 0: f = 1  # a crash or a timeout counts as a failure
print(json.dumps({"passed": p, "failed": f, "skipped": s, "exit": int(sys.argv[2])}))
PY
)
echo "test_mpi_gpu: $tests"
grep -E "^\[  FAILED  \]|Failure" "$out/test_mpi_gpu.log" | head -10
seconds=$(($(date +%s) - start))
echo "MPI + NCCL section: ${seconds} s"

"$py" - "$compare" "$tests" "$seconds" > "$json" << 'PY'
import json, sys
d = json.loads(sys.argv[1])
d["tests"] = json.loads(sys.argv[2])
d["seconds"] = int(sys.argv[3])
if d["tests"]["failed"]:
    d["status"] = "fail"
print(json.dumps(d, indent=2))
PY
echo "MPI + NCCL over ranks: $("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$json")"
exit 0
