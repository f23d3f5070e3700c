// Deterministic device reductions (plain C++ interface: includable from host code compiled by
// g++). Every launcher is asynchronous on `s`, writes its result to device memory and returns
// cudaGetLastError() after its launches.
//
// Determinism: the launch shape depends only on n (never on the device), every block reduces a
// fixed contiguous range in a fixed order into workspace[b], and one block then sums the
// workspace in a fixed tree order; all sums accumulate in double. The same inputs on the same
// GPU model give the same bits on every run.
//
// `workspace` must hold reduce_workspace_doubles() doubles of device memory; launches that share
// one workspace must be ordered (same stream). `out` may not alias the workspace.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

// Doubles of workspace every launcher below needs (a fixed number).
std::size_t reduce_workspace_doubles();

// *out = sum_j a[j]^2.
template <class T>
[[nodiscard]] cudaError_t squared_norm(const T* a, std::size_t n, double* out, double* workspace,
                                       cudaStream_t s);

// *out = sum_j (a[j] - b[j])^2, the difference taken in double.
template <class T>
[[nodiscard]] cudaError_t distance2(const T* a, const T* b, std::size_t n, double* out,
                                    double* workspace, cudaStream_t s);

// out[m] = distance2(rows + m n, b, n) for m < count, with the same bits, in one or two launches;
// `workspace` holds count * reduce_workspace_doubles() doubles.
template <class T>
[[nodiscard]] cudaError_t distance2_rows(const T* rows, const T* b, std::size_t n, int count,
                                         double* out, double* workspace, cudaStream_t s);

// delta[j] = g[j] - g_hat[j] (in T), *out_norm2 = sum_j delta[j]^2 of the stored delta.
template <class T>
[[nodiscard]] cudaError_t delta_and_norm(const T* g, const T* g_hat, T* delta, std::size_t n,
                                         double* out_norm2, double* workspace, cudaStream_t s);

// delta_and_norm for several workers in one or two launches (instead of one or two each): job i
// writes delta[i] and *out_norm2[i] with the same bits as delta_and_norm, using its own
// workspace[i] (reduce_workspace_doubles() each).
constexpr int kMaxDeltaBatch = 16;
template <class T>
struct DeltaBatch {
  struct Job {
    const T* g;
    const T* g_hat;
    T* delta;
    double* out_norm2;
    double* workspace;
    const std::uint8_t* run_if;  // when set, the job runs only if *run_if != 0
  } job[kMaxDeltaBatch];
  int count;
};
template <class T>
[[nodiscard]] cudaError_t delta_and_norm_batch(const DeltaBatch<T>& batch, std::size_t n,
                                               cudaStream_t s);

// theta[j] <- theta[j] - T(step_size) * aggregate[j] (in T; nvcc contracts this into one fma,
// as g++ does for the CPU backend with -march=x86-64-v3), and
// *out_change2 = sum_j (double(new theta[j]) - double(old theta[j]))^2.
template <class T>
[[nodiscard]] cudaError_t step_and_norm(T* theta, const T* aggregate, double step_size,
                                        std::size_t n, double* out_change2, double* workspace,
                                        cudaStream_t s);

// *out = sum_j values[j].
[[nodiscard]] cudaError_t sum_doubles(const double* values, std::size_t n, double* out,
                                      double* workspace, cudaStream_t s);

}  // namespace lag::cuda
