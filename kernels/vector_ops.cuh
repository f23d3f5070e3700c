// Device vector kernels and their host launchers (plain C++ interface, so host code that calls
// them is compiled by the host compiler, not nvcc).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace lag::cuda {

// Runs y = a*x + y on `device` for a small vector and checks the result on the host: proves the
// device can run this binary's kernels. Returns false with `why` set on any CUDA error.
[[nodiscard]] bool axpy_self_test(int device, std::string* why);

// y[i] += a * x[i] for i < n (device memory; asynchronous on s; returns cudaGetLastError()).
template <class T>
[[nodiscard]] cudaError_t axpy(T a, const T* x, T* y, std::size_t n, cudaStream_t s);

// g[i] += lambda * theta[i] for i < n (the regulariser's gradient; same arithmetic as the CPU
// backend's `g[j] += lambda * theta[j]`).
template <class T>
[[nodiscard]] cudaError_t scale_add_lambda(T* g, const T* theta, T lambda, std::size_t n,
                                           cudaStream_t s);

// A minibatch's sums scaled to estimate the shard's: g[i] *= T(scale) for i < n and
// *loss *= scale (device memory; the CPU backend's `g[k] *= s; loss *= scale`, before the
// regulariser is added).
template <class T>
[[nodiscard]] cudaError_t scale_gradient_and_loss(T* g, std::size_t n, double scale, double* loss,
                                                  cudaStream_t s);

}  // namespace lag::cuda
