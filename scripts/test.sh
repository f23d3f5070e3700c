#!/usr/bin/env bash
# The whole test suite: install what is missing, build with warnings as errors, run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DLAG_WERROR=ON
cd build
ctest --output-on-failure -j "$(nproc)"
