#include "lag/algorithm.hpp"

#include <algorithm>
#include <cmath>

#include "lag/error.hpp"

namespace lag {

namespace {
struct NamedAlgorithm {
  const char* name;
  Algorithm algo;
};
constexpr NamedAlgorithm kAlgorithms[] = {
    {"gd", Algorithm::GD},          {"lag-wk", Algorithm::LagWK},   {"lag-ps", Algorithm::LagPS},
    {"cyc-iag", Algorithm::CycIAG}, {"num-iag", Algorithm::NumIAG}, {"laq", Algorithm::Laq},
    {"ef21", Algorithm::Ef21},      {"clag", Algorithm::Clag},      {"sgd", Algorithm::Sgd},
    {"lasg-wk", Algorithm::LasgWK}, {"lasg-ps", Algorithm::LasgPS}};
}  // namespace

Algorithm parse_algorithm(const std::string& name) {
  for (const auto& a : kAlgorithms)
    if (name == a.name) return a.algo;
  throw Error("unknown algorithm '" + name +
              "' (expected gd, lag-wk, lag-ps, cyc-iag, num-iag, laq, ef21, clag, sgd, lasg-wk or "
              "lasg-ps)");
}

std::vector<Algorithm> parse_algorithm_list(const std::string& comma_list) {
  std::vector<Algorithm> out;
  std::size_t start = 0;
  while (start <= comma_list.size()) {
    std::size_t end = comma_list.find(',', start);
    if (end == std::string::npos) end = comma_list.size();
    std::string item = comma_list.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) throw Error("empty name in algorithm list '" + comma_list + "'");
    Algorithm a = parse_algorithm(item);
    if (std::find(out.begin(), out.end(), a) != out.end())
      throw Error("algorithm '" + item + "' listed twice");
    out.push_back(a);
    start = end + 1;
  }
  return out;
}

const char* algorithm_name(Algorithm a) {
  for (const auto& n : kAlgorithms)
    if (n.algo == a) return n.name;
  return "?";
}

double default_xi(Algorithm a) {
  if (a == Algorithm::LagPS) return 10.0;
  if (a == Algorithm::Laq) return 0.8;
  if (a == Algorithm::LasgWK || a == Algorithm::LasgPS) return kLasgC;
  return 1.0;
}

double compressed_step(double smoothness, const std::vector<double>& worker_smoothness,
                       double k_over_d, double zeta) {
  const auto M = static_cast<double>(worker_smoothness.size());
  if (!(smoothness > 0) || worker_smoothness.empty() || !(k_over_d > 0) || k_over_d > 1)
    throw Error("internal: compressed_step needs L > 0, workers and 0 < k/d <= 1");
  double mean_square = 0;
  for (double l : worker_smoothness) mean_square += l * l;
  const double l_tilde = std::sqrt(mean_square / M);
  const double theta_c = 1.0 - std::sqrt(1.0 - k_over_d);
  const double beta = (1.0 - k_over_d) / theta_c;
  const double gamma = 1.0 / (smoothness / M + l_tilde * std::sqrt(std::max(beta, zeta) / theta_c));
  return gamma / M;
}

StepHistory::StepHistory(int depth) : depth_(depth) {
  if (depth < 1) throw Error("--depth (D) must be at least 1, got " + std::to_string(depth));
  ring_.assign(static_cast<std::size_t>(depth), 0.0);
}

void StepHistory::push(double step_norm2) {
  ring_[next_] = step_norm2;
  next_ = (next_ + 1) % ring_.size();
  count_ = std::min(count_ + 1, ring_.size());
}

double StepHistory::sum() const {
  // Oldest to newest, so the sum is the same whatever the ring's rotation.
  double s = 0.0;
  for (std::size_t i = 0; i < count_; ++i)
    s += ring_[(next_ + ring_.size() - count_ + i) % ring_.size()];
  return s;
}

std::vector<double> StepHistory::recent() const {
  std::vector<double> out;
  for (std::size_t i = 0; i < count_; ++i)
    out.push_back(ring_[(next_ + ring_.size() - count_ + i) % ring_.size()]);
  return out;
}

double StepHistory::threshold(double xi, double alpha, int workers) const {
  const double m = static_cast<double>(workers);
  return xi / (static_cast<double>(depth_) * alpha * alpha * m * m) * sum();
}

double StepHistory::lasg_threshold(double c, double alpha, int workers) const {
  const double m = static_cast<double>(workers);
  return c / (alpha * alpha * m * m) * sum();
}

}  // namespace lag
