// Small data sets and wrappers shared by the tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/random.hpp"

namespace lag::test {

// M shards of `rows` Gaussian rows, shard m scaled by (1 + m); targets x.theta_true (+ noise)
// for least squares, or +-1 drawn from the logistic model.
inline Dataset<double> gaussian_data(int workers, std::size_t rows, std::size_t dim, bool logistic,
                                     double noise, std::uint64_t seed,
                                     std::vector<double>* theta_true = nullptr) {
  Random rng(seed);
  std::vector<double> theta(dim);
  for (double& t : theta) t = rng.normal();
  if (theta_true) *theta_true = theta;
  Dataset<double> d;
  d.dim = dim;
  for (int m = 0; m < workers; ++m) {
    Shard<double> s;
    s.source = "gaussian[" + std::to_string(m) + "]";
    s.rows = rows;
    s.dim = dim;
    s.x.resize(rows * dim);
    s.y.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      double z = 0;
      for (std::size_t j = 0; j < dim; ++j) {
        const double v = rng.normal() * (1.0 + m) / std::sqrt(static_cast<double>(dim));
        s.x[i * dim + j] = v;
        z += v * theta[j];
      }
      if (logistic)
        s.y[i] = rng.uniform() < 1.0 / (1.0 + std::exp(-z)) ? 1.0 : -1.0;
      else
        s.y[i] = z + noise * rng.normal();
    }
    d.shards.push_back(std::move(s));
  }
  return d;
}

// grad L_m(theta) = X_m^T (X_m theta - y_m) of least squares, row by row: a reference written
// independently of the CPU kernels.
inline std::vector<double> least_squares_gradient(const Shard<double>& s,
                                                  const std::vector<double>& theta) {
  std::vector<double> g(theta.size(), 0.0);
  for (std::size_t i = 0; i < s.rows; ++i) {
    double r = -s.y[i];
    for (std::size_t j = 0; j < theta.size(); ++j) r += s.x[i * theta.size() + j] * theta[j];
    for (std::size_t j = 0; j < theta.size(); ++j) g[j] += s.x[i * theta.size() + j] * r;
  }
  return g;
}

// Forwards to a real cluster and counts, independently of the ledger, what actually moved.
template <class T>
class CountingCluster final : public Cluster<T> {
 public:
  explicit CountingCluster(Cluster<T>& inner) : inner_(inner) {}
  int workers() const override { return inner_.workers(); }
  std::size_t dim() const override { return inner_.dim(); }
  void reset(const std::vector<double>& theta0, const Sampling& sampling) override {
    inner_.reset(theta0, sampling);
    uploads.clear();
    rounds.clear();
    computes.clear();
  }
  void compute(const Flags& s) override {
    computes.push_back(s);
    inner_.compute(s);
  }
  void trigger(const Round& r, const Flags& s, Flags& f) override { inner_.trigger(r, s, f); }
  void select_and_compute(double tau, const std::vector<double>& l, const Flags& forced,
                          Flags& selected) override {
    inner_.select_and_compute(tau, l, forced, selected);
    computes.push_back(selected);
  }
  Evaluation evaluate() override { return inner_.evaluate(); }
  void upload(const Flags& senders, const Round& round) override {
    uploads.push_back(senders);
    rounds.push_back(round);
    inner_.upload(senders, round);
  }
  double step(double s) override { return inner_.step(s); }
  // Forwarded whole, so that a backend's own exchange (a CUDA graph) is what runs; the senders
  // it reports are recorded as that iteration's upload.
  double exchange(const Round& round, const Flags& selected, double step_size,
                  Flags& fire) override {
    const double change2 = inner_.exchange(round, selected, step_size, fire);
    uploads.push_back(fire);
    rounds.push_back(round);
    return change2;
  }
  bool agree(bool value) override { return inner_.agree(value); }
  std::vector<T> theta() const override { return inner_.theta(); }
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override {
    inner_.take_physical_bytes(up, down);
  }

  std::vector<Flags> uploads;   // senders of each upload() or exchange() call, in order
  std::vector<Round> rounds;    // ... and its round
  std::vector<Flags> computes;  // selected workers of each compute() call

 private:
  Cluster<T>& inner_;
};

// The largest eigenvalue of the symmetric n x n matrix `a` (row-major) by cyclic Jacobi
// rotations: an eigen-solve independent of the power iteration under test.
inline double largest_eigenvalue(std::vector<double> a, std::size_t n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) (i == j ? diag : off) += a[i * n + j] * a[i * n + j];
    if (off <= 1e-30 * diag) break;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        // The rotation in the (p, q) plane that zeroes a_pq (Golub & Van Loan, 8.5.2).
        const double tau = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1 + tau * tau));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A <- A J
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // A <- J^T A
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  double top = a[0];
  for (std::size_t i = 1; i < n; ++i) top = std::max(top, a[i * n + i]);
  return top;
}

// X^T X of a shard, row-major d x d, accumulated into `out`.
inline void add_gram(const Shard<double>& s, std::vector<double>& out) {
  for (std::size_t i = 0; i < s.rows; ++i)
    for (std::size_t a = 0; a < s.dim; ++a)
      for (std::size_t b = 0; b < s.dim; ++b) out[a * s.dim + b] += s.row(i)[a] * s.row(i)[b];
}

// lambda_max(X_m^T X_m) of each shard and lambda_max(X^T X) of all rows, by the Jacobi solve.
struct GramTops {
  std::vector<double> worker;
  double total = 0;
};
inline GramTops gram_top_eigenvalues(const Dataset<double>& data) {
  const std::size_t d = data.dim;
  GramTops tops;
  std::vector<double> total(d * d, 0.0);
  for (const auto& shard : data.shards) {
    std::vector<double> gram(d * d, 0.0);
    add_gram(shard, gram);
    add_gram(shard, total);
    tops.worker.push_back(largest_eigenvalue(gram, d));
  }
  tops.total = largest_eigenvalue(total, d);
  return tops;
}

// ||a - b|| / ||b|| (b = 0 counts as a tiny norm); infinite when the lengths differ.
inline double relative_distance(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return HUGE_VAL;
  double num = 0, den = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    num += (a[j] - b[j]) * (a[j] - b[j]);
    den += b[j] * b[j];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

// ---- pieces of the reference loops (tests/engine: written from the rules, not the engine) ----

inline double norm2(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return s;
}

// What a reference loop records: each iteration's uploads, and the smallest relative margin of
// its decisions (a decision at rounding level makes a comparison with the engine meaningless).
struct ReferenceTrace {
  std::vector<Flags> uploads;
  std::vector<double> margins;
  std::vector<double> theta;  // the last iterate
};

// The server's step: theta <- theta - alpha * aggregate, its squared length appended to `steps`,
// and the iteration's senders and margin to the trace.
inline void reference_step(std::vector<double>& theta, const std::vector<double>& aggregate,
                           double alpha, std::vector<double>& steps, ReferenceTrace& trace,
                           const Flags& senders, double margin) {
  std::vector<double> next(theta.size()), diff(theta.size());
  for (std::size_t j = 0; j < theta.size(); ++j) next[j] = theta[j] - alpha * aggregate[j];
  for (std::size_t j = 0; j < theta.size(); ++j) diff[j] = next[j] - theta[j];
  steps.push_back(norm2(diff));
  theta = next;
  trace.uploads.push_back(senders);
  trace.margins.push_back(margin);
}

inline std::uint64_t count_flags(const Flags& f) {
  std::uint64_t n = 0;
  for (auto v : f) n += v;
  return n;
}

}  // namespace lag::test
