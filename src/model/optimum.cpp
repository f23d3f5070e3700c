#include "lag/optimum.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "lag/error.hpp"
#include "lag/process_group.hpp"
#include "model/gradient.hpp"

namespace lag {

namespace {

using Matrix = std::vector<double>;  // d x d, row-major, symmetric

// In-place Cholesky G = R^T R (upper triangle). False if G is not numerically positive definite.
bool cholesky(Matrix& g, std::size_t d) {
  double max_diag = 0;
  for (std::size_t i = 0; i < d; ++i) max_diag = std::max(max_diag, g[i * d + i]);
  for (std::size_t i = 0; i < d; ++i) {
    double p = g[i * d + i];
    for (std::size_t k = 0; k < i; ++k) p -= g[k * d + i] * g[k * d + i];
    if (!(p > 1e-13 * max_diag)) return false;
    const double r = std::sqrt(p);
    g[i * d + i] = r;
    for (std::size_t j = i + 1; j < d; ++j) {
      double s = g[i * d + j];
      for (std::size_t k = 0; k < i; ++k) s -= g[k * d + i] * g[k * d + j];
      g[i * d + j] = s / r;
    }
  }
  return true;
}

// Solve R^T R x = b with the factor from cholesky().
std::vector<double> cholesky_solve(const Matrix& r, std::size_t d, std::vector<double> b) {
  for (std::size_t i = 0; i < d; ++i) {  // R^T z = b
    double s = b[i];
    for (std::size_t k = 0; k < i; ++k) s -= r[k * d + i] * b[k];
    b[i] = s / r[i * d + i];
  }
  for (std::size_t i = d; i-- > 0;) {  // R x = z
    double s = b[i];
    for (std::size_t k = i + 1; k < d; ++k) s -= r[i * d + k] * b[k];
    b[i] = s / r[i * d + i];
  }
  return b;
}

void symv(const Matrix& g, std::size_t d, const double* x, double* y) {
  const int n = static_cast<int>(d);
  cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, g.data(), n, x, 1, 0.0, y, 1);
}

// Conjugate gradients for a consistent positive semidefinite system (G x = b with b in the
// range of G, as for the normal equations), where Cholesky gives up.
std::vector<double> conjugate_gradients(const Matrix& g, std::size_t d,
                                        const std::vector<double>& b) {
  std::vector<double> x(d, 0.0), r = b, p = b, q(d);
  double rr = cpu::norm2(r.data(), d);
  const double stop = 1e-28 * std::max(rr, 1e-300);
  for (std::size_t it = 0; it < 20 * d + 100 && rr > stop; ++it) {
    symv(g, d, p.data(), q.data());
    const double pq = cpu::dot(p.data(), q.data(), d);
    if (!(pq > 0)) break;
    const double a = rr / pq;
    for (std::size_t j = 0; j < d; ++j) {
      x[j] += a * p[j];
      r[j] -= a * q[j];
    }
    const double rr_next = cpu::norm2(r.data(), d);
    for (std::size_t j = 0; j < d; ++j) p[j] = r[j] + rr_next / rr * p[j];
    rr = rr_next;
  }
  return x;
}

// Add sum over rows of w_i x_i x_i^T to the upper triangle of g (rows scaled by sqrt(w_i), then
// one dsyrk per block).
void add_weighted_gram(const Shard<double>& s, const std::vector<double>& w, Matrix& g) {
  const std::size_t d = s.dim, block = 1024;
  std::vector<double> scaled(block * d);
  for (std::size_t b0 = 0; b0 < s.rows; b0 += block) {
    const std::size_t rows = std::min(block, s.rows - b0);
    for (std::size_t i = 0; i < rows; ++i) {
      const double f = std::sqrt(w[b0 + i]);
      const double* x = s.row(b0 + i);
      for (std::size_t j = 0; j < d; ++j) scaled[i * d + j] = f * x[j];
    }
    const int n = static_cast<int>(d);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, static_cast<int>(rows), 1.0,
                scaled.data(), n, 1.0, g.data(), n);
  }
}

// The workers of this process, for the loops below.
struct OwnShards {
  const Dataset<double>& data;
  WorkerRange range;
  template <class F>
  void each(F f) const {
    for (int m = range.first; m < range.end; ++m) f(data.shards[static_cast<std::size_t>(m)]);
  }
};

