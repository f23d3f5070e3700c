// Deterministic two-stage reductions (see reduce.cuh).
//
// Stage 1: nb = clamp(ceil(n / kMinPerBlock), 1, kMaxBlocks) blocks -- a function of n only --
// block b owns the contiguous range [n b / nb, n (b+1) / nb); thread t adds elements
// begin+t, begin+t+256, ... in that order (double), then the block sums its 256 values in a
// fixed tree (shared memory halving down to 32, then a fixed shfl_down ladder) into
// workspace[b]. Stage 2: one block sums workspace[0..nb) the same way. With nb == 1 stage 1
// writes straight to *out and stage 2 is skipped (again a function of n only).
#include <cstdint>

#include "block_sum.cuh"
#include "reduce.cuh"

namespace lag::cuda {

namespace {

constexpr int kThreads = 256;
constexpr std::size_t kMaxBlocks = 256;
constexpr std::size_t kMinPerBlock = 2048;

std::size_t block_count(std::size_t n) {
  std::size_t nb = (n + kMinPerBlock - 1) / kMinPerBlock;
  if (nb < 1) nb = 1;
  if (nb > kMaxBlocks) nb = kMaxBlocks;
  return nb;
}

// Block b of nb sums op over its range into *out (stage 1).
template <class Op>
__device__ __forceinline__ void partial_sum(const Op& op, std::size_t n, std::size_t nb,
                                            std::size_t b, double* out) {
  const std::size_t begin = n * b / nb;
  const std::size_t end = n * (b + 1) / nb;
  double acc = 0;
  for (std::size_t i = begin + threadIdx.x; i < end; i += kThreads) acc += op(i);
  const double r = block_sum<kThreads>(acc);
  if (threadIdx.x == 0) *out = r;
}

// One block sums partial[0..nb) into *out (stage 2).
__device__ __forceinline__ void final_sum(const double* partial, std::size_t nb, double* out) {
  double acc = 0;
  for (std::size_t i = threadIdx.x; i < nb; i += kThreads) acc += partial[i];
  const double r = block_sum<kThreads>(acc);
  if (threadIdx.x == 0) *out = r;
}

template <class Op>
__global__ void __launch_bounds__(kThreads)
    partial_kernel(Op op, std::size_t n, double* __restrict__ partial) {
  partial_sum(op, n, gridDim.x, blockIdx.x, partial + blockIdx.x);
}

__global__ void __launch_bounds__(kThreads)
    final_kernel(const double* __restrict__ partial, std::size_t nb, double* __restrict__ out) {
  final_sum(partial, nb, out);
}

template <class T>
struct NormOp {
  const T* a;
  __device__ double operator()(std::size_t i) const {
    const double v = static_cast<double>(a[i]);
    return v * v;
  }
};

template <class T>
struct DistanceOp {
  const T* a;
  const T* b;
  __device__ double operator()(std::size_t i) const {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    return d * d;
  }
};

template <class T>
struct DeltaOp {
  const T* g;
  const T* g_hat;
  T* delta;
  __device__ double operator()(std::size_t i) const {
    const T d = g[i] - g_hat[i];
    delta[i] = d;
    const double v = static_cast<double>(d);
    return v * v;
  }
};

template <class T>
struct StepOp {
  T* theta;
  const T* aggregate;
  T step;
  __device__ double operator()(std::size_t i) const {
    const T old = theta[i];
    const T next = old - step * aggregate[i];  // contracted to fma(-step, aggregate, old)
    theta[i] = next;
    const double d = static_cast<double>(next) - static_cast<double>(old);
    return d * d;
  }
};

// Batched delta_and_norm: blockIdx.y is the job; stage 1 writes straight to the job's output
// when there is one block per job (as reduce() does).
template <class T>
__global__ void __launch_bounds__(kThreads)
    delta_partial_batch_kernel(const __grid_constant__ DeltaBatch<T> batch, std::size_t n) {
  const auto& job = batch.job[blockIdx.y];
  if (job.run_if && *job.run_if == 0) return;  // the whole block
  const DeltaOp<T> op{job.g, job.g_hat, job.delta};
  partial_sum(op, n, gridDim.x, blockIdx.x,
              gridDim.x == 1 ? job.out_norm2 : job.workspace + blockIdx.x);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    delta_final_batch_kernel(const __grid_constant__ DeltaBatch<T> batch, std::size_t nb) {
  const auto& job = batch.job[blockIdx.y];
  if (job.run_if && *job.run_if == 0) return;  // the whole block
  final_sum(job.workspace, nb, job.out_norm2);
}

// Batched distance2 over the rows of a matrix: blockIdx.y is the row.
template <class T>
__global__ void __launch_bounds__(kThreads)
    distance_rows_partial_kernel(const T* rows, const T* b, std::size_t n, double* out,
                                 double* workspace) {
  const std::size_t m = blockIdx.y;
  const DistanceOp<T> op{rows + m * n, b};
  partial_sum(op, n, gridDim.x, blockIdx.x,
              gridDim.x == 1 ? out + m : workspace + m * kMaxBlocks + blockIdx.x);
}

__global__ void __launch_bounds__(kThreads)
    rows_final_kernel(const double* workspace, std::size_t nb, double* out) {
  final_sum(workspace + blockIdx.y * kMaxBlocks, nb, out + blockIdx.y);
}

struct SumOp {
  const double* v;
  __device__ double operator()(std::size_t i) const { return v[i]; }
};

template <class Op>
cudaError_t reduce(const Op& op, std::size_t n, double* out, double* workspace, cudaStream_t s) {
  if (out == nullptr) return cudaErrorInvalidValue;
  const std::size_t nb = block_count(n);
  if (nb == 1) {
    partial_kernel<Op><<<1, kThreads, 0, s>>>(op, n, out);
    return cudaGetLastError();
  }
  if (workspace == nullptr) return cudaErrorInvalidValue;
  partial_kernel<Op><<<static_cast<unsigned>(nb), kThreads, 0, s>>>(op, n, workspace);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  final_kernel<<<1, kThreads, 0, s>>>(workspace, nb, out);
  return cudaGetLastError();
}

}  // namespace

std::size_t reduce_workspace_doubles() { return kMaxBlocks; }

template <class T>
cudaError_t squared_norm(const T* a, std::size_t n, double* out, double* workspace,
                         cudaStream_t s) {
  return reduce(NormOp<T>{a}, n, out, workspace, s);
}

template <class T>
cudaError_t distance2(const T* a, const T* b, std::size_t n, double* out, double* workspace,
                      cudaStream_t s) {
  return reduce(DistanceOp<T>{a, b}, n, out, workspace, s);
}

template <class T>
cudaError_t delta_and_norm(const T* g, const T* g_hat, T* delta, std::size_t n, double* out_norm2,
                           double* workspace, cudaStream_t s) {
  return reduce(DeltaOp<T>{g, g_hat, delta}, n, out_norm2, workspace, s);
}

template <class T>
cudaError_t distance2_rows(const T* rows, const T* b, std::size_t n, int count, double* out,
                           double* workspace, cudaStream_t s) {
  if (count < 0 || (count > 0 && (rows == nullptr || b == nullptr || out == nullptr)))
    return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  const std::size_t nb = block_count(n);
  if (nb > 1 && workspace == nullptr) return cudaErrorInvalidValue;
  constexpr int kMaxGridY = 65535;  // rows per launch
  for (int first = 0; first < count; first += kMaxGridY) {
    const auto jobs = static_cast<unsigned>(count - first < kMaxGridY ? count - first : kMaxGridY);
    const std::size_t r = static_cast<std::size_t>(first);
    double* ws = workspace ? workspace + r * kMaxBlocks : nullptr;
    distance_rows_partial_kernel<T><<<dim3(static_cast<unsigned>(nb), jobs), kThreads, 0, s>>>(
        rows + r * n, b, n, out + r, ws);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
    if (nb == 1) continue;
    rows_final_kernel<<<dim3(1, jobs), kThreads, 0, s>>>(ws, nb, out + r);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <class T>
cudaError_t delta_and_norm_batch(const DeltaBatch<T>& batch, std::size_t n, cudaStream_t s) {
  if (batch.count < 0 || batch.count > kMaxDeltaBatch) return cudaErrorInvalidValue;
  if (batch.count == 0) return cudaSuccess;
  const std::size_t nb = block_count(n);
  for (int i = 0; i < batch.count; ++i) {
    const auto& j = batch.job[i];
    if (j.out_norm2 == nullptr || (nb > 1 && j.workspace == nullptr)) return cudaErrorInvalidValue;
  }
  const auto jobs = static_cast<unsigned>(batch.count);
  delta_partial_batch_kernel<T>
      <<<dim3(static_cast<unsigned>(nb), jobs), kThreads, 0, s>>>(batch, n);
  if (nb == 1) return cudaGetLastError();
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  delta_final_batch_kernel<T><<<dim3(1, jobs), kThreads, 0, s>>>(batch, nb);
  return cudaGetLastError();
}

template <class T>
cudaError_t step_and_norm(T* theta, const T* aggregate, double step_size, std::size_t n,
                          double* out_change2, double* workspace, cudaStream_t s) {
  return reduce(StepOp<T>{theta, aggregate, static_cast<T>(step_size)}, n, out_change2, workspace,
                s);
}

cudaError_t sum_doubles(const double* values, std::size_t n, double* out, double* workspace,
                        cudaStream_t s) {
  return reduce(SumOp{values}, n, out, workspace, s);
}

#define LAG_INSTANTIATE(T)                                                                       \
  template cudaError_t squared_norm<T>(const T*, std::size_t, double*, double*, cudaStream_t);   \
  template cudaError_t distance2<T>(const T*, const T*, std::size_t, double*, double*,           \
                                    cudaStream_t);                                               \
  template cudaError_t delta_and_norm<T>(const T*, const T*, T*, std::size_t, double*, double*,  \
                                         cudaStream_t);                                          \
  template cudaError_t step_and_norm<T>(T*, const T*, double, std::size_t, double*, double*,     \
                                        cudaStream_t);                                           \
  template cudaError_t delta_and_norm_batch<T>(const DeltaBatch<T>&, std::size_t, cudaStream_t); \
  template cudaError_t distance2_rows<T>(const T*, const T*, std::size_t, int, double*, double*, \
                                         cudaStream_t);
LAG_INSTANTIATE(float)
LAG_INSTANTIATE(double)
#undef LAG_INSTANTIATE

}  // namespace lag::cuda
