// Single-pass least-squares / logistic gradient (see fused_gradient.cuh).
//
// Decomposition (a function of rows and dim only, never of the device):
//   nb = clamp(ceil(rows*dim / 32768), 1, min(3168, ceil(rows / 32))) blocks of 256 threads;
//   block b owns rows [rows b / nb, rows (b+1) / nb) and writes its partial gradient (dim
//   doubles) and partial loss to the workspace; then finalize_kernel sums the nb partials of
//   each column in a fixed order, adds lambda theta and writes g, and one extra block sums the
//   partial losses. 3168 = 24 x 132 makes the grid a whole number of waves on a 132-SM H100/H200
//   at 1-4 resident blocks per SM; it is a constant, so results do not depend on the GPU.
//
// Fast path (fused_fast_kernel, dim <= G*V*K): a group of G lanes (a warp, or a quarter warp
// for short rows) processes R rows at a time. Lane l owns the vectors of V elements at vector
// index l + G k (k < K): columns (l + G k) V .. +V-1. It keeps its partial g for those columns
// in registers (theta, read-only, sits in shared memory), loads its slice of R rows into
// registers with V-wide streaming loads (16 bytes when x is aligned), forms the dot products (fixed
// order per lane, then an xor butterfly, which gives every lane the same bits), computes c_i and
// adds c_i x_i from the same registers: each row of X is read from DRAM exactly once. R is chosen
// so the row registers stay at 128 bytes per lane (R rows in flight per group, independent shuffle
// chains). At the end the groups' partial g are summed in a fixed halving tree through shared
// memory (in double).
//
// General path (fused_general_kernel, larger dim): each warp computes one row's dot product,
// c_i goes to shared memory, then the block's threads add c_i x_i for 8 rows at a time to the
// block's partial g in the workspace, column by column (the rows are re-read, from L2).
#include <cstdint>

#include "block_sum.cuh"
#include "fused_gradient.cuh"
#include "lag/softplus.hpp"

