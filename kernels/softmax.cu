// Softmax-regression and MLP elementwise kernels (see softmax.cuh).
#include <cstdint>

#include "softmax.cuh"

namespace lag::cuda {

namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kThreads = 256;
constexpr std::size_t kMaxGrid = 4096;
constexpr std::size_t kNoIndex = ~static_cast<std::size_t>(0);

unsigned grid_for(std::size_t units, std::size_t per_block) {
  std::size_t nb = (units + per_block - 1) / per_block;
  if (nb > kMaxGrid) nb = kMaxGrid;
  if (nb < 1) nb = 1;
  return static_cast<unsigned>(nb);
}

__device__ __forceinline__ float tanh_t(float v) { return tanhf(v); }
__device__ __forceinline__ double tanh_t(double v) { return tanh(v); }

// Keeps the larger value; on equal (or unordered) values the smaller index. Symmetric in its
// two arguments, so the xor butterfly leaves every lane with the same winner: the first largest
// element, as std::max_element.
template <class T>
__device__ __forceinline__ void argmax_merge(T& v, std::size_t& i, T ov, std::size_t oi) {
  if (oi == kNoIndex) return;
  if (i == kNoIndex || v < ov || (!(ov < v) && oi < i)) {
    v = ov;
    i = oi;
  }
}

// One warp per row (grid-stride over rows; the row index is warp-uniform).
template <class T>
__global__ void __launch_bounds__(kThreads)
    softmax_rows_kernel(T* __restrict__ z, const T* __restrict__ y, std::size_t rows, std::size_t k,
                        bool minus_onehot, double* __restrict__ row_loss,
                        std::uint32_t* __restrict__ row_correct) {
  constexpr int kWarps = kThreads / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kWarps;
  for (std::size_t i = first; i < rows; i += stride) {
    T* zi = z + i * k;
    // Largest logit and its first index: per lane in column order, then across lanes.
    T top = T(0);
    std::size_t best = kNoIndex;
    for (std::size_t c = lane; c < k; c += 32) {
      const T v = zi[c];
      if (best == kNoIndex || top < v) {
        top = v;
        best = c;
      }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const T ov = __shfl_xor_sync(kFull, top, off);
      const auto oi = static_cast<std::size_t>(
          __shfl_xor_sync(kFull, static_cast<unsigned long long>(best), off));
      argmax_merge(top, best, ov, oi);
    }
    const T yl = y[i];
    const bool ok = yl >= T(0) && yl < static_cast<T>(k);  // false for NaN too
    const std::size_t label = ok ? static_cast<std::size_t>(yl) : 0;
    T z_label = T(0);
    if (lane == 0 && ok) z_label = zi[label];  // read before any lane rewrites the row
    double sum = 0;
    for (std::size_t c = lane; c < k; c += 32) sum += exp(static_cast<double>(zi[c] - top));
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(kFull, sum, off);
    if (lane == 0) {
      if (row_loss)
        row_loss[i] = ok ? log(sum) + static_cast<double>(top) - static_cast<double>(z_label)
                         : __longlong_as_double(0x7ff8000000000000LL);  // quiet NaN
      if (row_correct) row_correct[i] = (ok && best == label) ? 1u : 0u;
    }
    if (minus_onehot) {
      __syncwarp();  // every lane's reads of the row happen before the writes
      for (std::size_t c = lane; c < k; c += 32) {
        T p = static_cast<T>(exp(static_cast<double>(zi[c] - top)) / sum);
        if (ok && c == label) p -= T(1);
        zi[c] = p;
      }
    }
    __syncwarp();  // the next row's loop starts together (not needed for correctness)
  }
}

// Grid-stride over the rows x cols elements; col follows idx incrementally (no 64-bit modulo in
// the loop).
template <class T, bool kTanh>
__global__ void __launch_bounds__(kThreads)
    bias_kernel(T* __restrict__ a, const T* __restrict__ b, std::size_t n, std::size_t cols) {
  std::size_t idx = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  if (idx >= n) return;
  std::size_t col = idx % cols;
  const std::size_t col_step = stride % cols;
  for (; idx < n; idx += stride) {
    const T v = a[idx] + b[col];
    if constexpr (kTanh)
      a[idx] = tanh_t(v);
    else
      a[idx] = v;
    col += col_step;
    if (col >= cols) col -= cols;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    tanh_backward_kernel(T* __restrict__ da, const T* __restrict__ a, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += stride)
    da[i] *= T(1) - a[i] * a[i];
}

constexpr int kColThreads = 1024;
constexpr std::size_t kColTile = 32;
constexpr std::size_t kColChunkRows = 1024;
constexpr std::size_t kColMaxChunks = 64;

std::size_t column_chunks(std::size_t rows) {
  std::size_t ny = (rows + kColChunkRows - 1) / kColChunkRows;
  if (ny > kColMaxChunks) ny = kColMaxChunks;
  if (ny < 1) ny = 1;
  return ny;
}

// Block (tile x, chunk y): the w = min(32, cols - 32 x) columns from 32 x (or all columns when
// cols <= 32), rows [rows y / ny, rows (y+1) / ny). Thread t works on column t % w and rows
// first + t / w, + slices, ... (slices = 1024 / w, so a warp reads contiguous memory), then
// thread t < w sums the slices in slice order. Writes partial[y cols + col] or, without a
// partial buffer, out[col] += T(sum).
template <class T>
__global__ void __launch_bounds__(kColThreads)
    column_sums_kernel(const T* __restrict__ m, std::size_t rows, std::size_t cols,
                       double* __restrict__ partial, T* __restrict__ out) {
  __shared__ double red[kColThreads];
  const std::size_t tile = cols <= kColTile ? cols : kColTile;
  const std::size_t c0 = static_cast<std::size_t>(blockIdx.x) * tile;
  const std::size_t w = cols - c0 < tile ? cols - c0 : tile;
  const std::size_t slices = kColThreads / w;
  const std::size_t ny = gridDim.y;
  const std::size_t y = blockIdx.y;
  const std::size_t r_begin = rows * y / ny;
  const std::size_t r_end = rows * (y + 1) / ny;
  const std::size_t t = threadIdx.x;
  const std::size_t c = t % w;
  const std::size_t slice = t / w;
  double acc = 0;
  if (slice < slices)
    for (std::size_t r = r_begin + slice; r < r_end; r += slices)
      acc += static_cast<double>(m[r * cols + c0 + c]);
  red[t] = acc;
  __syncthreads();
  if (t < w) {
    double sum = 0;
    for (std::size_t q = 0; q < slices; ++q) sum += red[q * w + t];
    if (partial)
      partial[y * cols + c0 + t] = sum;
    else
      out[c0 + t] = out[c0 + t] + static_cast<T>(sum);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    column_sums_finish(const double* __restrict__ partial, std::size_t ny, std::size_t cols,
                       T* __restrict__ out) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t c = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; c < cols;
       c += stride) {
    double sum = 0;
    for (std::size_t y = 0; y < ny; ++y) sum += partial[y * cols + c];
    out[c] = out[c] + static_cast<T>(sum);
  }
}

template <class T>
cudaError_t launch_column_sums(const T* m, std::size_t rows, std::size_t cols, T* out,
                               double* workspace, std::size_t ny, cudaStream_t s) {
  if (cols == 0) return cudaSuccess;
  if (out == nullptr || (rows > 0 && m == nullptr)) return cudaErrorInvalidValue;
  const std::size_t tiles = (cols + kColTile - 1) / kColTile;
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(ny));
  column_sums_kernel<T>
      <<<grid, kColThreads, 0, s>>>(m, rows, cols, ny > 1 ? workspace : nullptr, out);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess || ny == 1) return e;
  column_sums_finish<T><<<grid_for(cols, kThreads), kThreads, 0, s>>>(workspace, ny, cols, out);
  return cudaGetLastError();
}

}  // namespace

