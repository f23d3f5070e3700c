// Softmax regression and the MLP: gradients against finite differences, the fp32 kernels against
// the fp64 ones, the curvature estimate against its closed form at theta = 0, and training runs
// that must reach a stated test accuracy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../test_helpers.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/smoothness.hpp"
#include "model/curvature.hpp"
#include "model/loss_kernels.hpp"
#include "model/test_evaluator.hpp"

namespace lag {
namespace {

// K Gaussian blobs in `dim` dimensions (unit variance around centers at distance ~3), with a
// bias feature; labels are class indices. Workers hold rows of every class.
Dataset<double> blobs(int workers, std::size_t rows, std::size_t dim, int classes,
                      std::uint64_t seed) {
  Random centers_rng(99);
  std::vector<double> centers(static_cast<std::size_t>(classes) * dim);
  for (double& c : centers) c = 1.5 * centers_rng.normal();
  Random rng(seed);
  Dataset<double> d;
  d.dim = dim + 1;
  for (int m = 0; m < workers; ++m) {
    Shard<double> s;
    s.source = "blobs[" + std::to_string(m) + "]";
    s.rows = rows;
    s.dim = dim + 1;
    for (std::size_t i = 0; i < rows; ++i) {
      const auto k = static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(classes)));
      for (std::size_t j = 0; j < dim; ++j) s.x.push_back(centers[k * dim + j] + rng.normal());
      s.x.push_back(1.0);
      s.y.push_back(static_cast<double>(k));
    }
    d.shards.push_back(std::move(s));
  }
  return d;
}

void expect_gradient_matches_finite_differences(const ModelSpec& model) {
  const auto data = blobs(1, 37, 5, model.classes, 3);
  const Shard<double>& s = data.shards[0];
  const auto kernel = cpu::make_loss_kernel<double>(model, s.dim);
  std::vector<double> theta = initial_parameters(model, s.dim, 7);
  if (theta.empty()) {
    Random rng(4);
    theta.resize(parameter_count(model, s.dim));
    for (double& t : theta) t = 0.3 * rng.normal();
  }
  std::vector<double> g(theta.size(), 0.0), scratch;
  const double loss =
      kernel->gradient(s.x.data(), s.y.data(), s.rows, theta.data(), g.data(), scratch);
  auto loss_at = [&](const std::vector<double>& t) {
    std::size_t correct = 0;
    return kernel->evaluate(s.x.data(), s.y.data(), s.rows, t.data(), scratch, correct);
  };
  EXPECT_NEAR(loss, loss_at(theta), 1e-12 * loss);
  const double h = 1e-6;
  for (std::size_t j = 0; j < theta.size(); ++j) {
    auto plus = theta, minus = theta;
    plus[j] += h;
    minus[j] -= h;
    const double fd = (loss_at(plus) - loss_at(minus)) / (2 * h);
    EXPECT_NEAR(g[j], fd, 1e-6 * std::max(1.0, std::fabs(fd))) << "parameter " << j;
  }
}

TEST(Multiclass, SoftmaxGradientMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(ModelSpec{ModelKind::Softmax, 0, 4, 0});
}

TEST(Multiclass, MlpGradientMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(ModelSpec{ModelKind::Mlp, 0, 3, 6});
}

TEST(Multiclass, SoftmaxGradientOverManyBlocksMatchesOneRowAtATime) {
  // More rows than one GEMM block: the blocked sum must equal the row-by-row sum.
  const ModelSpec model{ModelKind::Softmax, 0, 3, 0};
  const auto data = blobs(1, 2 * cpu::kGemmRows + 13, 4, 3, 5);
  const Shard<double>& s = data.shards[0];
  const auto kernel = cpu::make_loss_kernel<double>(model, s.dim);
  std::vector<double> theta(parameter_count(model, s.dim), 0.05), g(theta.size(), 0.0),
      g1(theta.size(), 0.0), scratch;
  const double loss =
      kernel->gradient(s.x.data(), s.y.data(), s.rows, theta.data(), g.data(), scratch);
  double loss1 = 0;
  for (std::size_t i = 0; i < s.rows; ++i)
    loss1 += kernel->gradient(s.row(i), &s.y[i], 1, theta.data(), g1.data(), scratch);
  EXPECT_NEAR(loss, loss1, 1e-10 * loss);
  for (std::size_t j = 0; j < g.size(); ++j) EXPECT_NEAR(g[j], g1[j], 1e-9 * (1 + std::fabs(g[j])));
}

