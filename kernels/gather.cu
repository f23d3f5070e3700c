#include "gather.cuh"

namespace lag::cuda {

namespace {

constexpr int kThreads = 256;
constexpr std::size_t kMaxBlocks = 65535;

// One block per batch row (strided over the batch when it is longer than the grid), its threads
// over the row's columns: consecutive threads read consecutive elements of one source row.
template <class T>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(const T* __restrict__ x, const T* __restrict__ y, std::size_t dim,
                  const std::uint32_t* __restrict__ rows, std::size_t count, T* __restrict__ out_x,
                  T* __restrict__ out_y) {
  for (std::size_t r = blockIdx.x; r < count; r += gridDim.x) {
    const std::size_t from = rows[r];
    const T* src = x + from * dim;
    T* dst = out_x + r * dim;
    for (std::size_t j = threadIdx.x; j < dim; j += kThreads) dst[j] = src[j];
    if (threadIdx.x == 0) out_y[r] = y[from];
  }
}

}  // namespace

template <class T>
cudaError_t gather_rows(const T* x, const T* y, std::size_t dim, const std::uint32_t* rows,
                        std::size_t count, T* out_x, T* out_y, cudaStream_t s) {
  if (count == 0) return cudaSuccess;
  if (dim == 0 || !x || !y || !rows || !out_x || !out_y) return cudaErrorInvalidValue;
  const auto blocks = static_cast<unsigned>(count < kMaxBlocks ? count : kMaxBlocks);
  gather_kernel<T><<<blocks, kThreads, 0, s>>>(x, y, dim, rows, count, out_x, out_y);
  return cudaGetLastError();
}

template cudaError_t gather_rows<float>(const float*, const float*, std::size_t,
                                        const std::uint32_t*, std::size_t, float*, float*,
                                        cudaStream_t);
template cudaError_t gather_rows<double>(const double*, const double*, std::size_t,
                                         const std::uint32_t*, std::size_t, double*, double*,
                                         cudaStream_t);

}  // namespace lag::cuda
