#include "lag/optimum.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "cpu/gradient.hpp"
#include "lag/error.hpp"

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

Optimum least_squares(const Dataset<double>& data, const ModelSpec& model) {
  const std::size_t d = data.dim;
  const int n = static_cast<int>(d);
  Matrix g(d * d, 0.0);
  std::vector<double> b(d, 0.0);
  for (const auto& s : data.shards) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, static_cast<int>(s.rows), 1.0, s.x.data(),
                n, 1.0, g.data(), n);
    cblas_dgemv(CblasRowMajor, CblasTrans, static_cast<int>(s.rows), n, 1.0, s.x.data(), n,
                s.y.data(), 1, 1.0, b.data(), 1);
  }
  for (std::size_t i = 0; i < d; ++i)  // mirror the upper triangle for symv-free loops
    for (std::size_t j = 0; j < i; ++j) g[i * d + j] = g[j * d + i];
  Optimum out;
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
  out.value = objective(data, model, out.theta);
  return out;
}

// Full logistic objective, gradient and Hessian at theta (fp64).
double logistic_newton_system(const Dataset<double>& data, double reg,
                              const std::vector<double>& theta, std::vector<double>& grad,
                              Matrix* hessian) {
  const std::size_t d = data.dim;
  std::fill(grad.begin(), grad.end(), 0.0);
  if (hessian) std::fill(hessian->begin(), hessian->end(), 0.0);
  double loss = 0;
  std::vector<double> w;
  for (const auto& s : data.shards) {
    loss += cpu::accumulate_gradient(ModelKind::Logistic, s.x.data(), s.y.data(), s.rows, d,
                                     theta.data(), grad.data());
    if (hessian) {
      w.resize(s.rows);
      for (std::size_t i = 0; i < s.rows; ++i) {
        const double z = cpu::dot(s.row(i), theta.data(), d);
        const double p = 1.0 / (1.0 + std::exp(-z));
        w[i] = p * (1.0 - p);
      }
      add_weighted_gram(s, w, *hessian);
    }
  }
  loss += 0.5 * reg * cpu::norm2(theta.data(), d);
  for (std::size_t j = 0; j < d; ++j) grad[j] += reg * theta[j];
  if (hessian) {
    for (std::size_t j = 0; j < d; ++j) (*hessian)[j * d + j] += reg;
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < i; ++j) (*hessian)[i * d + j] = (*hessian)[j * d + i];
  }
  return loss;
}

Optimum logistic(const Dataset<double>& data, const ModelSpec& model) {
  const std::size_t d = data.dim;
  const double reg = static_cast<double>(data.workers()) * model.lambda;  // M * lambda
  std::vector<double> theta(d, 0.0), grad(d), trial(d), trial_grad(d);
  Matrix h(d * d);
  double loss = logistic_newton_system(data, reg, theta, grad, &h);
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
      trial_loss = logistic_newton_system(data, reg, trial, trial_grad, nullptr);
      if (trial_loss <= loss - 1e-4 * t * slope) break;
    }
    if (!(trial_loss <= loss)) break;  // no decrease in double precision: as far as it goes
    theta = trial;
    loss = logistic_newton_system(data, reg, theta, grad, &h);
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
  double loss = 0;
  for (const auto& s : data.shards)
    loss +=
        cpu::accumulate_loss(model.kind, s.x.data(), s.y.data(), s.rows, data.dim, theta.data());
  if (model.kind == ModelKind::Logistic)
    loss += 0.5 * static_cast<double>(data.workers()) * model.lambda *
            cpu::norm2(theta.data(), data.dim);
  return loss;
}

Optimum solve_optimum(const Dataset<double>& data, const ModelSpec& model) {
  return model.kind == ModelKind::LeastSquares ? least_squares(data, model) : logistic(data, model);
}

}  // namespace lag
