#!/usr/bin/env bash
# The whole test suite: install what is missing, build with warnings as errors, check that the
# suite kills every planted fault (scripts/mutants.sh; LAG_MUTANTS=0 skips it), run ctest, fuzz
# each parser briefly (LAG_FUZZ_SECONDS per harness, default 10; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DLAG_WERROR=ON
if [ "${LAG_MUTANTS:-1}" != "0" ]; then
  scripts/mutants.sh
fi
(cd build && ctest --output-on-failure -j "$(nproc)")
# Each parser's fuzz harness for a short bounded time under ASan+UBSan (scripts/fuzz.sh; clang
# builds build-fuzz). LAG_FUZZ_SECONDS=0 skips it.
if [ "${LAG_FUZZ_SECONDS:-10}" != "0" ]; then
  scripts/fuzz.sh "${LAG_FUZZ_SECONDS:-10}" build-fuzz/ci
fi
