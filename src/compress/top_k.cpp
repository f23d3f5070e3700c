#include "compress/top_k.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "lag/error.hpp"

namespace lag {

template <class T>
void top_k(const T* v, std::size_t d, std::size_t k, std::uint32_t* indices,
           std::vector<std::uint32_t>& scratch) {
  if (k == 0 || k > d) throw Error("internal: top_k needs 0 < k <= d");
  if (d > std::numeric_limits<std::uint32_t>::max())
    throw Error("Top-k indices are 32-bit: the model has too many parameters");
  const auto magnitude = [&](std::uint32_t i) {
    const T a = std::fabs(v[i]);
    return std::isnan(a) ? std::numeric_limits<T>::infinity() : a;
  };
  // A strict total order: larger magnitude first, then lower index.
  const auto before = [&](std::uint32_t a, std::uint32_t b) {
    const T ma = magnitude(a), mb = magnitude(b);
    return ma > mb || (ma == mb && a < b);
  };
  if (k == d) {
    for (std::size_t i = 0; i < d; ++i) indices[i] = static_cast<std::uint32_t>(i);
    return;
  }
  scratch.resize(d);
  std::iota(scratch.begin(), scratch.end(), std::uint32_t{0});
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k - 1),
                   scratch.end(), before);
  std::copy(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k), indices);
  std::sort(indices, indices + k);
}

template void top_k<float>(const float*, std::size_t, std::size_t, std::uint32_t*,
                           std::vector<std::uint32_t>&);
template void top_k<double>(const double*, std::size_t, std::size_t, std::uint32_t*,
                            std::vector<std::uint32_t>&);

}  // namespace lag
