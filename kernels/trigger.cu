// LAG trigger rules on the device (see trigger.cuh). One small block; workers are few.
#include "trigger.cuh"
#include "lag/trigger_rules.hpp"

namespace lag::cuda {

namespace {

constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads)
    wk_kernel(const double* __restrict__ delta_norm2, const std::uint8_t* __restrict__ selected,
              double tau, int workers, std::uint8_t* __restrict__ fire) {
  for (int m = static_cast<int>(threadIdx.x); m < workers; m += kThreads)
    fire[m] = (selected[m] != 0 && wk_fires(delta_norm2[m], tau)) ? 1 : 0;
}

__global__ void __launch_bounds__(kThreads)
    ps_kernel(const double* __restrict__ stale_distance2, const double* __restrict__ smoothness,
              double tau, int workers, std::uint8_t* __restrict__ select) {
  for (int m = static_cast<int>(threadIdx.x); m < workers; m += kThreads)
    select[m] = ps_fires(smoothness[m], stale_distance2[m], tau) ? 1 : 0;
}

}  // namespace

cudaError_t wk_trigger(const double* delta_norm2, const std::uint8_t* selected, double tau,
                       int workers, std::uint8_t* fire, cudaStream_t s) {
  if (workers < 0) return cudaErrorInvalidValue;
  if (workers == 0) return cudaSuccess;
  wk_kernel<<<1, kThreads, 0, s>>>(delta_norm2, selected, tau, workers, fire);
  return cudaGetLastError();
}

cudaError_t ps_select(const double* stale_distance2, const double* smoothness, double tau,
                      int workers, std::uint8_t* select, cudaStream_t s) {
  if (workers < 0) return cudaErrorInvalidValue;
  if (workers == 0) return cudaSuccess;
  ps_kernel<<<1, kThreads, 0, s>>>(stale_distance2, smoothness, tau, workers, select);
  return cudaGetLastError();
}

}  // namespace lag::cuda