// The fp32 kernels against the fp64 ones on the same inputs: data and theta are rounded to fp32
// first and both precisions get exactly those values, so only the arithmetic differs.
//
// Tolerance, from fp32's e = 2^-23 (twice the unit roundoff u, which absorbs the small constants
// of first-order error bounds). Each gradient entry is a sum over the N rows of per-row terms
// bounded by B_n (|p - onehot| <= 1 per entry and <= 2 summed over classes, |tanh| <= 1); fp32
// sums them, in any order, within N u sum_n B_n. Each term also carries the error of what it is
// made of: a dot product of length <= w + 1 (w = max(d, h, K)) of terms bounded in sum by Z is
// off by <= (w + 1) Z u, softmax at most doubles that (its infinity-norm Lipschitz constant is
// 2) and tanh passes it on (1-Lipschitz); the MLP's second layer multiplies the first layer's
// error by Z again. So a term is off by <= 2 (w + 1) (1 + Z)^layers e relative to B_n, and
// |g32 - g64| <= (N + 2 (w + 1) (1 + Z)^layers) e sum_n B_n per entry; a row's loss is
// 2-Lipschitz in its logits and is summed in fp64, so |loss32 - loss64| <= N times the same
// per-term factor. These worst cases come to 2e-5 (softmax) and 6e-5 (MLP) of sum_n B_n here,
// over 1000 times what is measured; a dropped row or block, a GEMM with the wrong stride or
// transpose, or a wrong float label cast moves entries by O(|x|) (~1e-2 of sum_n B_n), far beyond.
struct Fp32Inputs {
  std::size_t rows = 150;  // three GEMM blocks, the last one partial
  std::size_t dim = 7;     // six features in [-1, 1] and the bias
  std::vector<double> x, y, theta;
};

Fp32Inputs fp32_inputs(const ModelSpec& model) {
  Fp32Inputs in;
  const auto round = [](double v) { return static_cast<double>(static_cast<float>(v)); };
  Random rng(12);
  for (std::size_t i = 0; i < in.rows; ++i) {
    for (std::size_t j = 0; j + 1 < in.dim; ++j) in.x.push_back(round(2 * rng.uniform() - 1));
    in.x.push_back(1.0);
    in.y.push_back(static_cast<double>(rng.below(static_cast<std::uint64_t>(model.classes))));
  }
  // The MLP's Glorot start (or 0) plus noise, so that biases and all weights are non-zero.
  in.theta = initial_parameters(model, in.dim, 13);
  if (in.theta.empty()) in.theta.assign(parameter_count(model, in.dim), 0.0);
  for (double& t : in.theta) t = round(t + 0.3 * rng.normal());
  return in;
}

