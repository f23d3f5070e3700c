// The algorithms and the LAG trigger rules (docs/architecture.md §2): the paper's five, its
// successors that also shrink what is uploaded, LAQ (quantized innovations) and EF21 and CLAG
// (Top-k compressed innovations, CLAG lazily), and the stochastic ones that draw minibatches:
// SGD and LASG's worker- and server-side rules.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lag/trigger_rules.hpp"  // wk_fires, ps_fires

namespace lag {

enum class Algorithm { GD, LagWK, LagPS, CycIAG, NumIAG, Laq, Ef21, Clag, Sgd, LasgWK, LasgPS };

// gd, lag-wk, lag-ps, cyc-iag, num-iag, laq, ef21, clag, sgd, lasg-wk, lasg-ps
Algorithm parse_algorithm(const std::string& name);
std::vector<Algorithm> parse_algorithm_list(const std::string& comma_list);
const char* algorithm_name(Algorithm a);

// The rules' constant: the papers' xi, 1 for LAG-WK, 10 for LAG-PS, 0.8 for LAQ; LASG's c,
// kLasgC for both of its rules (unused by the others).
double default_xi(Algorithm a);

// LASG's c (its rules' threshold is c / (alpha^2 M^2) sum_{d=1..D} ||theta^{k+1-d} -
// theta^{k-d}||^2, without LAG's 1/D): LAG-WK's xi / D at the default D = 10.
constexpr double kLasgC = 0.1;

// Whether every worker computes in every iteration and decides itself whether to upload (LAG-WK,
// LAQ, CLAG) or uploads always (GD, EF21).
inline bool all_compute(Algorithm a) {
  return a == Algorithm::GD || a == Algorithm::LagWK || a == Algorithm::Laq ||
         a == Algorithm::Ef21 || a == Algorithm::Clag || a == Algorithm::Sgd ||
         a == Algorithm::LasgWK;
}
// Whether the workers compute on minibatches (--batch-size) rather than their whole shards.
inline bool stochastic(Algorithm a) {
  return a == Algorithm::Sgd || a == Algorithm::LasgWK || a == Algorithm::LasgPS;
}
inline bool compresses(Algorithm a) {
  return a == Algorithm::Laq || a == Algorithm::Ef21 || a == Algorithm::Clag;
}

// EF21's and CLAG's default step size, the one the nonconvex theory of Richtarik et al. (3PC,
// ICML 2022) allows with Top-k, for the average objective f = (1/M) sum_m f_m with f_m our
// worker losses L_m: with a = k/d,
//   theta_c = 1 - sqrt(1 - a),  beta = (1 - a) / theta_c,  L~ = sqrt(mean_m L_m^2),
//   gamma = 1 / (L_f + L~ sqrt(max(beta, zeta) / theta_c)),  L_f = L / M.
// Our step is on the sum L = M f, so alpha = gamma / M. (k = d, zeta = 0: alpha = 1/L, GD's.)
double compressed_step(double smoothness, const std::vector<double>& worker_smoothness,
                       double k_over_d, double zeta);

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
  // LASG's: c / (alpha^2 M^2) * sum().
  double lasg_threshold(double c, double alpha, int workers) const;
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
