#!/usr/bin/env bash
# Gather what a machine with a GPU (CUDA toolkit and PyTorch, but none of the Debian libraries
# built against here) needs to run the GPU checks: the binaries of build/ and the non-system
# shared libraries they load (OpenBLAS, toml++, ...) into gpu-carry/ (bin/, lib/, scripts/).
# The CUDA libraries (cudart, cuBLAS, NCCL) are taken from that machine. Then run
#   scripts/gpu-check.sh OUTDIR      (on the machine with the GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=gpu-carry
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
bins=("$build/lag")
for b in "$build"/tests/gpu/test_gpu_* "$build"/bench/gpu/bench_gpu_*; do
  [ -x "$b" ] && bins+=("$b")
done
for b in "${bins[@]}"; do
  cp "$b" "$out/bin/"
  strip --strip-unneeded "$out/bin/$(basename "$b")" 2>/dev/null || true
done
# Shared libraries outside the C library and the CUDA toolkit travel along.
for b in "${bins[@]}"; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libgcc_s.so*|ld-linux*) ;;
    libcuda*|libcudart*|libcublas*|libnccl*|libnvidia*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
du -sh "$out"
