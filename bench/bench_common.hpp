// Pieces the CPU benchmarks share: sizes from the environment, a fast seeded fill, and the
// read-bandwidth reference loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace lag::bench {

// A positive integer from the environment variable `name`, else `fallback` (with a warning for
// a value that is not one), so that CI can run the benchmarks on tiny problems.
inline std::size_t env_size(const char* name, std::size_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0' || v == 0) {
    std::fprintf(stderr, "ignoring %s=%s (want a positive integer)\n", name, s);
    return fallback;
  }
  return static_cast<std::size_t>(v);
}

// splitmix64 in [-1, 1): a fast, fixed-seed, platform-independent fill (lag::Random's Mersenne
// Twister is ~5x slower for 10^8 values and gives no better data for a bandwidth test).
inline double uniform_pm1(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
}

// Read bandwidth reference: the sum of the array with 16 independent lanes (4 AVX2 vectors of
// doubles), so that the adds never limit the loop (a plain scalar loop, one add after the
// other, only reaches about half the bandwidth). With `kPrefetch`, each step also asks for its
// lines 1 KB ahead into L2 (one software prefetch per line): on the build machine one core
// reads 10-20% faster that way than with the hardware prefetcher alone, so that is the read
// bandwidth kernels doing the same are measured against (read_sum_prefetched).
template <bool kPrefetch, class T>
T read_sum_lanes(const T* a, std::size_t n) {
  constexpr std::size_t kLanes = 16, kAhead = 1024, kLine = 64;
  alignas(64) T acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    if constexpr (kPrefetch) {
      const auto at = reinterpret_cast<std::uintptr_t>(a + i);
      for (std::size_t b = 0; b < kLanes * sizeof(T); b += kLine)
        __builtin_prefetch(reinterpret_cast<const void*>(at + b + kAhead), 0, 2);
    }
#pragma omp simd aligned(acc : 64)
    for (std::size_t j = 0; j < kLanes; ++j) acc[j] += a[i + j];
  }
  T s = 0;
  for (; i < n; ++i) s += a[i];
  for (T v : acc) s += v;
  return s;
}

template <class T>
T read_sum(const T* a, std::size_t n) {
  return read_sum_lanes<false>(a, n);
}

template <class T>
T read_sum_prefetched(const T* a, std::size_t n) {
  return read_sum_lanes<true>(a, n);
}

}  // namespace lag::bench
