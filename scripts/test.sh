#!/usr/bin/env bash
# The whole test suite: install what is missing, build with warnings as errors, check that the
# suite kills every planted fault (scripts/mutants.sh; LAG_MUTANTS=0 skips it), run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DLAG_WERROR=ON
if [ "${LAG_MUTANTS:-1}" != "0" ]; then
  scripts/mutants.sh
fi
cd build
ctest --output-on-failure -j "$(nproc)"