void expect_fp32_kernel_matches_fp64(const ModelSpec& model) {
  const Fp32Inputs in = fp32_inputs(model);
  const std::size_t n = in.rows, d = in.dim, k = static_cast<std::size_t>(model.classes),
                    h = static_cast<std::size_t>(model.hidden), params = in.theta.size();
  const std::vector<float> xf(in.x.begin(), in.x.end()), yf(in.y.begin(), in.y.end()),
      thetaf(in.theta.begin(), in.theta.end());
  const auto k64 = cpu::make_loss_kernel<double>(model, d);
  const auto k32 = cpu::make_loss_kernel<float>(model, d);
  std::vector<double> g64(params, 0.0), s64;
  std::vector<float> g32(params, 0.0f), s32;
  const double loss64 =
      k64->gradient(in.x.data(), in.y.data(), n, in.theta.data(), g64.data(), s64);
  const double loss32 = k32->gradient(xf.data(), yf.data(), n, thetaf.data(), g32.data(), s32);

  // bound[j]: sum over rows of a bound on parameter j's per-row gradient (B above); z: Z.
  const auto xa = [&](std::size_t i, std::size_t j) { return std::fabs(in.x[i * d + j]); };
  const double* t = in.theta.data();
  std::vector<double> bound(params, 0.0);
  double z = 0;
  int layers = 1;
  if (model.kind == ModelKind::Softmax) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < k; ++c) {
        double logit = 0;
        for (std::size_t j = 0; j < d; ++j) {
          bound[c * d + j] += xa(i, j);  // |p_c - onehot_c| |x_j|
          logit += std::fabs(t[c * d + j]) * xa(i, j);
        }
        z = std::max(z, logit);
      }
  } else {
    layers = 2;
    const double *w1 = t, *b1 = w1 + h * d, *w2 = b1 + h;
    const std::size_t gb1 = h * d, gw2 = gb1 + h, gb2 = gw2 + k * h;
    for (std::size_t u = 0; u < h; ++u) {
      double w2max = 0;  // |dL/da_u| <= sum_c |p_c - onehot_c| |W2_cu| <= 2 max_c |W2_cu|
      for (std::size_t c = 0; c < k; ++c) w2max = std::max(w2max, std::fabs(w2[c * h + u]));
      for (std::size_t i = 0; i < n; ++i) {
        double pre = std::fabs(b1[u]);
        for (std::size_t j = 0; j < d; ++j) {
          bound[u * d + j] += 2 * w2max * xa(i, j);
          pre += std::fabs(w1[u * d + j]) * xa(i, j);
        }
        bound[gb1 + u] += 2 * w2max;
        z = std::max(z, pre);
      }
    }
    for (std::size_t c = 0; c < k; ++c) {
      double logit = std::fabs(t[gb2 + c]);  // |a_u| <= 1
      for (std::size_t u = 0; u < h; ++u) {
        bound[gw2 + c * h + u] = static_cast<double>(n);  // |p_c - onehot_c| |a_u| <= 1
        logit += std::fabs(w2[c * h + u]);
      }
      bound[gb2 + c] = static_cast<double>(n);
      z = std::max(z, logit);
    }
  }
  const double e = std::numeric_limits<float>::epsilon();
  const double per_term =
      2.0 * static_cast<double>(std::max({d, h, k}) + 1) * std::pow(1 + z, layers) * e;
  const double rows = static_cast<double>(n);
  EXPECT_NEAR(loss32, loss64, per_term * rows) << model_name(model.kind);
  for (std::size_t j = 0; j < params; ++j)
    EXPECT_NEAR(static_cast<double>(g32[j]), g64[j], (rows * e + per_term) * bound[j])
        << model_name(model.kind) << " parameter " << j;

  // The forward-only pass: same loss, same rows predicted right.
  std::size_t right64 = 0, right32 = 0;
  const double eval64 = k64->evaluate(in.x.data(), in.y.data(), n, in.theta.data(), s64, right64);
  const double eval32 = k32->evaluate(xf.data(), yf.data(), n, thetaf.data(), s32, right32);
  EXPECT_NEAR(eval32, eval64, per_term * rows) << model_name(model.kind);
  EXPECT_EQ(right32, right64) << model_name(model.kind);
}

TEST(Multiclass, Fp32SoftmaxKernelMatchesFp64) {
  expect_fp32_kernel_matches_fp64(ModelSpec{ModelKind::Softmax, 0, 4, 0});
}

TEST(Multiclass, Fp32MlpKernelMatchesFp64) {
  expect_fp32_kernel_matches_fp64(ModelSpec{ModelKind::Mlp, 0, 4, 5});
}

TEST(Multiclass, JacobiEigenvalueOfAKnownMatrix) {
  // [[2, 1], [1, 2]] has eigenvalues 1 and 3; diag(4, 1, 2) needs no rotation.
  EXPECT_NEAR(test::largest_eigenvalue({2, 1, 1, 2}, 2), 3.0, 1e-14);
  EXPECT_NEAR(test::largest_eigenvalue({4, 0, 0, 0, 1, 0, 0, 0, 2}, 3), 4.0, 1e-14);
  const double c = std::cos(0.3), s = std::sin(0.3);
  // R diag(5, 1) R^T for the rotation R by 0.3 rad.
  EXPECT_NEAR(
      test::largest_eigenvalue({5 * c * c + s * s, 4 * c * s, 4 * c * s, 5 * s * s + c * c}, 2),
      5.0, 1e-13);
}

