#!/usr/bin/env bash
# Install the Debian packages the build needs, only those that are missing.
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config ccache
          libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libopenblas-dev
          libgtest-dev libbenchmark-dev dataset-fashion-mnist zlib1g-dev
          openmpi-bin libopenmpi-dev
          strace  # tests/mpi: which files each rank opens
          clang  # scripts/fuzz.sh: libFuzzer harnesses under ASan+UBSan
          python3-matplotlib python3-numpy)  # plots: scripts/bytes-saved.sh, paper-figures.sh

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
