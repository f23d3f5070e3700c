#include "lag/heterogeneity.hpp"

#include <cmath>

namespace lag {

std::vector<HeterogeneityPoint> heterogeneity_profile(const std::vector<double>& worker_smoothness,
                                                      double smoothness, int depth) {
  std::vector<HeterogeneityPoint> out;
  const double m = static_cast<double>(worker_smoothness.size());
  if (worker_smoothness.empty()) return out;
  for (int k = 1; k <= depth; ++k) {
    HeterogeneityPoint p;
    p.k = k;
    p.gamma = 1.0 / (static_cast<double>(k) * depth);
    const double bound = std::sqrt(p.gamma) * smoothness / m;
    int below = 0;
    for (double l : worker_smoothness) below += l <= bound ? 1 : 0;
    p.fraction = below / m;
    out.push_back(p);
  }
  return out;
}

}  // namespace lag
