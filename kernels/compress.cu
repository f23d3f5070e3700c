// LAQ's quantizer and the Top-k compressor on the device (see compress.cuh).
#include <cmath>
#include <cstring>
#include <cub/device/device_radix_sort.cuh>

#include "compress.cuh"
#include "lag/trigger_rules.hpp"
#include "reduce.cuh"

namespace lag::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;

int blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < kMaxBlocks ? (b == 0 ? 1 : b) : kMaxBlocks);
}

// |x| with NaN above every number (top_k.hpp's order).
template <class T>
__device__ T magnitude(T x) {
  const T a = fabs(x);
  return isnan(a) ? static_cast<T>(INFINITY) : a;
}

// The maximum of the block's values (every thread passes one; the result is thread 0's).
template <class T>
__device__ T block_max(T value) {
  __shared__ T best[kThreads];
  best[threadIdx.x] = value;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w)
      best[threadIdx.x] = fmax(best[threadIdx.x], best[threadIdx.x + w]);
    __syncthreads();
  }
  return best[0];
}

// Stage 1 of max |g - q_hat|: each block the maximum of a grid-strided share (a maximum does not
// depend on the order, so any split gives the same bits).
template <class T>
__global__ void __launch_bounds__(kThreads)
    max_abs_diff_kernel(const T* __restrict__ g, const T* __restrict__ q_hat, std::size_t d,
                        double* __restrict__ partial) {
  T m = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; i < d;
       i += static_cast<std::size_t>(gridDim.x) * kThreads)
    m = fmax(m, fabs(g[i] - q_hat[i]));  // fmax ignores a NaN, as std::max(radius, NaN) does
  m = block_max(m);
  if (threadIdx.x == 0) partial[blockIdx.x] = static_cast<double>(m);
}

__global__ void __launch_bounds__(kThreads)
    max_finish_kernel(const double* __restrict__ partial, int n, double* __restrict__ out) {
  double m = 0;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += kThreads) m = fmax(m, partial[i]);
  m = block_max(m);
  if (threadIdx.x == 0) *out = m;
}

// Codes, v and q, as quantizer.cpp computes them: j = floor((g - q_hat + R + Delta) / (2 Delta))
// clamped to the grid (0 when R = 0), v = fma(2 Delta, j, -R), q = q_hat + v. The codes are ORed
// into 32-bit words of the (zeroed) code area: OR is order-free, so the bytes are deterministic.
template <class T>
__global__ void __launch_bounds__(kThreads)
    codes_kernel(const T* __restrict__ g, const T* __restrict__ q_hat, std::size_t d, int bits,
                 const double* __restrict__ scalars, unsigned int* __restrict__ words,
                 T* __restrict__ v, T* __restrict__ q) {
  const T radius = static_cast<T>(scalars[0]);
  const unsigned int top = (1u << bits) - 1u;
  const T delta = radius / static_cast<T>(top);
  const T two_delta = delta + delta;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; i < d;
       i += static_cast<std::size_t>(gridDim.x) * kThreads) {
    unsigned int j = 0;
    if (radius > 0) {
      const T position = floor((g[i] - q_hat[i] + radius + delta) / two_delta);
      const T clamped = position >= T(0) ? fmin(position, static_cast<T>(top)) : T(0);
      j = static_cast<unsigned int>(clamped);
    }
    const std::size_t at = i * static_cast<std::size_t>(bits);
    const std::size_t word = at / 32;
    const unsigned int shift = static_cast<unsigned int>(at % 32);
    if (j != 0) {
      atomicOr(words + word, j << shift);
      if (shift + static_cast<unsigned int>(bits) > 32u)
        atomicOr(words + word + 1, j >> (32u - shift));
    }
    v[i] = fma(two_delta, static_cast<T>(j), -radius);
    q[i] = q_hat[i] + v[i];
  }
}

// R, in T, at the payload's head.
template <class T>
__global__ void store_radius_kernel(const double* __restrict__ scalars,
                                    std::uint8_t* __restrict__ payload) {
  const T radius = static_cast<T>(scalars[0]);
  memcpy(payload, &radius, sizeof radius);
}

