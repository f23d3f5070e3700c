#include "lag/build_info.hpp"

#ifdef LAG_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "vector_ops.cuh"
#endif

namespace lag {

std::vector<DeviceInfo> cuda_devices(std::string* why_none, bool self_test) {
  std::vector<DeviceInfo> out;
#ifdef LAG_HAVE_CUDA
  int count = 0;  // left unwritten by cudaGetDeviceCount when there is no driver
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (why_none) *why_none = cudaGetErrorString(e);
    return out;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.memory_gib = static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
    d.compute_major = p.major;
    d.compute_minor = p.minor;
    std::string why;
    if (self_test && !cuda::axpy_self_test(i, &why)) d.name += " (cannot run kernels: " + why + ")";
    out.push_back(d);
  }
  if (out.empty() && why_none) *why_none = "no CUDA device visible";
#else
  (void)self_test;
  if (why_none) *why_none = "built without CUDA";
#endif
  return out;
}

}  // namespace lag
