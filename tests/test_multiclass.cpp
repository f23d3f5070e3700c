// Softmax regression and the MLP: gradients against finite differences, the curvature estimate
// against the closed-form bound, and training runs that must reach a stated test accuracy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cpu/cpu_cluster.hpp"
#include "cpu/curvature.hpp"
#include "cpu/loss_kernels.hpp"
#include "cpu/test_evaluator.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/smoothness.hpp"
#include "test_helpers.hpp"

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

TEST(Multiclass, CurvatureEstimateIsBelowTheSoftmaxBound) {
  const ModelSpec model{ModelKind::Softmax, 0.1, 3, 0};
  const auto data = blobs(3, 60, 4, 3, 6);
  ThreadPool pool(2);
  const Smoothness bound = smoothness_constants(data, model);
  const Smoothness est = estimate_curvature(
      data, model, std::vector<double>(parameter_count(model, data.dim), 0.0), pool, 30);
  for (int m = 0; m < 3; ++m) {
    EXPECT_GT(est.worker[m], 0.1 * bound.worker[m]) << m;
    EXPECT_LE(est.worker[m], bound.worker[m] * (1 + 1e-6)) << m;
  }
  EXPECT_LE(est.global, bound.global * (1 + 1e-6));
  EXPECT_GT(est.global, 0.1 * bound.global);
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
  const Smoothness s = model.kind == ModelKind::Mlp
                           ? estimate_curvature(train_set, model, c.initial_theta, pool)
                           : smoothness_constants(train_set, model);
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