// aggregate[i] += fma(2 Delta, j_i, -R), reading the payload byte by byte (any alignment).
template <class T>
__global__ void __launch_bounds__(kThreads)
    add_quantized_kernel(const std::uint8_t* __restrict__ payload, std::size_t d, int bits,
                         T* __restrict__ aggregate) {
  T radius;
  memcpy(&radius, payload, sizeof radius);
  const std::uint8_t* codes = payload + sizeof(T);
  const unsigned int top = (1u << bits) - 1u;
  const T delta = radius / static_cast<T>(top);
  const T two_delta = delta + delta;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; i < d;
       i += static_cast<std::size_t>(gridDim.x) * kThreads) {
    const std::size_t at = i * static_cast<std::size_t>(bits);
    const std::size_t first = at / 8, last = (at + static_cast<std::size_t>(bits) - 1) / 8;
    unsigned int window = 0;
    for (std::size_t b = first; b <= last; ++b)
      window |= static_cast<unsigned int>(codes[b]) << (8 * (b - first));
    const unsigned int j = (window >> (at % 8)) & top;
    aggregate[i] += fma(two_delta, static_cast<T>(j), -radius);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    magnitudes_kernel(const T* __restrict__ v, std::size_t d, T* __restrict__ keys,
                      unsigned int* __restrict__ indices) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; i < d;
       i += static_cast<std::size_t>(gridDim.x) * kThreads) {
    keys[i] = magnitude(v[i]);
    indices[i] = static_cast<unsigned int>(i);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(const T* __restrict__ v, const unsigned int* __restrict__ indices, std::size_t k,
                  std::uint8_t* __restrict__ payload) {
  T* values = reinterpret_cast<T*>(payload);
  unsigned int* out = reinterpret_cast<unsigned int*>(payload + k * sizeof(T));
  for (std::size_t j = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; j < k;
       j += static_cast<std::size_t>(gridDim.x) * kThreads) {
    values[j] = v[indices[j]];
    out[j] = indices[j];
  }
}

// The indices of a payload are distinct: each coordinate is touched by one thread.
template <class T>
__global__ void __launch_bounds__(kThreads)
    add_top_k_kernel(const std::uint8_t* __restrict__ payload, std::size_t k,
                     T* __restrict__ aggregate) {
  for (std::size_t j = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; j < k;
       j += static_cast<std::size_t>(gridDim.x) * kThreads) {
    T value;
    unsigned int index;
    memcpy(&value, payload + j * sizeof(T), sizeof value);
    memcpy(&index, payload + k * sizeof(T) + j * sizeof index, sizeof index);
    aggregate[index] += value;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    commit_top_k_kernel(const std::uint8_t* __restrict__ payload, std::size_t k,
                        const T* __restrict__ delta, T* __restrict__ g_hat) {
  for (std::size_t j = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; j < k;
       j += static_cast<std::size_t>(gridDim.x) * kThreads) {
    unsigned int index;
    memcpy(&index, payload + k * sizeof(T) + j * sizeof index, sizeof index);
    g_hat[index] += delta[index];
  }
}

__global__ void __launch_bounds__(128)
    compressed_trigger_kernel(StatefulRule rule, const double* __restrict__ stats,
                              const double* __restrict__ delta_norm2, double* __restrict__ eps_hat,
                              long long* __restrict__ skipped,
                              const std::uint8_t* __restrict__ selected, double tau, double zeta,
                              long long max_skip, int workers, std::uint8_t* __restrict__ fire) {
  for (int m = static_cast<int>(threadIdx.x); m < workers; m += 128) {
    bool f = false;
    if (selected[m] != 0) {
      if (rule == StatefulRule::Laq) {
        f = laq_fires(stats[4 * m + 2], tau, stats[4 * m + 1], eps_hat[m]) ||
            (max_skip > 0 && skipped[m] >= max_skip);
        if (f && stats[4 * m] == 0) {  // R = 0: the flag alone goes; the worker commits
          eps_hat[m] = stats[4 * m + 1];
          skipped[m] = 0;
          f = false;
        } else if (!f) {
          ++skipped[m];
        }
      } else if (rule == StatefulRule::Clag) {
        f = clag_fires(delta_norm2[m], zeta, stats[4 * m + 3]);
      } else {
        f = wk_fires(stats[4 * m + 2], tau) || (max_skip > 0 && skipped[m] >= max_skip);
        if (!f) ++skipped[m];
      }
    }
    fire[m] = f ? 1 : 0;
  }
}

// The layout of top_k's temporary storage: keys in and out (d T each), indices in and out (d
// each), the first k indices sorted (d), then CUB's own.
struct TopKLayout {
  std::size_t keys_in, keys_out, idx_in, idx_out, idx_sorted, cub, total;
};

std::size_t align256(std::size_t x) { return (x + 255) / 256 * 256; }

template <class T>
cudaError_t top_k_layout(std::size_t d, TopKLayout* l) {
  std::size_t pairs = 0, keys = 0;
  const int n = static_cast<int>(d);
  cudaError_t e = cub::DeviceRadixSort::SortPairsDescending(
      nullptr, pairs, static_cast<const T*>(nullptr), static_cast<T*>(nullptr),
      static_cast<const unsigned int*>(nullptr), static_cast<unsigned int*>(nullptr), n);
  if (e != cudaSuccess) return e;
  e = cub::DeviceRadixSort::SortKeys(nullptr, keys, static_cast<const unsigned int*>(nullptr),
                                     static_cast<unsigned int*>(nullptr), n);
  if (e != cudaSuccess) return e;
  std::size_t at = 0;
  l->keys_in = at;
  at += align256(d * sizeof(T));
  l->keys_out = at;
  at += align256(d * sizeof(T));
  l->idx_in = at;
  at += align256(d * sizeof(unsigned int));
  l->idx_out = at;
  at += align256(d * sizeof(unsigned int));
  l->idx_sorted = at;
  at += align256(d * sizeof(unsigned int));
  l->cub = at;
  at += align256(pairs > keys ? pairs : keys);
  l->total = at;
  return cudaSuccess;
}

}  // namespace

std::size_t quantize_workspace_doubles(std::size_t) { return kMaxBlocks; }

template <class T>
cudaError_t quantize(const T* g, const T* q_hat, std::size_t d, int bits, std::uint8_t* payload,
                     T* v, T* q, double* scalars, double* workspace, cudaStream_t s) {
  if (bits < 1 || bits > 16 || d == 0) return cudaErrorInvalidValue;
  const int blocks = blocks_for(d);
  max_abs_diff_kernel<T><<<blocks, kThreads, 0, s>>>(g, q_hat, d, workspace);
  max_finish_kernel<<<1, kThreads, 0, s>>>(workspace, blocks, scalars);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  // The code area starts after R (4 or 8 bytes: 4-byte aligned) and is zeroed whole words
  // (the payload buffer has room for the last word's spare bytes).
  const std::size_t code_words = (d * static_cast<std::size_t>(bits) + 31) / 32;
  auto* words = reinterpret_cast<unsigned int*>(payload + sizeof(T));
  e = cudaMemsetAsync(words, 0, code_words * sizeof(unsigned int), s);
  if (e != cudaSuccess) return e;
  codes_kernel<T><<<blocks, kThreads, 0, s>>>(g, q_hat, d, bits, scalars, words, v, q);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  store_radius_kernel<T><<<1, 1, 0, s>>>(scalars, payload);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  double* reduce_space = workspace + kMaxBlocks;
  e = distance2<T>(q, g, d, scalars + 1, reduce_space, s);
  if (e != cudaSuccess) return e;
  return squared_norm<T>(v, d, scalars + 2, reduce_space, s);
}

template <class T>
cudaError_t add_quantized(const std::uint8_t* payload, std::size_t d, int bits, T* aggregate,
                          cudaStream_t s) {
  if (bits < 1 || bits > 16) return cudaErrorInvalidValue;
  if (d == 0) return cudaSuccess;
  add_quantized_kernel<T><<<blocks_for(d), kThreads, 0, s>>>(payload, d, bits, aggregate);
  return cudaGetLastError();
}

template <class T>
cudaError_t top_k_temp_bytes(std::size_t d, std::size_t* bytes) {
  TopKLayout l{};
  const cudaError_t e = top_k_layout<T>(d, &l);
  *bytes = l.total;
  return e;
}

template <class T>
cudaError_t top_k(const T* v, std::size_t d, std::size_t k, std::uint8_t* payload, void* temp,
                  std::size_t temp_bytes, cudaStream_t s) {
  if (k == 0 || k > d) return cudaErrorInvalidValue;
  TopKLayout l{};
  cudaError_t e = top_k_layout<T>(d, &l);
  if (e != cudaSuccess) return e;
  if (temp_bytes < l.total) return cudaErrorInvalidValue;
  auto* base = static_cast<unsigned char*>(temp);
  T* keys_in = reinterpret_cast<T*>(base + l.keys_in);
  T* keys_out = reinterpret_cast<T*>(base + l.keys_out);
  auto* idx_in = reinterpret_cast<unsigned int*>(base + l.idx_in);
  auto* idx_out = reinterpret_cast<unsigned int*>(base + l.idx_out);
  auto* idx_sorted = reinterpret_cast<unsigned int*>(base + l.idx_sorted);
  void* cub_temp = base + l.cub;
  std::size_t cub_bytes = l.total - l.cub;
  magnitudes_kernel<T><<<blocks_for(d), kThreads, 0, s>>>(v, d, keys_in, idx_in);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  // A stable sort by magnitude, largest first: equal magnitudes keep their index order, so the
  // first k are the lower indices among ties.
  e = cub::DeviceRadixSort::SortPairsDescending(cub_temp, cub_bytes, keys_in, keys_out, idx_in,
                                                idx_out, static_cast<int>(d), 0,
                                                static_cast<int>(sizeof(T) * 8), s);
  if (e != cudaSuccess) return e;
  cub_bytes = l.total - l.cub;
  e = cub::DeviceRadixSort::SortKeys(cub_temp, cub_bytes, idx_out, idx_sorted, static_cast<int>(k),
                                     0, static_cast<int>(sizeof(unsigned int) * 8), s);
  if (e != cudaSuccess) return e;
  gather_kernel<T><<<blocks_for(k), kThreads, 0, s>>>(v, idx_sorted, k, payload);
  return cudaGetLastError();
}

template <class T>
cudaError_t add_top_k(const std::uint8_t* payload, std::size_t k, T* aggregate, cudaStream_t s) {
  if (k == 0) return cudaSuccess;
  add_top_k_kernel<T><<<blocks_for(k), kThreads, 0, s>>>(payload, k, aggregate);
  return cudaGetLastError();
}

template <class T>
cudaError_t commit_top_k(const std::uint8_t* payload, std::size_t k, const T* delta, T* g_hat,
                         cudaStream_t s) {
  if (k == 0) return cudaSuccess;
  commit_top_k_kernel<T><<<blocks_for(k), kThreads, 0, s>>>(payload, k, delta, g_hat);
  return cudaGetLastError();
}

cudaError_t compressed_trigger(StatefulRule rule, const double* stats, const double* delta_norm2,
                               double* eps_hat, long long* skipped, const std::uint8_t* selected,
                               double tau, double zeta, long long max_skip, int workers,
                               std::uint8_t* fire, cudaStream_t s) {
  if (workers <= 0 ||
      (rule != StatefulRule::Laq && rule != StatefulRule::Clag && rule != StatefulRule::LasgWk))
    return cudaErrorInvalidValue;
  compressed_trigger_kernel<<<1, 128, 0, s>>>(rule, stats, delta_norm2, eps_hat, skipped, selected,
                                              tau, zeta, max_skip, workers, fire);
  return cudaGetLastError();
}

#define LAG_COMPRESS_INSTANTIATE(T)                                                               \
  template cudaError_t quantize<T>(const T*, const T*, std::size_t, int, std::uint8_t*, T*, T*,   \
                                   double*, double*, cudaStream_t);                               \
  template cudaError_t add_quantized<T>(const std::uint8_t*, std::size_t, int, T*, cudaStream_t); \
  template cudaError_t top_k_temp_bytes<T>(std::size_t, std::size_t*);                            \
  template cudaError_t top_k<T>(const T*, std::size_t, std::size_t, std::uint8_t*, void*,         \
                                std::size_t, cudaStream_t);                                       \
  template cudaError_t add_top_k<T>(const std::uint8_t*, std::size_t, T*, cudaStream_t);          \
  template cudaError_t commit_top_k<T>(const std::uint8_t*, std::size_t, const T*, T*,            \
                                       cudaStream_t);
LAG_COMPRESS_INSTANTIATE(float)
LAG_COMPRESS_INSTANTIATE(double)

}  // namespace lag::cuda
