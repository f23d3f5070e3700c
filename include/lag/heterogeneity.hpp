// The paper's heterogeneity profile: how many workers are "smooth enough" to be skipped often.
#pragma once

#include <vector>

namespace lag {

struct HeterogeneityPoint {
  int k = 0;  // gamma = 1 / (k D)
  double gamma = 0.0;
  double fraction = 0.0;  // fraction of workers with L_m <= sqrt(gamma) L / M
};

std::vector<HeterogeneityPoint> heterogeneity_profile(const std::vector<double>& worker_smoothness,
                                                      double smoothness, int depth);

}  // namespace lag
