#include <string>

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
    // No driver at all (a build machine) is not the same as a driver too old for this runtime
    // (a GPU machine that needs attention): say which.
    int driver = -1;
    const bool no_driver = e == cudaErrorInsufficientDriver &&
                           cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0;
    if (why_none)
      *why_none = no_driver ? std::string("no CUDA driver installed")
                            : std::string(cudaGetErrorString(e)) + " (driver supports CUDA " +
                                  std::to_string(driver) + ", runtime " +
                                  std::to_string(CUDART_VERSION) + ")";
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
