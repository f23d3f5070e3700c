#!/usr/bin/env bash
# Gather what a machine with a GPU (CUDA toolkit and PyTorch, but none of the Debian libraries
# built against here) needs to run the GPU checks: the binaries of build/ and the non-system
# shared libraries they load (OpenBLAS, toml++, ...) into gpu-carry/ (bin/, lib/), and Open MPI
# for the checks across ranks (openmpi/, see below). The CUDA libraries (cudart, cuBLAS, NCCL)
# are taken from that machine. Then run
#   scripts/gpu-check.sh OUTDIR      (on the machine with the GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
#   scripts/prepare-gpu-carry.sh [BUILD_DIR [OUT_DIR]]    (defaults: build, gpu-carry)
build=${1:-build}
out=${2:-gpu-carry}
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
bins=("$build/lag")
for b in "$build"/tests/gpu/test_gpu_* "$build"/tests/mpi/gpu/test_mpi_gpu "$build"/bench/gpu/bench_gpu_*; do
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

# Open MPI 4.1 (that machine has none), relocatable with scripts/openmpi-env.sh: mpirun (orterun)
# and orted, the MCA plugins a job on one machine uses (not those for fabrics it lacks, UCX, OFI,
# PSM, verbs, nor OpenSHMEM's), the help texts, and PMIx, a library of its own in Debian with
# plugins and help texts of its own. No links (the carry travels as plain files), and packed as
# openmpi.tar.gz (2 MB instead of 7: the whole carry must stay under 60 MB); gpu-check.sh
# unpacks it.
if command -v orterun > /dev/null 2>&1 && command -v ompi_info > /dev/null 2>&1; then
  ompi=$out/openmpi
  mkdir -p "$ompi/bin" "$ompi/lib/openmpi3" "$ompi/share" "$ompi/etc" "$ompi/pmix/lib" \
    "$ompi/pmix/share"
  ompi_path() { ompi_info --parsable --path "$1" | sed -n "s|^path:$1:||p"; }
  cp "$(readlink -f "$(command -v orterun)")" "$ompi/bin/mpirun"
  cp "$(readlink -f "$(command -v orted)")" "$ompi/bin/orted"
  plugins=$(ompi_path pkglibdir)
  for p in "$plugins"/*.so; do
    # A plugin whose libraries are missing there would only print load errors.
    if ldd "$p" | grep -qE 'libuc[mpst]|libfabric|libpsm|libibverbs|librdmacm|liboshmem|libnl-'; then
      continue
    fi
    cp "$p" "$ompi/lib/openmpi3/"
  done
  cp -r "$(ompi_path pkgdatadir)" "$ompi/share/"
  rm -f "$ompi"/share/openmpi/*wrapper-data.txt
  pmix_lib=$(ldd "$plugins"/mca_pmix_*.so | awk '/libpmix/ {print $3; exit}')
  if [ -n "$pmix_lib" ]; then
    pmix_root=$(dirname "$(dirname "$(readlink -f "$pmix_lib")")")
    cp -L "$pmix_lib" "$ompi/lib/"
    ldd "$pmix_lib" | awk '/libmunge/ {print $3}' | xargs -r -I{} cp -L {} "$ompi/lib/"
    [ -d "$pmix_root/lib/pmix" ] && cp -r "$pmix_root/lib/pmix" "$ompi/pmix/lib/"
    [ -d "$pmix_root/share/pmix" ] && cp -r "$pmix_root/share/pmix" "$ompi/pmix/share/"
  fi
  # The parameters of a one-machine job: the ranks talk through shared memory (or TCP), and
  # shared memory copies without cross-process memory access, which containers often forbid.
  cat > "$ompi/etc/openmpi-mca-params.conf" << 'CONF'
btl_base_warn_component_unused = 0
pml = ob1
btl = self,vader,tcp
btl_vader_single_copy_mechanism = none
CONF
  tar -C "$out" -czf "$out/openmpi.tar.gz" openmpi
  rm -rf "$ompi"
else
  echo "no Open MPI here (orterun, ompi_info): the checks across ranks will be skipped" >&2
fi
du -sh "$out"
