#include "lag/smoothness.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "cpu/gradient.hpp"
#include "lag/error.hpp"
#include "lag/random.hpp"

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

}  // namespace

double lambda_max_gram(const std::vector<const Shard<double>*>& shards, int max_iters) {
  if (shards.empty()) return 0.0;
  const std::size_t d = shards.front()->dim;
  const int n = static_cast<int>(d);
  if (d <= kMaxGramDim) {
    // G = X^T X once through BLAS (n d^2 flops), then cheap d^2 iterations: robust even when
    // the top eigenvalue is barely separated, as for Gaussian rows.
    std::vector<double> gram(d * d, 0.0);
    for (const Shard<double>* s : shards)
      if (s->rows > 0)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, static_cast<int>(s->rows), 1.0,
                    s->x.data(), n, 1.0, gram.data(), n);
    return power_iteration(d, std::max(max_iters, 20000), [&](const double* v, double* w) {
      cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, gram.data(), n, v, 1, 0.0, w, 1);
    });
  }
  return power_iteration(d, max_iters, [&](const double* v, double* w) {
    std::fill(w, w + d, 0.0);
    for (const Shard<double>* s : shards)
      for (std::size_t i = 0; i < s->rows; ++i) {
        const double* x = s->row(i);
        const double c = cpu::dot(x, v, d);
        for (std::size_t j = 0; j < d; ++j) w[j] += c * x[j];
      }
  });
}

Smoothness smoothness_constants(const Dataset<double>& data, const ModelSpec& model) {
  if (model.kind == ModelKind::Mlp)
    throw Error("the MLP has no closed-form smoothness constant; estimate it (estimate_curvature)");
  Smoothness out;
  std::vector<const Shard<double>*> all;
  for (const auto& s : data.shards) {
    all.push_back(&s);
    out.worker.push_back(lambda_max_gram({&s}));
  }
  out.global = lambda_max_gram(all);
  if (model.kind != ModelKind::LeastSquares) {
    const double c = model.kind == ModelKind::Logistic ? 0.25 : 0.5;
    for (double& l : out.worker) l = c * l + model.lambda;
    out.global = c * out.global + static_cast<double>(data.workers()) * model.lambda;
  }
  return out;
}

}  // namespace lag
