// Device code shared by the kernels (include from .cu files only): the fixed-order block sum.
#pragma once

namespace lag::cuda {

// Sum of one double per thread over a block of kThreads threads (a power of two >= 64), in a
// fixed order: shared-memory halving down to 32 values, then a fixed shfl_down ladder. The result
// is valid in thread 0. Every thread of the block must call it; it may be called repeatedly.
template <int kThreads>
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double sh[kThreads];
  const int t = static_cast<int>(threadIdx.x);
  __syncthreads();  // a previous call's readers are done with sh
  sh[t] = v;
  __syncthreads();
#pragma unroll
  for (int half = kThreads / 2; half >= 32; half >>= 1) {
    if (t < half) sh[t] += sh[t + half];
    __syncthreads();
  }
  double r = 0;
  if (t < 32) {
    r = sh[t];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) r += __shfl_down_sync(0xffffffffu, r, off);
  }
  return r;
}

}  // namespace lag::cuda