namespace lag::cuda {

namespace {

constexpr int kBlock = 256;
constexpr std::size_t kMaxBlocks = 3168;
constexpr std::size_t kElemsPerBlock = 32768;
constexpr std::size_t kMinRowsPerBlock = 32;
constexpr unsigned kFull = 0xffffffffu;

std::size_t grid_blocks(std::size_t rows, std::size_t dim) {
  std::size_t nb = (rows * dim + kElemsPerBlock - 1) / kElemsPerBlock;
  const std::size_t row_cap = (rows + kMinRowsPerBlock - 1) / kMinRowsPerBlock;
  if (nb > row_cap) nb = row_cap;
  if (nb > kMaxBlocks) nb = kMaxBlocks;
  if (nb < 1) nb = 1;
  return nb;
}

__device__ __forceinline__ float exp_t(float v) { return expf(v); }
__device__ __forceinline__ double exp_t(double v) { return exp(v); }

// c_i and loss_i for one row from its dot product (the arithmetic of accumulate_gradient).
template <class T>
__device__ __forceinline__ T coefficient(int loss_kind, T dot, T yi, double& loss) {
  if (loss_kind == 0) {
    const T r = dot - yi;
    loss += 0.5 * static_cast<double>(r) * static_cast<double>(r);
    return r;
  }
  const T z = yi * dot;
  loss += softplus(-static_cast<double>(z));
  return -yi / (T(1) + exp_t(z));
}

// V consecutive elements at p (16-byte aligned when V > 1), streaming (read once) loads.
template <class T, int V>
__device__ __forceinline__ void load_row_vec(const T* p, T (&out)[V]) {
  if constexpr (V == 1) {
    out[0] = __ldcs(p);
  } else if constexpr (sizeof(T) == 8) {
    static_assert(V == 2, "double rows load as double2");
    const double2 t = __ldcs(reinterpret_cast<const double2*>(p));
    out[0] = t.x;
    out[1] = t.y;
  } else {
    static_assert(V == 4, "float rows load as float4");
    const float4 t = __ldcs(reinterpret_cast<const float4*>(p));
    out[0] = t.x;
    out[1] = t.y;
    out[2] = t.z;
    out[3] = t.w;
  }
}

// V consecutive elements of shared memory at p (16-byte aligned when V > 1).
template <class T, int V>
__device__ __forceinline__ void load_shared_vec(const T* p, T (&out)[V]) {
  if constexpr (V == 1) {
    out[0] = *p;
  } else if constexpr (sizeof(T) == 8) {
    const double2 t = *reinterpret_cast<const double2*>(p);
    out[0] = t.x;
    out[1] = t.y;
  } else {
    const float4 t = *reinterpret_cast<const float4*>(p);
    out[0] = t.x;
    out[1] = t.y;
    out[2] = t.z;
    out[3] = t.w;
  }
}

// Rows per group iteration: keep R * V * K * sizeof(T) at 128 bytes of registers per lane.
template <class T>
constexpr int rows_per_iteration(int elems_per_lane) {
  const int bytes = elems_per_lane * static_cast<int>(sizeof(T));
  return bytes <= 32 ? 4 : bytes <= 64 ? 2 : 1;
}

// A job whose run_if flag is 0 does nothing (see FusedJob).
template <class T>
__device__ __forceinline__ bool flagged_off(const FusedJob<T>& job) {
  return job.run_if != nullptr && *job.run_if == 0;
}

// Every kernel below serves a batch: blockIdx.y picks the job, blocks past the job's own grid
// (jobs with fewer rows) leave at once, and blockIdx.x is the block of the job's decomposition.
template <class T, int G, int V, int K, int R>
__global__ void __launch_bounds__(kBlock, 2)
    fused_fast_kernel(int loss_kind, const __grid_constant__ FusedBatch<T> batch, std::size_t dim,
                      const T* __restrict__ theta) {
  static_assert(G == 8 || G == 16 || G == 32, "groups are whole sub-warps");
  const FusedJob<T>& job = batch.job[blockIdx.y];
  const std::size_t nb = job.nb;
  const std::size_t b = blockIdx.x;
  if (b >= nb || flagged_off(job)) return;  // the whole block
  const T* __restrict__ x = job.x;
  const T* __restrict__ y = job.y;
  const std::size_t rows = job.rows;
  double* __restrict__ part = job.part;
  double* __restrict__ loss_part = job.loss_part;
  constexpr int kGroups = kBlock / G;
  constexpr int kSpan = G * V * K;  // columns covered by one group
  __shared__ double red[kGroups / 2][kSpan];
  __shared__ double lred[kGroups];

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % G;
  const int grp = tid / G;
  const std::size_t r_begin = rows * b / nb;
  const std::size_t r_end = rows * (b + 1) / nb;

  // theta, zero-padded to the group's span, in shared memory (registers are kept for the rows
  // and the partial g; a warp's read of its slice is contiguous or a broadcast).
  __shared__ __align__(16) T th[kSpan];
  for (int j = tid; j < kSpan; j += kBlock)
    th[j] = static_cast<std::size_t>(j) < dim ? theta[j] : T(0);
  // Column of element (k, v) of this lane: (k G + lane) V + v. With V > 1, dim % V == 0, so a
  // vector is either wholly inside the row or wholly outside.
  T acc[K][V];
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int v = 0; v < V; ++v) acc[k][v] = T(0);
  __syncthreads();  // th is complete

  double loss_acc = 0;
  constexpr std::size_t kStep = static_cast<std::size_t>(kGroups) * R;
  // rr is the same for the whole block, so every lane of a warp runs the same iterations (the
  // shuffles below need the full warp); rows past r_end are masked.
  for (std::size_t rr = r_begin; rr < r_end; rr += kStep) {
    const std::size_t r0 = rr + static_cast<std::size_t>(grp) * R;
    T xv[R][K][V];
    T yv[R];
#pragma unroll
    for (int q = 0; q < R; ++q) {
      const std::size_t row = r0 + q;
      const bool valid = row < r_end;
      yv[q] = valid ? y[row] : T(0);
#pragma unroll
      for (int k = 0; k < K; ++k) {
        const std::size_t base = static_cast<std::size_t>(k * G + lane) * V;
        if (valid && base < dim) {
          load_row_vec<T, V>(x + row * dim + base, xv[q][k]);
        } else {
#pragma unroll
          for (int v = 0; v < V; ++v) xv[q][k][v] = T(0);
        }
      }
    }
    T dot[R];
#pragma unroll
    for (int q = 0; q < R; ++q) {
      T sum = T(0);
#pragma unroll
      for (int k = 0; k < K; ++k) {
        T t[V];
        load_shared_vec<T, V>(th + (k * G + lane) * V, t);
#pragma unroll
        for (int v = 0; v < V; ++v) sum += xv[q][k][v] * t[v];
      }
      dot[q] = sum;
    }
#pragma unroll
    for (int off = G / 2; off > 0; off >>= 1)
#pragma unroll
      for (int q = 0; q < R; ++q) dot[q] += __shfl_xor_sync(kFull, dot[q], off, G);
#pragma unroll
    for (int q = 0; q < R; ++q) {
      if (r0 + q < r_end) {  // the same for the whole group
        const T c = coefficient(loss_kind, dot[q], yv[q], loss_acc);
#pragma unroll
        for (int k = 0; k < K; ++k)
#pragma unroll
          for (int v = 0; v < V; ++v) acc[k][v] += c * xv[q][k][v];
      }
    }
  }

