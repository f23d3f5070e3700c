// Platform-independent random draws. Everything here is built from the raw 64-bit output of
// std::mt19937_64 (whose sequence the standard fixes) and our own arithmetic, so a seed gives
// the same data on every compiler and standard library. The <random> distributions are avoided
// because their algorithms are implementation-defined.
#include "lag/random.hpp"

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>

#include "lag/error.hpp"

namespace lag {

std::uint64_t Random::below(std::uint64_t n) {
  if (n == 0) throw Error("Random::below: empty range (n = 0)");
  // 2^64 mod n: raw values below this would make the first (2^64 mod n) results one draw more
  // likely than the rest, so they are rejected. At most half of all draws are rejected, and for
  // small n almost none.
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t r = engine_();
    if (r >= threshold) return r % n;
  }
}

double Random::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // 1 - uniform() lies in (0, 1], so the logarithm is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * 3.14159265358979323846 * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

std::vector<std::size_t> Random::permutation(std::size_t n) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  // Fisher-Yates from the back: position i gets a uniformly chosen element of p[0..i].
  for (std::size_t i = n; i > 1; --i) {
    const auto j = static_cast<std::size_t>(below(i));
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

std::string Random::save() const {
  std::ostringstream s;
  s << engine_ << ' ' << (has_spare_ ? 1 : 0) << ' ' << std::hexfloat << spare_;
  return s.str();
}

void Random::restore(const std::string& state) {
  std::istringstream s(state);
  std::mt19937_64 engine;
  int spare_flag = -1;
  std::string spare;
  s >> engine >> spare_flag >> spare;
  // std::hexfloat input is not reliable across standard libraries; strtod reads it everywhere.
  char* end = nullptr;
  const double value = spare.empty() ? 0.0 : std::strtod(spare.c_str(), &end);
  if (s.fail() || (spare_flag != 0 && spare_flag != 1) || end != spare.c_str() + spare.size())
    throw Error("a saved random generator state is malformed");
  engine_ = engine;
  has_spare_ = spare_flag == 1;
  spare_ = value;
}

std::size_t Random::weighted(const std::vector<double>& weights) {
  double total = 0.0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double w = weights[i];
    if (!(w >= 0.0) || !std::isfinite(w)) {
      throw Error("Random::weighted: weight " + std::to_string(i) + " is negative or not finite");
    }
    total += w;
  }
  if (!(total > 0.0) || !std::isfinite(total)) {
    throw Error("Random::weighted: the weights must have a positive, finite sum");
  }
  const double u = uniform() * total;
  double cumulative = 0.0;
  std::size_t last_positive = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    // A zero weight leaves the cumulative sum unchanged, so it must never be chosen even when
    // u happens to sit exactly on a boundary.
    if (weights[i] == 0.0) continue;
    cumulative += weights[i];
    last_positive = i;
    if (cumulative > u) return i;
  }
  // Rounding can leave the final cumulative sum a hair below u; the draw belongs to the last
  // index that can be chosen at all.
  return last_positive;
}

}  // namespace lag
