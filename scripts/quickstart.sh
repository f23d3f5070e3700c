#!/usr/bin/env bash
# Fresh machine to first result: install what is missing, build, and run the paper's synthetic
# linear-regression experiment (9 heterogeneous workers) with all five algorithms.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/lag gen paper-linear --out build/data/paper-linear
build/lag train --data build/data/paper-linear --algo gd,lag-wk,lag-ps,cyc-iag,num-iag \
  --target-gap 1e-8 --out build/runs/paper-linear
