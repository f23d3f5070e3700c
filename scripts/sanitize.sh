#!/usr/bin/env bash
# The test suite under the sanitizers, CPU only (LAG_WITH_CUDA=OFF; see LAG_SANITIZE in
# CMakeLists.txt). Any report fails the run.
#   asan: AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer) over the whole ctest
#         suite, into PREFIX-asan
#   tsan: ThreadSanitizer over the tests that run threads (the thread pool, the engine and the
#         clusters it drives, ranks played by threads), into PREFIX-tsan
#   all:  both (the default)
# usage: scripts/sanitize.sh [asan|tsan|all] [BUILD_DIR_PREFIX]   (prefix default: build-san)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
prefix=${2:-build-san}
case "$mode" in asan | tsan | all) ;; *)
  echo "usage: $0 [asan|tsan|all] [BUILD_DIR_PREFIX]" >&2
  exit 2
  ;;
esac
jobs=$(nproc)

configure() {  # configure DIR SANITIZERS
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAG_WITH_CUDA=OFF \
    -DLAG_SANITIZE="$2" >/dev/null
}

run_asan() {
  local dir="$prefix-asan"
  configure "$dir" address,undefined
  cmake --build "$dir" --parallel "$jobs"
  local asan="halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  (cd "$dir" && ASAN_OPTIONS="$asan:detect_leaks=1" ctest --output-on-failure -j "$jobs" -LE mpi)
  # The ranks under mpirun without leak checking: Open MPI keeps what MPI_Init_thread and
  # MPI_Finalize allocate (and unloads its plugins before the check, so their stacks cannot be
  # matched by a suppression); every leak reported there came from those two calls.
  if [ -n "$(cd "$dir" && ctest -N -L mpi | grep 'Test *#' || true)" ]; then
    (cd "$dir" && ASAN_OPTIONS="$asan:detect_leaks=0" ctest --output-on-failure -j "$jobs" -L mpi)
  fi
  echo "sanitize: ASan+UBSan: the whole suite passed"
}

# The test programs that run threads; the rest of the suite is single-threaded.
tsan_tests=(test_thread_pool test_engine test_rules test_cluster_parts test_rank_loading
  test_multiclass test_data_loading test_ledger)

run_tsan() {
  local dir="$prefix-tsan"
  configure "$dir" thread
  cmake --build "$dir" --parallel "$jobs" --target "${tsan_tests[@]}"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
  # OpenBLAS is not instrumented: its own threads would only show false reports.
  export OPENBLAS_NUM_THREADS=1
  local t failed=()
  for t in "${tsan_tests[@]}"; do
    echo "sanitize: TSan: $t"
    if ! timeout 900 "$dir/tests/$t" --gtest_brief=1; then failed+=("$t"); fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "sanitize: TSan: failed: ${failed[*]}" >&2
    return 1
  fi
  echo "sanitize: TSan: ${tsan_tests[*]} passed"
}

case "$mode" in
  asan) (run_asan) ;;
  tsan) (run_tsan) ;;
  all)
    (run_asan)
    (run_tsan)
    ;;
esac
