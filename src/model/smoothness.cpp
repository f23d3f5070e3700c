#include "lag/smoothness.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "lag/error.hpp"
#include "lag/process_group.hpp"
#include "lag/random.hpp"
#include "model/gradient.hpp"

namespace lag {

namespace {

// Power iteration on a symmetric PSD operator; returns the Rayleigh quotient once it settles.
// It approaches lambda_max from below with an error that shrinks as the square of the
// eigenvector error; 1e-12 relative is far below what a step size needs.
template <class Apply>
double power_iteration(std::size_t d, int max_iters, Apply apply) {
  Random rng(0x1a9);  // a seeded Gaussian start is (almost surely) not orthogonal to the top
  std::vector<double> v(d), w(d);
  for (double& e : v) e = rng.normal();
  double lambda = 0;
  for (int it = 0; it < max_iters; ++it) {
    const double vn = std::sqrt(cpu::norm2(v.data(), d));
    if (vn == 0) return 0.0;  // the operator is zero on the start: all-zero data
    for (double& e : v) e /= vn;
    apply(v.data(), w.data());
    const double next = cpu::dot(v.data(), w.data(), d);
    v.swap(w);
    if (it > 0 && std::fabs(next - lambda) <= 1e-12 * std::fabs(next)) return next;
    lambda = next;
  }
  return lambda;
}

// Above this dimension the Gram matrix is not formed; the iteration passes over the rows.
constexpr std::size_t kMaxGramDim = 4096;

// g = X^T X of one shard (upper triangle, d x d) by BLAS.
void shard_gram(const Shard<double>& s, std::size_t d, std::vector<double>& g) {
  std::fill(g.begin(), g.end(), 0.0);
  const int n = static_cast<int>(d);
  if (s.rows > 0)
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, static_cast<int>(s.rows), 1.0, s.x.data(),
                n, 1.0, g.data(), n);
}

// lambda_max of a Gram matrix: n d^2 flops to form it, then cheap d^2 iterations, robust even
// when the top eigenvalue is barely separated, as for Gaussian rows.
double gram_lambda_max(const std::vector<double>& g, std::size_t d, int max_iters) {
  const int n = static_cast<int>(d);
  return power_iteration(d, std::max(max_iters, 20000), [&](const double* v, double* w) {
    cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, g.data(), n, v, 1, 0.0, w, 1);
  });
}

// w = X^T X v over one shard's rows, from zero.
void shard_gram_times(const Shard<double>& s, std::size_t d, const double* v, double* w) {
  std::fill(w, w + d, 0.0);
  for (std::size_t i = 0; i < s.rows; ++i) {
    const double* x = s.row(i);
    const double c = cpu::dot(x, v, d);
    for (std::size_t j = 0; j < d; ++j) w[j] += c * x[j];
  }
}

void add_to(std::vector<double>& sum, const std::vector<double>& v) {
  for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += v[j];
}

}  // namespace

// Several shards: their Gram matrices (or, above kMaxGramDim, their products with v) are formed
// one shard at a time and added in shard order, as smoothness_constants adds the workers'.
double lambda_max_gram(const std::vector<const Shard<double>*>& shards, int max_iters) {
  if (shards.empty()) return 0.0;
  const std::size_t d = shards.front()->dim;
  if (d <= kMaxGramDim) {
    std::vector<double> gram(d * d, 0.0), piece(d * d);
    for (const Shard<double>* s : shards) {
      shard_gram(*s, d, piece);
      add_to(gram, piece);
    }
    return gram_lambda_max(gram, d, max_iters);
  }
  std::vector<double> piece(d);
  return power_iteration(d, max_iters, [&](const double* v, double* w) {
    std::fill(w, w + d, 0.0);
    for (const Shard<double>* s : shards) {
      shard_gram_times(*s, d, v, piece.data());
      for (std::size_t j = 0; j < d; ++j) w[j] += piece[j];
    }
  });
}

Smoothness smoothness_constants(const Dataset<double>& data, const ModelSpec& model) {
  return smoothness_constants(data, model, single_process());
}

Smoothness smoothness_constants(const Dataset<double>& data, const ModelSpec& model,
                                ProcessGroup& group) {
  if (model.kind == ModelKind::Mlp)
    throw Error("the MLP has no closed-form smoothness constant; estimate it (estimate_curvature)");
  const int M = data.workers();
  const WorkerRange own = own_workers(group, M);
  const std::size_t d = data.dim;
  const auto shard = [&](int m) -> const Shard<double>& {
    return data.shards[static_cast<std::size_t>(m)];
  };
  std::vector<double> mine;  // lambda_max(X_m^T X_m) of this process's workers
  std::vector<double> global(1, 0.0);
  if (d <= kMaxGramDim) {
    // X^T X = sum_m X_m^T X_m in worker order: each G_m serves its own L_m first.
    OrderedSum gram(group, M, d * d);
    std::vector<double> piece(d * d);
    for (int m = own.first; m < own.end; ++m) {
      shard_gram(shard(m), d, piece);
      mine.push_back(gram_lambda_max(piece, d, 2000));
      gram.add(piece.data());
    }
    const std::vector<double> total = gram.finish(OrderedSum::Deliver::Root);
    if (group.root()) global[0] = gram_lambda_max(total, d, 2000);
    broadcast_values(group, global);
  } else {
    for (int m = own.first; m < own.end; ++m) mine.push_back(lambda_max_gram({&shard(m)}));
    // X^T X v = sum_m X_m^T X_m v, the sum on every process, which all iterate alike.
    std::vector<double> piece(d);
    global[0] = power_iteration(d, 2000, [&](const double* v, double* w) {
      OrderedSum sum(group, M, d);
      for (int m = own.first; m < own.end; ++m) {
        shard_gram_times(shard(m), d, v, piece.data());
        sum.add(piece.data());
      }
      const std::vector<double> total = sum.finish(OrderedSum::Deliver::Everywhere);
      std::copy(total.begin(), total.end(), w);
    });
  }
  Smoothness out;
  out.worker = gather_workers(group, M, mine);
  out.global = global[0];
  if (model.kind != ModelKind::LeastSquares) {
    const double c = model.kind == ModelKind::Logistic ? 0.25 : 0.5;
    for (double& l : out.worker) l = c * l + model.lambda;
    out.global = c * out.global + static_cast<double>(M) * model.lambda;
  }
  return out;
}

}  // namespace lag
