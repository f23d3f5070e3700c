// A minibatch gathered on the device (plain C++ interface): the rows the host's sampler drew
// (lag/sampler.hpp), copied out of the worker's shard into a dense batch, so that the gradient
// kernels run on the batch exactly as they run on a shard.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

// out_x row r = x row rows[r] (dim values) and out_y[r] = y[rows[r]], for r < count. Device
// memory throughout; the indices must be below the shard's row count (the sampler's are).
// Returns cudaErrorInvalidValue for a missing pointer or dim == 0, else cudaGetLastError().
template <class T>
[[nodiscard]] cudaError_t gather_rows(const T* x, const T* y, std::size_t dim,
                                      const std::uint32_t* rows, std::size_t count, T* out_x,
                                      T* out_y, cudaStream_t s);

}  // namespace lag::cuda