// Least squares: X^T X and X^T y summed over the workers in worker order (each X_m^T X_m and
// X_m^T y_m formed alone), solved on rank 0; the value is summed over the workers again.
Optimum least_squares(const Dataset<double>& data, const ModelSpec& model, ProcessGroup& group) {
  const std::size_t d = data.dim;
  const int n = static_cast<int>(d);
  const OwnShards own{data, own_workers(group, data.workers())};
  OrderedSum gram_sum(group, data.workers(), d * d), rhs_sum(group, data.workers(), d);
  {
    Matrix piece(d * d);
    std::vector<double> rhs(d);
    own.each([&](const Shard<double>& s) {
      std::fill(piece.begin(), piece.end(), 0.0);
      std::fill(rhs.begin(), rhs.end(), 0.0);
      if (s.rows > 0) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, static_cast<int>(s.rows), 1.0,
                    s.x.data(), n, 1.0, piece.data(), n);
        cblas_dgemv(CblasRowMajor, CblasTrans, static_cast<int>(s.rows), n, 1.0, s.x.data(), n,
                    s.y.data(), 1, 1.0, rhs.data(), 1);
      }
      gram_sum.add(piece.data());
      rhs_sum.add(rhs.data());
    });
  }
  Matrix g = gram_sum.finish(OrderedSum::Deliver::Root);
  const std::vector<double> b = rhs_sum.finish(OrderedSum::Deliver::Root);
  Optimum out;
  out.theta.assign(d, 0.0);
  if (group.root()) {
    for (std::size_t i = 0; i < d; ++i)  // mirror the upper triangle for symv-free loops
      for (std::size_t j = 0; j < i; ++j) g[i * d + j] = g[j * d + i];
    Matrix r = g;
    if (cholesky(r, d)) {
      out.theta = cholesky_solve(r, d, b);
      // One step of iterative refinement recovers the digits lost to conditioning.
      std::vector<double> res(d);
      symv(g, d, out.theta.data(), res.data());
      for (std::size_t j = 0; j < d; ++j) res[j] = b[j] - res[j];
      const std::vector<double> fix = cholesky_solve(r, d, res);
      for (std::size_t j = 0; j < d; ++j) out.theta[j] += fix[j];
      out.method = "normal equations (Cholesky)";
    } else {
      out.theta = conjugate_gradients(g, d, b);
      out.method = "normal equations (conjugate gradients; X^T X is singular)";
    }
  }
  broadcast_values(group, out.theta);
  out.value = objective(data, model, out.theta, group);
  return out;
}

// Full logistic objective, gradient and Hessian at theta (fp64): each worker's share formed
// alone, the shares added in worker order and the sum delivered to every process, which all then
// take the same Newton steps (every decision depends on these sums and on this file's own
// arithmetic only, never on BLAS).
double logistic_newton_system(const Dataset<double>& data, double reg,
                              const std::vector<double>& theta, std::vector<double>& grad,
                              Matrix* hessian, ProcessGroup& group) {
  const std::size_t d = data.dim;
  const OwnShards own{data, own_workers(group, data.workers())};
  // One piece per worker: [loss, gradient (d), Hessian (d x d, upper triangle) when wanted].
  const std::size_t n = 1 + d + (hessian ? d * d : 0);
  OrderedSum sum(group, data.workers(), n);
  std::vector<double> piece(n), w, g(d);
  Matrix h;
  if (hessian) h.resize(d * d);
  own.each([&](const Shard<double>& s) {
    std::fill(g.begin(), g.end(), 0.0);
    piece[0] = cpu::accumulate_gradient(ModelKind::Logistic, s.x.data(), s.y.data(), s.rows, d,
                                        theta.data(), g.data());
    std::copy(g.begin(), g.end(), piece.begin() + 1);
    if (hessian) {
      w.resize(s.rows);
      for (std::size_t i = 0; i < s.rows; ++i) {
        const double z = cpu::dot(s.row(i), theta.data(), d);
        const double p = 1.0 / (1.0 + std::exp(-z));
        w[i] = p * (1.0 - p);
      }
      std::fill(h.begin(), h.end(), 0.0);
      add_weighted_gram(s, w, h);
      std::copy(h.begin(), h.end(), piece.begin() + static_cast<std::ptrdiff_t>(1 + d));
    }
    sum.add(piece.data());
  });
  const std::vector<double> total = sum.finish(OrderedSum::Deliver::Everywhere);
  double loss = total[0];
  std::copy(total.begin() + 1, total.begin() + static_cast<std::ptrdiff_t>(1 + d), grad.begin());
  if (hessian)
    std::copy(total.begin() + static_cast<std::ptrdiff_t>(1 + d), total.end(), hessian->begin());
  loss += 0.5 * reg * cpu::norm2(theta.data(), d);
  for (std::size_t j = 0; j < d; ++j) grad[j] += reg * theta[j];
  if (hessian) {
    for (std::size_t j = 0; j < d; ++j) (*hessian)[j * d + j] += reg;
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < i; ++j) (*hessian)[i * d + j] = (*hessian)[j * d + i];
  }
  return loss;
}

