#!/usr/bin/env bash
# Fresh machine to first result: install what is missing, build, and run the main job: softmax
# regression on Fashion-MNIST over 10 workers split by label, with LAG-WK (lag train with no data
# named). Extra arguments go to lag train.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/lag train --out build/runs/main-job "$@"
