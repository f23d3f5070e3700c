// The LAG trigger rules evaluated on the device, so that only one flag per worker leaves it
// (plain C++ interface). The comparisons are exactly those of lag::wk_fires and lag::ps_fires
// (include/lag/algorithm.hpp), in double: the same decisions as the CPU backend, bit for bit.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

// LAG-WK: fire[m] = selected[m] && delta_norm2[m] > tau, for m in [0, workers). All pointers
// are device memory; fire[m] is 1 or 0.
[[nodiscard]] cudaError_t wk_trigger(const double* delta_norm2, const std::uint8_t* selected,
                                     double tau, int workers, std::uint8_t* fire, cudaStream_t s);

// LAG-PS: select[m] = smoothness[m] * smoothness[m] * stale_distance2[m] > tau (evaluated as
// (L*L)*d2, like lag::ps_fires). All pointers are device memory; select[m] is 1 or 0.
[[nodiscard]] cudaError_t ps_select(const double* stale_distance2, const double* smoothness,
                                    double tau, int workers, std::uint8_t* select, cudaStream_t s);

}  // namespace lag::cuda
