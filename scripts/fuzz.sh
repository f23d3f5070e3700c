#!/usr/bin/env bash
# A fuzzing campaign: builds the libFuzzer harnesses (fuzz/; clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs each for SECONDS (default 60), one after the other.
#   scripts/fuzz.sh [SECONDS_PER_HARNESS] [WORKDIR]
# New interesting inputs go to WORKDIR/corpus/HARNESS (default WORKDIR: build-fuzz/campaign), never
# into the committed seeds (fuzz/corpus). Prints execs/s and total execs per harness. Any crash,
# sanitizer report, leak, timeout or out-of-memory fails the script; its input is copied to
# fuzz/regressions/HARNESS/ to be committed once fixed (tests/data/test_fuzz_replay.cpp replays it).
# LAG_FUZZ_HARNESSES="libsvm csv" picks harnesses; LAG_FUZZ_BUILD=build-dir the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
build="${LAG_FUZZ_BUILD:-build-fuzz}"
work="${2:-$build/campaign}"
harnesses="${LAG_FUZZ_HARNESSES:-libsvm csv idx idx_gzip config checkpoint}"

cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLAG_BUILD_FUZZ=ON -DLAG_WITH_CUDA=OFF -DLAG_WITH_MPI=OFF -DLAG_BUILD_TESTS=OFF \
  -DLAG_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j 2 --target lag_fuzzers

# The harnesses write their inputs to files: in memory when there is a tmpfs.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
summary=()
for h in $harnesses; do
  corpus="$work/corpus/$h"
  artifacts="$work/artifacts/$h"
  mkdir -p "$corpus" "$artifacts"
  log="$work/$h.log"
  start=$(date +%s)
  set +e
  "$build/fuzz/fuzz_$h" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc, see $log)"
    failed="$failed $h"
    mkdir -p "fuzz/regressions/$h"
    for f in "$artifacts"/*; do
      [ -f "$f" ] && cp "$f" "fuzz/regressions/$h/" && echo "fuzz: $h: saved fuzz/regressions/$h/$(basename "$f")"
    done
    grep -E "ERROR|runtime error|terminate called|what\(\)|SUMMARY" "$log" | head -20 || true
  fi
  summary+=("$(printf '%-10s %10s %12s %8s %s' "$h" "$elapsed" "${execs:-?}" "${rate:-?}" "$result")")
done

echo
printf '%-10s %10s %12s %8s %s\n' harness seconds execs execs/s result
printf '%s\n' "${summary[@]}"
if [ -n "$failed" ]; then
  echo "fuzz: findings in:$failed" >&2
  exit 1
fi
