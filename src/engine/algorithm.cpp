#include "lag/algorithm.hpp"

#include <algorithm>

#include "lag/error.hpp"

namespace lag {

namespace {
struct NamedAlgorithm {
  const char* name;
  Algorithm algo;
};
constexpr NamedAlgorithm kAlgorithms[] = {{"gd", Algorithm::GD},
                                          {"lag-wk", Algorithm::LagWK},
                                          {"lag-ps", Algorithm::LagPS},
                                          {"cyc-iag", Algorithm::CycIAG},
                                          {"num-iag", Algorithm::NumIAG}};
}  // namespace

Algorithm parse_algorithm(const std::string& name) {
  for (const auto& a : kAlgorithms)
    if (name == a.name) return a.algo;
  throw Error("unknown algorithm '" + name + "' (expected gd, lag-wk, lag-ps, cyc-iag or num-iag)");
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

double default_xi(Algorithm a) { return a == Algorithm::LagPS ? 10.0 : 1.0; }

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

}  // namespace lag