Optimum logistic(const Dataset<double>& data, const ModelSpec& model, ProcessGroup& group) {
  const std::size_t d = data.dim;
  const double reg = static_cast<double>(data.workers()) * model.lambda;  // M * lambda
  std::vector<double> theta(d, 0.0), grad(d), trial(d), trial_grad(d);
  Matrix h(d * d);
  double loss = logistic_newton_system(data, reg, theta, grad, &h, group);
  const double g0 = std::sqrt(cpu::norm2(grad.data(), d));
  for (int it = 0; it < 200; ++it) {
    const double gn = std::sqrt(cpu::norm2(grad.data(), d));
    if (gn <= 1e-12 * std::max(1.0, g0)) {
      Optimum out;
      out.theta = theta;
      out.value = loss;
      out.method = "Newton's method";
      return out;
    }
    Matrix r = h;
    if (!cholesky(r, d)) break;  // Hessian singular: no unique minimiser (lambda = 0)
    const std::vector<double> dir = cholesky_solve(r, d, grad);  // theta - t * dir
    const double slope = cpu::dot(grad.data(), dir.data(), d);
    double t = 1.0, trial_loss = 0;
    for (int ls = 0; ls < 60; ++ls, t *= 0.5) {
      for (std::size_t j = 0; j < d; ++j) trial[j] = theta[j] - t * dir[j];
      trial_loss = logistic_newton_system(data, reg, trial, trial_grad, nullptr, group);
      if (trial_loss <= loss - 1e-4 * t * slope) break;
    }
    if (!(trial_loss <= loss)) break;  // no decrease in double precision: as far as it goes
    theta = trial;
    loss = logistic_newton_system(data, reg, theta, grad, &h, group);
  }
  const double gn = std::sqrt(cpu::norm2(grad.data(), d));
  if (gn <= 1e-8 * std::max(1.0, g0)) {  // stalled at round-off, close enough to stationary
    Optimum out;
    out.theta = theta;
    out.value = loss;
    out.method = "Newton's method";
    return out;
  }
  std::ostringstream s;
  s << "could not find the logistic optimum by Newton's method (gradient norm " << gn
    << " after 200 steps): with --lambda 0 and separable data there is no minimiser; set "
       "--lambda > 0 or give --optimum VALUE";
  throw Error(s.str());
}

}  // namespace

double objective(const Dataset<double>& data, const ModelSpec& model,
                 const std::vector<double>& theta) {
  return objective(data, model, theta, single_process());
}

double objective(const Dataset<double>& data, const ModelSpec& model,
                 const std::vector<double>& theta, ProcessGroup& group) {
  OrderedSum sum(group, data.workers(), 1);
  const OwnShards own{data, own_workers(group, data.workers())};
  own.each([&](const Shard<double>& s) {
    const double loss =
        cpu::accumulate_loss(model.kind, s.x.data(), s.y.data(), s.rows, data.dim, theta.data());
    sum.add(&loss);
  });
  double loss = sum.finish(OrderedSum::Deliver::Everywhere)[0];
  if (model.kind == ModelKind::Logistic)
    loss += 0.5 * static_cast<double>(data.workers()) * model.lambda *
            cpu::norm2(theta.data(), data.dim);
  return loss;
}

Optimum solve_optimum(const Dataset<double>& data, const ModelSpec& model) {
  return solve_optimum(data, model, single_process());
}

Optimum solve_optimum(const Dataset<double>& data, const ModelSpec& model, ProcessGroup& group) {
  return model.kind == ModelKind::LeastSquares ? least_squares(data, model, group)
                                               : logistic(data, model, group);
}

}  // namespace lag