  // Sum the groups' partials: group grp < half adds group grp + half, half = kGroups/2 .. 1.
  double tot[K][V];
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int v = 0; v < V; ++v) tot[k][v] = static_cast<double>(acc[k][v]);
  if (lane == 0) lred[grp] = loss_acc;  // every lane holds the same loss_acc
#pragma unroll
  for (int half = kGroups / 2; half >= 1; half >>= 1) {
    if (grp >= half && grp < 2 * half) {
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int v = 0; v < V; ++v) red[grp - half][(k * G + lane) * V + v] = tot[k][v];
    }
    __syncthreads();
    if (grp < half) {
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int v = 0; v < V; ++v) tot[k][v] += red[grp][(k * G + lane) * V + v];
    }
    __syncthreads();
  }
  if (grp == 0) {
    double* out = part + b * dim;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const std::size_t base = static_cast<std::size_t>(k * G + lane) * V;
      if (base < dim) {
#pragma unroll
        for (int v = 0; v < V; ++v) out[base + v] = tot[k][v];
      }
    }
  }
  if (tid == 0) {
    double sum = 0;
    for (int i = 0; i < kGroups; ++i) sum += lred[i];
    loss_part[b] = sum;
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    fused_general_kernel(int loss_kind, const __grid_constant__ FusedBatch<T> batch,
                         std::size_t dim, const T* __restrict__ theta) {
  const FusedJob<T>& job = batch.job[blockIdx.y];
  const std::size_t nb = job.nb;
  const std::size_t b = blockIdx.x;
  if (b >= nb || flagged_off(job)) return;  // the whole block
  const T* __restrict__ x = job.x;
  const T* __restrict__ y = job.y;
  const std::size_t rows = job.rows;
  double* __restrict__ part = job.part;
  double* __restrict__ loss_part = job.loss_part;
  constexpr int kWarps = kBlock / 32;
  __shared__ T cs[kWarps];
  __shared__ double lred[kWarps];
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % 32;
  const int warp = tid / 32;
  const std::size_t r_begin = rows * b / nb;
  const std::size_t r_end = rows * (b + 1) / nb;
  double* __restrict__ pb = part + b * dim;

  // Column col of pb belongs to thread col % kBlock for the whole kernel.
  for (std::size_t col = tid; col < dim; col += kBlock) pb[col] = 0;
  double loss_acc = 0;
  for (std::size_t r0 = r_begin; r0 < r_end; r0 += kWarps) {  // the same for the whole block
    const std::size_t row = r0 + warp;
    T c = T(0);
    if (row < r_end) {  // the same for the whole warp
      const T* xr = x + row * dim;
      T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0);
      std::size_t j = lane;
      for (; j + 96 < dim; j += 128) {
        s0 += xr[j] * theta[j];
        s1 += xr[j + 32] * theta[j + 32];
        s2 += xr[j + 64] * theta[j + 64];
        s3 += xr[j + 96] * theta[j + 96];
      }
      for (; j < dim; j += 32) s0 += xr[j] * theta[j];
      T dot = (s0 + s1) + (s2 + s3);
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(kFull, dot, off);
      c = coefficient(loss_kind, dot, y[row], loss_acc);
    }
    if (lane == 0) cs[warp] = c;
    __syncthreads();
    const std::size_t left = r_end - r0;
    const int nrows = left < static_cast<std::size_t>(kWarps) ? static_cast<int>(left) : kWarps;
    const T* xb = x + r0 * dim;
    for (std::size_t col = tid; col < dim; col += kBlock) {
      double a = pb[col];
      for (int w = 0; w < nrows; ++w)
        a += static_cast<double>(cs[w]) * static_cast<double>(xb[w * dim + col]);
      pb[col] = a;
    }
    __syncthreads();  // cs is rewritten by the next iteration
  }
  if (lane == 0) lred[warp] = loss_acc;
  __syncthreads();
  if (tid == 0) {
    double sum = 0;
    for (int i = 0; i < kWarps; ++i) sum += lred[i];
    loss_part[b] = sum;
  }
}

