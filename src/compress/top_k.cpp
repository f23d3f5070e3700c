#include "compress/top_k.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "lag/error.hpp"

namespace lag {

namespace {

// |x|, with NaN above every number.
template <class T>
T magnitude(T x) {
  const T a = std::fabs(x);
  return std::isnan(a) ? std::numeric_limits<T>::infinity() : a;
}

}  // namespace

template <class T>
void top_k(const T* v, std::size_t d, std::size_t k, std::uint32_t* indices,
           std::vector<T>& scratch) {
  if (k == 0 || k > d) throw Error("internal: top_k needs 0 < k <= d");
  if (d > std::numeric_limits<std::uint32_t>::max())
    throw Error("Top-k indices are 32-bit: the model has too many parameters");
  if (k == d) {
    for (std::size_t i = 0; i < d; ++i) indices[i] = static_cast<std::uint32_t>(i);
    return;
  }
  scratch.resize(d);
  for (std::size_t i = 0; i < d; ++i) scratch[i] = magnitude(v[i]);
  const auto kth = scratch.begin() + static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(scratch.begin(), kth, scratch.end(), std::greater<T>());
  const T threshold = *kth;
  // Everything larger than the threshold lies before it after the selection.
  const auto above = static_cast<std::size_t>(
      std::count_if(scratch.begin(), kth, [&](T m) { return m > threshold; }));
  std::size_t ties = k - above, taken = 0;
  for (std::size_t i = 0; i < d && taken < k; ++i) {
    const T m = magnitude(v[i]);
    if (m > threshold || (m == threshold && ties > 0 && ties--))
      indices[taken++] = static_cast<std::uint32_t>(i);
  }
}

template void top_k<float>(const float*, std::size_t, std::size_t, std::uint32_t*,
                           std::vector<float>&);
template void top_k<double>(const double*, std::size_t, std::size_t, std::uint32_t*,
                            std::vector<double>&);

}  // namespace lag
