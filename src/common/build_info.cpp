#include "lag/build_info.hpp"

namespace lag {

BuildInfo build_info() {
  BuildInfo b;
  b.version = LAG_VERSION;
  b.precisions = {"fp32", "fp64"};
#ifdef LAG_HAVE_CUDA
  b.cuda = true;
  b.cuda_version = LAG_CUDA_VERSION;
#endif
#ifdef LAG_HAVE_NCCL
  b.nccl = true;
#endif
#ifdef LAG_HAVE_MPI
  b.mpi = true;
#endif
#if defined(__AVX2__) && defined(__FMA__)
  b.cpu_arch = "x86-64 AVX2+FMA";
#elif defined(__x86_64__)
  b.cpu_arch = "x86-64 (no AVX2)";
#else
  b.cpu_arch = "generic";
#endif
  return b;
}

}  // namespace lag