constexpr int kFinalThreads = 1024;

// Blocks 0 .. ceil(dim/32)-1: 32 columns each; thread (ty, tx) sums the partials of blocks
// ty, ty+32, ... of column 32 blockIdx + tx, then a fixed tree over ty. The last block: loss.
template <class T>
__global__ void __launch_bounds__(kFinalThreads)
    finalize_kernel(const __grid_constant__ FusedBatch<T> batch, std::size_t dim,
                    const T* __restrict__ theta, T lambda) {
  const FusedJob<T>& job = batch.job[blockIdx.y];
  if (flagged_off(job)) return;  // the whole block
  const double* __restrict__ part = job.part;
  const double* __restrict__ loss_part = job.loss_part;
  const std::size_t nb = job.nb;
  T* __restrict__ g = job.g;
  __shared__ double red[32][33];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % 32;
  const int ty = tid / 32;
  const std::size_t tiles = (dim + 31) / 32;
  if (blockIdx.x < tiles) {  // the same for the whole block
    const std::size_t col = static_cast<std::size_t>(blockIdx.x) * 32 + tx;
    double sum = 0;
    if (col < dim)
      for (std::size_t bb = ty; bb < nb; bb += 32) sum += part[bb * dim + col];
    red[ty][tx] = sum;
    __syncthreads();
#pragma unroll
    for (int half = 16; half >= 1; half >>= 1) {
      if (ty < half) red[ty][tx] += red[ty + half][tx];
      __syncthreads();
    }
    if (ty == 0 && col < dim) {
      T v = static_cast<T>(red[0][tx]);
      if (lambda != T(0)) v += lambda * theta[col];  // as the CPU backend: g += lambda theta
      g[col] = v;
    }
  } else {
    double loss = 0;
    for (std::size_t i = tid; i < nb; i += kFinalThreads) loss += loss_part[i];
    double norm2 = 0;
    if (lambda != T(0))
      for (std::size_t j = tid; j < dim; j += kFinalThreads) {
        const double v = static_cast<double>(theta[j]);
        norm2 += v * v;
      }
    loss = block_sum<kFinalThreads>(loss);
    norm2 = block_sum<kFinalThreads>(norm2);
    if (tid == 0)
      *job.out_loss = lambda != T(0) ? loss + 0.5 * static_cast<double>(lambda) * norm2 : loss;
  }
}

template <class T>
struct Args {
  int loss_kind;
  const FusedBatch<T>& batch;
  std::size_t dim;
  const T* theta;
  dim3 grid;  // (largest job's nb, jobs)
  cudaStream_t s;
};

template <class T, int G, int V, int K>
cudaError_t launch_fast(const Args<T>& a) {
  constexpr int R = rows_per_iteration<T>(V * K);
  fused_fast_kernel<T, G, V, K, R>
      <<<a.grid, kBlock, 0, a.s>>>(a.loss_kind, a.batch, a.dim, a.theta);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_rows(const Args<T>& a, bool aligned) {
  constexpr int W = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte load
  const std::size_t d = a.dim;
  if (aligned) {
    if (d <= 8 * W) return launch_fast<T, 8, W, 1>(a);
    if (d <= 32 * W) return launch_fast<T, 32, W, 1>(a);
    if (d <= 64 * W) return launch_fast<T, 32, W, 2>(a);
    if (d <= 128 * W) return launch_fast<T, 32, W, 4>(a);
    if (d <= 256 * W) return launch_fast<T, 32, W, 8>(a);  // 512 doubles, 1024 floats
  } else {
    if (d <= 8) return launch_fast<T, 8, 1, 1>(a);
    if (d <= 32) return launch_fast<T, 32, 1, 1>(a);
    if (d <= 128) return launch_fast<T, 32, 1, 4>(a);
    if (d <= 512) return launch_fast<T, 32, 1, 16>(a);
    if constexpr (sizeof(T) == 4)
      if (d <= 1024) return launch_fast<T, 32, 1, 32>(a);
  }
  fused_general_kernel<T><<<a.grid, kBlock, 0, a.s>>>(a.loss_kind, a.batch, a.dim, a.theta);
  return cudaGetLastError();
}

}  // namespace

