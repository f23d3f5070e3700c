// The server's exchange on one device (see exchange.cuh).
#include "exchange.cuh"
#include "lag/trigger_rules.hpp"

namespace lag::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    decide_kernel(bool trigger, const double* tau, const std::uint8_t* selected,
                  const double* __restrict__ delta_norm2, int workers,
                  std::uint8_t* __restrict__ fire, std::uint8_t* fire_host) {
  const double t = *tau;
  for (int m = static_cast<int>(threadIdx.x); m < workers; m += kThreads) {
    const bool f = selected[m] != 0 && (!trigger || wk_fires(delta_norm2[m], t));
    fire[m] = f ? 1 : 0;
    fire_host[m] = f ? 1 : 0;
  }
}

__global__ void __launch_bounds__(kThreads)
    ps_select_kernel(const double* tau, const double* __restrict__ stale_distance2,
                     const double* __restrict__ smoothness, int workers,
                     std::uint8_t* __restrict__ select, std::uint8_t* select_host) {
  const double t = *tau;
  for (int m = static_cast<int>(threadIdx.x); m < workers; m += kThreads) {
    const bool f = ps_fires(smoothness[m], stale_distance2[m], t);
    select[m] = f ? 1 : 0;
    select_host[m] = f ? 1 : 0;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    commit_kernel(bool replace, WorkerVectors<T> v, const std::uint8_t* __restrict__ fire,
                  int workers, const T* __restrict__ theta, T* __restrict__ theta_hat,
                  T* __restrict__ aggregate, std::size_t n) {
  for (std::size_t j = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; j < n;
       j += static_cast<std::size_t>(gridDim.x) * kThreads) {
    T acc = replace ? T(0) : aggregate[j];
    const T th = theta[j];
    for (int m = 0; m < workers; ++m) {
      if (!fire[m]) continue;
      const T g = v.g[m][j];
      acc += replace ? g : v.delta[m][j];
      v.g_hat[m][j] = g;
      theta_hat[static_cast<std::size_t>(m) * n + j] = th;
    }
    aggregate[j] = acc;
  }
}

}  // namespace

cudaError_t exchange_decide(bool trigger, const double* tau, const std::uint8_t* selected,
                            const double* delta_norm2, int workers, std::uint8_t* fire,
                            std::uint8_t* fire_host, cudaStream_t s) {
  if (workers <= 0 || tau == nullptr || selected == nullptr || fire == nullptr ||
      fire_host == nullptr || (trigger && delta_norm2 == nullptr))
    return cudaErrorInvalidValue;
  decide_kernel<<<1, kThreads, 0, s>>>(trigger, tau, selected, delta_norm2, workers, fire,
                                       fire_host);
  return cudaGetLastError();
}

cudaError_t exchange_ps_select(const double* tau, const double* stale_distance2,
                               const double* smoothness, int workers, std::uint8_t* select,
                               std::uint8_t* select_host, cudaStream_t s) {
  if (workers <= 0 || tau == nullptr || stale_distance2 == nullptr || smoothness == nullptr ||
      select == nullptr || select_host == nullptr)
    return cudaErrorInvalidValue;
  ps_select_kernel<<<1, kThreads, 0, s>>>(tau, stale_distance2, smoothness, workers, select,
                                          select_host);
  return cudaGetLastError();
}

template <class T>
cudaError_t exchange_commit(bool replace, WorkerVectors<T> vectors, const std::uint8_t* fire,
                            int workers, const T* theta, T* theta_hat, T* aggregate, std::size_t n,
                            cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (workers <= 0 || fire == nullptr || theta == nullptr || theta_hat == nullptr ||
      aggregate == nullptr || vectors.g == nullptr || vectors.delta == nullptr ||
      vectors.g_hat == nullptr)
    return cudaErrorInvalidValue;
  std::size_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 4096) blocks = 4096;
  commit_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(
      replace, vectors, fire, workers, theta, theta_hat, aggregate, n);
  return cudaGetLastError();
}

template cudaError_t exchange_commit<float>(bool, WorkerVectors<float>, const std::uint8_t*, int,
                                            const float*, float*, float*, std::size_t,
                                            cudaStream_t);
template cudaError_t exchange_commit<double>(bool, WorkerVectors<double>, const std::uint8_t*, int,
                                             const double*, double*, double*, std::size_t,
                                             cudaStream_t);

}  // namespace lag::cuda