template <class T>
cudaError_t softmax_rows(T* z, const T* y, std::size_t rows, std::size_t k, bool minus_onehot,
                         double* row_loss, std::uint32_t* row_correct, cudaStream_t s) {
  if (rows == 0) return cudaSuccess;
  if (k == 0 || z == nullptr || y == nullptr) return cudaErrorInvalidValue;
  softmax_rows_kernel<T><<<grid_for(rows, kThreads / 32), kThreads, 0, s>>>(
      z, y, rows, k, minus_onehot, row_loss, row_correct);
  return cudaGetLastError();
}

template <class T>
cudaError_t add_bias_tanh(T* a, const T* b, std::size_t rows, std::size_t h, cudaStream_t s) {
  if (rows == 0 || h == 0) return cudaSuccess;
  if (a == nullptr || b == nullptr) return cudaErrorInvalidValue;
  bias_kernel<T, true><<<grid_for(rows * h, kThreads), kThreads, 0, s>>>(a, b, rows * h, h);
  return cudaGetLastError();
}

template <class T>
cudaError_t add_bias(T* z, const T* b, std::size_t rows, std::size_t k, cudaStream_t s) {
  if (rows == 0 || k == 0) return cudaSuccess;
  if (z == nullptr || b == nullptr) return cudaErrorInvalidValue;
  bias_kernel<T, false><<<grid_for(rows * k, kThreads), kThreads, 0, s>>>(z, b, rows * k, k);
  return cudaGetLastError();
}

template <class T>
cudaError_t tanh_backward(T* da, const T* a, std::size_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (da == nullptr || a == nullptr) return cudaErrorInvalidValue;
  tanh_backward_kernel<T><<<grid_for(n, kThreads), kThreads, 0, s>>>(da, a, n);
  return cudaGetLastError();
}

template <class T>
cudaError_t column_sums_add(const T* m, std::size_t rows, std::size_t cols, T* out,
                            cudaStream_t s) {
  return launch_column_sums(m, rows, cols, out, nullptr, 1, s);
}

std::size_t column_sums_workspace_doubles(std::size_t rows, std::size_t cols) {
  const std::size_t ny = column_chunks(rows);
  return ny > 1 ? ny * cols : 0;
}

template <class T>
cudaError_t column_sums_add(const T* m, std::size_t rows, std::size_t cols, T* out,
                            double* workspace, cudaStream_t s) {
  const std::size_t ny = column_chunks(rows);
  if (ny > 1 && workspace == nullptr) return cudaErrorInvalidValue;
  return launch_column_sums(m, rows, cols, out, workspace, ny, s);
}

#define LAG_INSTANTIATE(T)                                                                       \
  template cudaError_t softmax_rows<T>(T*, const T*, std::size_t, std::size_t, bool, double*,    \
                                       std::uint32_t*, cudaStream_t);                            \
  template cudaError_t add_bias_tanh<T>(T*, const T*, std::size_t, std::size_t, cudaStream_t);   \
  template cudaError_t add_bias<T>(T*, const T*, std::size_t, std::size_t, cudaStream_t);        \
  template cudaError_t tanh_backward<T>(T*, const T*, std::size_t, cudaStream_t);                \
  template cudaError_t column_sums_add<T>(const T*, std::size_t, std::size_t, T*, cudaStream_t); \
  template cudaError_t column_sums_add<T>(const T*, std::size_t, std::size_t, T*, double*,       \
                                          cudaStream_t);
LAG_INSTANTIATE(float)
LAG_INSTANTIATE(double)
#undef LAG_INSTANTIATE

}  // namespace lag::cuda
