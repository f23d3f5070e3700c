// Seeded synthetic data sets for `lag gen` and the tests. Every draw comes from lag::Random, so a
// seed names the same data on every platform (up to the last-bit behaviour of libm's log, sin,
// cos, exp and pow, which the C++ standard does not pin down).
#include "lag/synthetic.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lag/error.hpp"
#include "lag/random.hpp"

namespace lag {
namespace {

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Where each kind of label first appears, counting row i as line i + 1 (the line it has in the
// files write_shards produces, which carry no header).
LabelCensus census_of(const std::vector<double>& y) {
  LabelCensus c;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::size_t line = i + 1;
    const double v = y[i];
    if (v == 0.0) {
      if (c.first_zero == 0) c.first_zero = line;
    } else if (v == 1.0) {
      if (c.first_plus_one == 0) c.first_plus_one = line;
    } else if (v == -1.0) {
      if (c.first_minus_one == 0) c.first_minus_one = line;
    } else if (c.first_other == 0) {
      c.first_other = line;
      c.other_value = v;
    }
  }
  return c;
}

// rows * dim must fit in memory's address arithmetic before we try to allocate it.
void check_size(std::size_t rows, std::size_t dim, const char* what) {
  if (dim != 0 && rows > std::numeric_limits<std::size_t>::max() / sizeof(double) / dim) {
    throw Error(std::string(what) + " is too large to hold in memory");
  }
}

double sigmoid(double t) {
  // Two branches so that exp never overflows: for t < 0, exp(t) <= 1.
  if (t >= 0.0) return 1.0 / (1.0 + std::exp(-t));
  const double e = std::exp(t);
  return e / (1.0 + e);
}

}  // namespace

Dataset<double> make_paper_linear(const PaperLinearSpec& spec) {
  if (spec.workers < 1) {
    throw Error("--workers must be at least 1 (got " + std::to_string(spec.workers) + ")");
  }
  const auto workers = static_cast<std::size_t>(spec.workers);
  const std::size_t d = spec.dim;
  if (d < workers) {
    throw Error(
        "--dim must be at least --workers for the paper-linear data set, since each "
        "worker gets its own orthogonal direction (got --dim " +
        std::to_string(d) + ", --workers " + std::to_string(workers) + ")");
  }
  if (!std::isfinite(spec.growth) || !(spec.growth > 0.0)) {
    throw Error("--growth must be a positive finite number (got " + fmt_double(spec.growth) + ")");
  }
  check_size(d, d, "--dim squared");
  // growth^(M-1) is the largest scale; catch overflow here rather than emit infinities.
  if (!std::isfinite(std::pow(spec.growth, static_cast<double>(workers - 1)))) {
    throw Error("--growth " + fmt_double(spec.growth) + " raised to --workers - 1 overflows");
  }

  Random rng(spec.seed);

  // Only the first M columns of the random orthogonal matrix Q are used. Gram-Schmidt column j
  // depends only on columns 1..j of the Gaussian matrix, so drawing just those M columns (column
  // by column) gives exactly the first M columns of a Haar-random Q, at O(d M) cost, not O(d^2).
  std::vector<std::vector<double>> q(workers, std::vector<double>(d));
  for (std::size_t j = 0; j < workers; ++j) {
    for (std::size_t i = 0; i < d; ++i) q[j][i] = rng.normal();
  }
  // Modified Gram-Schmidt, applied twice per column ("twice is enough", Kahan/Parlett): one pass
  // leaves an orthogonality error proportional to the condition number; the second brings it to
  // rounding level (~1e-16) whatever the draw.
  for (std::size_t j = 0; j < workers; ++j) {
    std::vector<double>& v = q[j];
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t k = 0; k < j; ++k) {
        double r = 0.0;
        for (std::size_t i = 0; i < d; ++i) r += q[k][i] * v[i];
        for (std::size_t i = 0; i < d; ++i) v[i] -= r * q[k][i];
      }
    }
    double norm2 = 0.0;
    for (std::size_t i = 0; i < d; ++i) norm2 += v[i] * v[i];
    const double norm = std::sqrt(norm2);
    // A Gaussian matrix is singular with probability zero; this guards against the impossible.
    if (!(norm > 1e-300)) throw Error("paper-linear: degenerate random basis; try another --seed");
    for (std::size_t i = 0; i < d; ++i) v[i] /= norm;
  }

  // One target vector, shared by every shard (the paper's setup).
  std::vector<double> y(d);
  for (auto& v : y) v = rng.normal();
  const LabelCensus census = census_of(y);

  Dataset<double> data;
  data.dim = d;
  data.shards.reserve(workers);
  for (std::size_t m = 0; m < workers; ++m) {
    const double a = std::pow(spec.growth, static_cast<double>(m));
    const std::vector<double>& qm = q[m];
    Shard<double> s;
    s.source = "paper-linear[" + std::to_string(m + 1) + "]";
    s.rows = d;
    s.dim = d;
    s.x.resize(d * d);
    for (std::size_t i = 0; i < d; ++i) {
      double* row = s.x.data() + i * d;
      // a * (q_i q_j): the product q_i q_j is commutative, so X_m comes out exactly symmetric.
      for (std::size_t j = 0; j < d; ++j) row[j] = a * (qm[i] * qm[j]);
      row[i] += 1.0;
    }
    s.y = y;
    s.labels = census;
    data.shards.push_back(std::move(s));
  }
  return data;
}