// At theta = 0 every softmax row has p = 1/K, so each row's Hessian is
// (diag(p) - pp^T) (x) x x^T = (I_K/K - 11^T/K^2) (x) x x^T. The first factor has eigenvalues 1/K
// (K - 1 times) and 0, so shard m's Hessian, regulariser included, has top eigenvalue
// lambda_max(X_m^T X_m) / K + lambda, and the total's lambda_max(X^T X) / K + M lambda (the
// regulariser is per worker). The estimate (power iteration on central differences) must match
// to 1e-6: the differences' error is ~ eps64 |g| / 1e-5 + O(1e-10) ~ 1e-9 relative, and 30
// steps leave the Rayleigh quotient within ~ (mu_2 / mu_1)^60 of the top (measured: 3e-8 at
// worst). A wrong class count (1/2 instead of 1/3), a dropped regulariser (1e-3 here), or a lost
// factor 2 in the difference quotient are off by far more than that.
TEST(Multiclass, CurvatureEstimateAtZeroMatchesTheSoftmaxClosedForm) {
  const int workers = 3, classes = 3;
  const double lambda = 0.1;
  const ModelSpec model{ModelKind::Softmax, lambda, classes, 0};
  const auto data = blobs(workers, 60, 4, classes, 6);
  ThreadPool pool(2);
  const Smoothness est = estimate_curvature(
      data, model, std::vector<double>(parameter_count(model, data.dim), 0.0), pool, 30);
  const test::GramTops tops = test::gram_top_eigenvalues(data);
  for (std::size_t m = 0; m < tops.worker.size(); ++m) {
    const double exact = tops.worker[m] / classes + lambda;
    EXPECT_NEAR(est.worker[m], exact, 1e-6 * exact) << "worker " << m;
  }
  const double exact = tops.total / classes + workers * lambda;
  EXPECT_NEAR(est.global, exact, 1e-6 * exact);
}

// Softmax's closed-form smoothness constant: the Hessian of one row's loss is
// (diag(p) - p p^T) (x) x x^T, and ||diag(p) - p p^T|| <= 1/2 for every probability vector p, so
// L_m = lambda_max(X_m^T X_m) / 2 + lambda (and L = lambda_max(X^T X) / 2 + M lambda). It bounds
// the curvature anywhere, so the estimate at theta = 0 (lambda_max / K + lambda) lies below it.
TEST(Multiclass, SoftmaxSmoothnessIsHalfTheTopEigenvaluePlusLambda) {
  const int workers = 3, classes = 3;
  const double lambda = 0.1;
  const ModelSpec model{ModelKind::Softmax, lambda, classes, 0};
  const auto data = blobs(workers, 60, 4, classes, 6);
  const Smoothness s = smoothness_constants(data, model);
  ThreadPool pool(2);
  const Smoothness est = estimate_curvature(
      data, model, std::vector<double>(parameter_count(model, data.dim), 0.0), pool, 30);
  const test::GramTops tops = test::gram_top_eigenvalues(data);
  for (std::size_t m = 0; m < tops.worker.size(); ++m) {
    const double exact = tops.worker[m] / 2 + lambda;
    EXPECT_NEAR(s.worker[m], exact, 1e-9 * exact) << "worker " << m;
    EXPECT_LT(est.worker[m], s.worker[m]);
  }
  const double exact = tops.total / 2 + workers * lambda;
  EXPECT_NEAR(s.global, exact, 1e-9 * exact);
  EXPECT_LT(est.global, s.global);
}

// The MLP at theta = 0 (h = tanh(W1 x + b1) = 0, W2 = 0): to second order the logits are
// b2 + W2 (W1 x + b1), so the Hessian is sum_n (I_K/K - 11^T/K^2) on the b2 block, plus a
// W2-(W1, b1) coupling sum_n g_n (x_n, 1)^T with g_n = 1/K - onehot(y_n), plus lambda I. Each
// feature row below appears once with every label, so the g_n of equal rows cancel and the
// coupling is exactly 0: the top eigenvalue is N_m / K + lambda for a shard of N_m rows (and
// sum_m N_m / K + M lambda in total). Shards of 75..135 rows span several GEMM blocks, so a
// bias gradient summed over one block only, or a wrong K, shows up.
TEST(Multiclass, CurvatureEstimateAtZeroMatchesTheMlpClosedForm) {
  const int workers = 3, classes = 3, hidden = 4;
  const double lambda = 0.05;
  const ModelSpec model{ModelKind::Mlp, lambda, classes, hidden};
  Random rng(8);
  Dataset<double> data;
  data.dim = 3;
  std::size_t all_rows = 0;
  for (int m = 0; m < workers; ++m) {
    Shard<double> s;
    s.dim = data.dim;
    for (int group = 0; group < 25 + 10 * m; ++group) {
      const double x[3] = {rng.normal(), rng.normal(), rng.normal()};
      for (int k = 0; k < classes; ++k) {
        s.x.insert(s.x.end(), x, x + 3);
        s.y.push_back(k);
      }
    }
    s.rows = s.y.size();
    all_rows += s.rows;
    data.shards.push_back(std::move(s));
  }
  ThreadPool pool(2);
  const Smoothness est = estimate_curvature(
      data, model, std::vector<double>(parameter_count(model, data.dim), 0.0), pool, 30);
  for (std::size_t m = 0; m < data.shards.size(); ++m) {
    const double exact = static_cast<double>(data.shards[m].rows) / classes + lambda;
    EXPECT_NEAR(est.worker[m], exact, 1e-6 * exact) << "worker " << m;
  }
  const double exact = static_cast<double>(all_rows) / classes + workers * lambda;
  EXPECT_NEAR(est.global, exact, 1e-6 * exact);
}

