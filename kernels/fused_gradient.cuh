// Single-pass gradient of the binary-model losses on the device (plain C++ interface).
//
// For row-major X (rows x dim), targets y and parameters theta:
//   least squares: r_i = x_i.theta - y_i,  loss_i = r_i^2 / 2,               c_i = r_i
//   logistic:      z_i = y_i (x_i.theta),  loss_i = softplus(-z_i) (stable),  c_i = -y_i / (1 +
//   e^z_i) g = sum_i c_i x_i + lambda theta,  *out_loss = sum_i loss_i + lambda/2 ||theta||^2
// (pass lambda = 0 for least squares). The per-row arithmetic (dot and c_i in T, losses in
// double) is that of lag::cpu::accumulate_gradient; g and the loss are summed in a fixed order,
// so repeated calls give the same bits. Each row of X is read from device memory once for
// dim <= 512 (double) / 1024 (float), with 16-byte loads when x is 16-byte aligned and dim is a
// multiple of 16 / sizeof(T) (scalar loads otherwise); longer rows are re-read, from L2.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

enum class BinaryLoss : int { LeastSquares = 0, Logistic = 1 };

// Bytes of device workspace fused_gradient needs for this shape (8-byte aligned memory, e.g.
// straight from cudaMalloc). Depends only on rows and dim.
std::size_t fused_gradient_workspace_bytes(std::size_t rows, std::size_t dim, std::size_t sizeof_t);

// One worker's share of a batched launch (see fused_gradient_batch): its shard, its outputs and
// its workspace, laid out as fused_gradient lays them out.
template <class T>
struct FusedJob {
  const T* x;
  const T* y;
  std::size_t rows;
  T* g;
  double* out_loss;
  double* part;       // nb * dim partial gradients
  double* loss_part;  // nb partial losses
  std::size_t nb;     // blocks of this job
  // When set, the job runs only if *run_if != 0 at execution time (a flag the host or an earlier
  // kernel writes), so that one captured graph serves any selection of workers.
  const std::uint8_t* run_if;
};

// Workers per batched launch (the batch travels as a kernel parameter).
constexpr int kMaxFusedBatch = 16;

template <class T>
struct FusedBatch {
  FusedJob<T> job[kMaxFusedBatch];
  int count;
};

// The job of one worker (the same decomposition and workspace use as fused_gradient).
template <class T>
FusedJob<T> fused_gradient_job(const T* x, const T* y, std::size_t rows, std::size_t dim, T* g,
                               double* out_loss, void* workspace);

// fused_gradient for up to kMaxFusedBatch workers sharing dim, theta, lambda and the loss, in two
// launches instead of two per worker; each job's results are bit-identical to fused_gradient's.
template <class T>
[[nodiscard]] cudaError_t fused_gradient_batch(BinaryLoss loss, const FusedBatch<T>& batch,
                                               std::size_t dim, const T* theta, T lambda,
                                               cudaStream_t s);

// Writes g (dim values) and *out_loss (one double), all device memory; asynchronous on s.
// Returns cudaErrorInvalidValue for dim == 0 or a missing pointer (x and y may be null when
// rows == 0), else cudaGetLastError() after the launches. g may not alias x, y or theta.
template <class T>
[[nodiscard]] cudaError_t fused_gradient(BinaryLoss loss, const T* x, const T* y, std::size_t rows,
                                         std::size_t dim, const T* theta, T lambda, T* g,
                                         double* out_loss, void* workspace, cudaStream_t s);

}  // namespace lag::cuda
