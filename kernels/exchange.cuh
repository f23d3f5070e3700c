// The server's half of an iteration on one device, with every per-iteration input read from
// and every output written to host-mapped memory, so that a CUDA graph of these launches can be
// replayed unchanged each iteration (plain C++ interface). Together they do what
// CudaCluster::trigger, upload and step do with several launches and host round trips each:
//
//   decide:  fire[m] = trigger ? selected[m] && delta_norm2[m] > *tau : selected[m]
//            (the comparison of lag::wk_fires, in double), copied to fire_host as well
//   commit:  aggregate[j] (0 when `replace`) += v_m[j] for every firing m in worker order
//            (v_m = g_m when `replace`, else delta_m: the same additions, in the same order, as
//            one axpy per sender), and for those m: g_hat_m[j] = g_m[j],
//            theta_hat_m[j] = theta[j] (theta^k, before the step)
//   step:    reduce.cuh's step_and_norm, whose output pointer may be host-mapped.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

// Device pointers of the M workers' vectors (each array of M pointers lives in device memory).
template <class T>
struct WorkerVectors {
  const T* const* g;
  const T* const* delta;
  T* const* g_hat;
};

[[nodiscard]] cudaError_t exchange_decide(bool trigger, const double* tau,
                                          const std::uint8_t* selected, const double* delta_norm2,
                                          int workers, std::uint8_t* fire, std::uint8_t* fire_host,
                                          cudaStream_t s);

// LAG-PS, the server's rule with tau read at execution time: select[m] = (L_m * L_m) * d2_m >
// *tau (lag::ps_fires), copied to select_host as well.
[[nodiscard]] cudaError_t exchange_ps_select(const double* tau, const double* stale_distance2,
                                             const double* smoothness, int workers,
                                             std::uint8_t* select, std::uint8_t* select_host,
                                             cudaStream_t s);

template <class T>
[[nodiscard]] cudaError_t exchange_commit(bool replace, WorkerVectors<T> vectors,
                                          const std::uint8_t* fire, int workers, const T* theta,
                                          T* theta_hat, T* aggregate, std::size_t n,
                                          cudaStream_t s);

}  // namespace lag::cuda
