// Seeded random numbers that are the same on every platform and standard library
// (std::normal_distribution and std::shuffle are implementation-defined, so not used).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace lag {

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), without modulo bias.
  std::uint64_t below(std::uint64_t n);
  // Standard normal (Box-Muller; caches the second value).
  double normal();
  // Fisher-Yates permutation of 0..n-1.
  std::vector<std::size_t> permutation(std::size_t n);
  // Index drawn with probability proportional to weights[i] (weights >= 0, sum > 0).
  std::size_t weighted(const std::vector<double>& weights);

  // The whole state as text (the engine's in the standard's textual form, then the cached
  // normal), and back: a restored generator continues the same sequence. restore() throws
  // lag::Error for text that save() did not make.
  std::string save() const;
  void restore(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace lag