Dataset<double> make_hetero(const HeteroSpec& spec) {
  if (spec.workers < 1) {
    throw Error("--workers must be at least 1 (got " + std::to_string(spec.workers) + ")");
  }
  if (spec.rows < 1) throw Error("--rows must be at least 1 (got 0)");
  if (spec.dim < 1) throw Error("--dim must be at least 1 (got 0)");
  if (!std::isfinite(spec.spread) || !(spec.spread >= 1.0)) {
    throw Error("--spread must be a finite number >= 1 (got " + fmt_double(spec.spread) + ")");
  }
  if (!spec.logistic && (!std::isfinite(spec.noise) || !(spec.noise >= 0.0))) {
    throw Error("--noise must be a finite number >= 0 (got " + fmt_double(spec.noise) + ")");
  }
  const auto workers = static_cast<std::size_t>(spec.workers);
  const std::size_t n = spec.rows;
  const std::size_t d = spec.dim;
  check_size(n, d, "--rows times --dim");

  Random rng(spec.seed);

  // Planted model first, so that it does not depend on the number or size of the shards.
  std::vector<double> theta(d);
  const double theta_scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (auto& t : theta) t = rng.normal() * theta_scale;

  Dataset<double> data;
  data.dim = d;
  data.shards.reserve(workers);
  const char* kind = spec.logistic ? "hetero-logistic[" : "hetero-linear[";
  for (std::size_t m = 0; m < workers; ++m) {
    // s_m^2 runs geometrically from 1 to `spread`, and L_m scales with s_m^2.
    const double scale = workers == 1
                             ? 1.0
                             : std::pow(spec.spread, static_cast<double>(m) /
                                                         (2.0 * static_cast<double>(workers - 1)));
    Shard<double> s;
    s.source = kind + std::to_string(m + 1) + "]";
    s.rows = n;
    s.dim = d;
    s.x.resize(n * d);
    s.y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      double* row = s.x.data() + i * d;
      double t = 0.0;
      for (std::size_t j = 0; j < d; ++j) {
        row[j] = rng.normal() * scale;
        t += row[j] * theta[j];
      }
      if (spec.logistic) {
        s.y[i] = rng.uniform() < sigmoid(t) ? 1.0 : -1.0;
      } else {
        s.y[i] = t + spec.noise * rng.normal();
      }
    }
    s.labels = census_of(s.y);
    data.shards.push_back(std::move(s));
  }
  return data;
}

}  // namespace lag
