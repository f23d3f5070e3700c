// The five algorithms and the LAG trigger rules (docs/architecture.md §2).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lag/trigger_rules.hpp"  // wk_fires, ps_fires

namespace lag {

enum class Algorithm { GD, LagWK, LagPS, CycIAG, NumIAG };

Algorithm parse_algorithm(const std::string& name);  // gd, lag-wk, lag-ps, cyc-iag, num-iag
std::vector<Algorithm> parse_algorithm_list(const std::string& comma_list);
const char* algorithm_name(Algorithm a);

// The paper's reference xi: 1 for LAG-WK, 10 for LAG-PS (unused by the others).
double default_xi(Algorithm a);

// The step size: `alpha` when one is given (> 0), else the paper's 1/L for smoothness L.
inline double alpha_or_default(double alpha, double smoothness) {
  return alpha > 0 ? alpha : 1.0 / smoothness;
}

// The last D squared steps ||theta^{j+1} - theta^j||^2 and the trigger threshold built on them:
//   tau^k = xi / (D alpha^2 M^2) * sum_{d=1..D} ||theta^{k+1-d} - theta^{k-d}||^2
// (while fewer than D steps exist, the sum runs over those that do).
class StepHistory {
 public:
  explicit StepHistory(int depth);
  void push(double step_norm2);
  double sum() const;
  double threshold(double xi, double alpha, int workers) const;
  int depth() const { return depth_; }
  // The pushes the threshold still uses, oldest first; pushing them into a new history of the
  // same depth gives one with the same sum, bit for bit (sum() does not depend on the rotation).
  std::vector<double> recent() const;

 private:
  int depth_;
  std::vector<double> ring_;
  std::size_t next_ = 0;
  std::size_t count_ = 0;
};

}  // namespace lag