std::size_t fused_gradient_workspace_bytes(std::size_t rows, std::size_t dim,
                                           std::size_t /*sizeof_t*/) {
  const std::size_t nb = grid_blocks(rows, dim);
  return (nb * dim + nb) * sizeof(double);
}

template <class T>
FusedJob<T> fused_gradient_job(const T* x, const T* y, std::size_t rows, std::size_t dim, T* g,
                               double* out_loss, void* workspace) {
  const std::size_t nb = grid_blocks(rows, dim);
  double* part = static_cast<double*>(workspace);
  return FusedJob<T>{x, y, rows, g, out_loss, part, part + nb * dim, nb, nullptr};
}

template <class T>
cudaError_t fused_gradient_batch(BinaryLoss loss, const FusedBatch<T>& batch, std::size_t dim,
                                 const T* theta, T lambda, cudaStream_t s) {
  if (dim == 0 || theta == nullptr || batch.count < 0 || batch.count > kMaxFusedBatch)
    return cudaErrorInvalidValue;
  if (loss != BinaryLoss::LeastSquares && loss != BinaryLoss::Logistic)
    return cudaErrorInvalidValue;
  if (batch.count == 0) return cudaSuccess;
  constexpr std::size_t W = 16 / sizeof(T);
  std::size_t max_nb = 1;
  bool aligned = dim % W == 0;
  for (int i = 0; i < batch.count; ++i) {
    const FusedJob<T>& j = batch.job[i];
    if (j.g == nullptr || j.out_loss == nullptr || j.part == nullptr || j.loss_part == nullptr ||
        j.nb != grid_blocks(j.rows, dim) || (j.rows > 0 && (j.x == nullptr || j.y == nullptr)))
      return cudaErrorInvalidValue;
    max_nb = j.nb > max_nb ? j.nb : max_nb;
    aligned = aligned && reinterpret_cast<std::uintptr_t>(j.x) % 16 == 0;
  }
  const Args<T> a{static_cast<int>(loss),
                  batch,
                  dim,
                  theta,
                  dim3(static_cast<unsigned>(max_nb), static_cast<unsigned>(batch.count)),
                  s};
  if (const cudaError_t e = launch_rows(a, aligned); e != cudaSuccess) return e;
  const std::size_t tiles = (dim + 31) / 32;
  finalize_kernel<T><<<dim3(static_cast<unsigned>(tiles + 1), static_cast<unsigned>(batch.count)),
                       kFinalThreads, 0, s>>>(batch, dim, theta, lambda);
  return cudaGetLastError();
}

template <class T>
cudaError_t fused_gradient(BinaryLoss loss, const T* x, const T* y, std::size_t rows,
                           std::size_t dim, const T* theta, T lambda, T* g, double* out_loss,
                           void* workspace, cudaStream_t s) {
  if (dim == 0 || theta == nullptr || g == nullptr || out_loss == nullptr || workspace == nullptr ||
      (rows > 0 && (x == nullptr || y == nullptr)))
    return cudaErrorInvalidValue;
  FusedBatch<T> batch{};
  batch.job[0] = fused_gradient_job(x, y, rows, dim, g, out_loss, workspace);
  batch.count = 1;
  return fused_gradient_batch(loss, batch, dim, theta, lambda, s);
}

#define LAG_INSTANTIATE(T)                                                                         \
  template cudaError_t fused_gradient<T>(BinaryLoss, const T*, const T*, std::size_t, std::size_t, \
                                         const T*, T, T*, double*, void*, cudaStream_t);           \
  template FusedJob<T> fused_gradient_job<T>(const T*, const T*, std::size_t, std::size_t, T*,     \
                                             double*, void*);                                      \
  template cudaError_t fused_gradient_batch<T>(BinaryLoss, const FusedBatch<T>&, std::size_t,      \
                                               const T*, T, cudaStream_t);
LAG_INSTANTIATE(float)
LAG_INSTANTIATE(double)
#undef LAG_INSTANTIATE

}  // namespace lag::cuda