struct Trained {
  RunResult result;
  double accuracy = 0;
};

Trained train_blobs(const ModelSpec& model, Algorithm algo, int threads, std::int64_t iters = 300) {
  const auto train_set = blobs(4, 150, 6, model.classes, 10);
  const auto test_set = blobs(1, 400, 6, model.classes, 11);
  ThreadPool pool(threads);
  pool.set_inline_work(0);  // small data: use the threads anyway (thread-count independence)
  ProblemConstants c;
  c.initial_theta = initial_parameters(model, train_set.dim, 1);
  const Smoothness s = model_smoothness(train_set, model, c.initial_theta, pool);
  c.smoothness = s.global;
  c.worker_smoothness = s.worker;
  CpuCluster<double> cluster(train_set, model, pool);
  CpuTestEvaluator test(test_set.shards[0], model, pool);
  TrainOptions o;
  o.algorithm = algo;
  o.max_iters = iters;
  o.eval_every = 50;
  Trained t;
  t.result = train(cluster, c, o, {}, [&](const std::vector<double>& th) { return test(th); });
  t.accuracy = t.result.test.accuracy;
  return t;
}

TEST(Multiclass, SoftmaxReachesNinetyPercentOnBlobs) {
  for (Algorithm a : {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS}) {
    const Trained t = train_blobs(ModelSpec{ModelKind::Softmax, 0.01, 4, 0}, a, 2);
    EXPECT_EQ(t.result.stop_reason, StopReason::MaxIters) << algorithm_name(a);
    EXPECT_GE(t.accuracy, 0.9) << algorithm_name(a);
  }
}

TEST(Multiclass, MlpReachesNinetyPercentOnBlobs) {
  for (Algorithm a : {Algorithm::GD, Algorithm::LagWK}) {
    const Trained t = train_blobs(ModelSpec{ModelKind::Mlp, 0.01, 4, 16}, a, 2);
    EXPECT_EQ(t.result.stop_reason, StopReason::MaxIters)
        << algorithm_name(a) << " " << t.result.message;
    EXPECT_GE(t.accuracy, 0.9) << algorithm_name(a);
  }
}

TEST(Multiclass, BitIdenticalAcrossThreadCounts) {
  for (const ModelSpec& model :
       {ModelSpec{ModelKind::Softmax, 0.01, 4, 0}, ModelSpec{ModelKind::Mlp, 0.01, 4, 8}}) {
    const Trained a = train_blobs(model, Algorithm::LagWK, 1, 40);
    const Trained b = train_blobs(model, Algorithm::LagWK, 2, 40);
    ASSERT_EQ(a.result.theta.size(), b.result.theta.size());
    EXPECT_EQ(0, std::memcmp(a.result.theta.data(), b.result.theta.data(),
                             a.result.theta.size() * sizeof(double)))
        << model_name(model.kind);
    EXPECT_EQ(a.result.total.uploads, b.result.total.uploads);
  }
}

TEST(Multiclass, ClassLabelsAreChecked) {
  auto data = blobs(2, 10, 3, 3, 1);
  ModelSpec model{ModelKind::Softmax, 0, 0, 0};
  prepare_labels(data, model);
  EXPECT_EQ(model.classes, 3);
  data.shards[1].y[4] = 1.5;
  ModelSpec again{ModelKind::Softmax, 0, 0, 0};
  try {
    prepare_labels(data, again);
    FAIL() << "a fractional label must be rejected";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("blobs[1]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 5"), std::string::npos) << e.what();
  }
  data.shards[1].y[4] = 7;
  ModelSpec fixed{ModelKind::Softmax, 0, 3, 0};
  EXPECT_THROW(prepare_labels(data, fixed), InputError);
}

}  // namespace
}  // namespace lag
