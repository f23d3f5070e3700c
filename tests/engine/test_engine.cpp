// The engine with the CPU cluster: convergence, the paper's communication savings, stopping
// rules, divergence, fp32 against fp64, and bit-identical reruns across thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "../test_helpers.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/optimum.hpp"
#include "lag/smoothness.hpp"
#include "lag/synthetic.hpp"

namespace lag {
namespace {

constexpr Algorithm kAll[] = {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS, Algorithm::CycIAG,
                              Algorithm::NumIAG};

ProblemConstants constants_for(const Dataset<double>& d, const ModelSpec& m) {
  const Smoothness s = smoothness_constants(d, m);
  std::vector<std::size_t> rows;
  for (const auto& shard : d.shards) rows.push_back(shard.rows);
  return {s.global, s.worker, {}, rows};
}

template <class T = double>
RunResult run(const Dataset<double>& data, const ModelSpec& model, TrainOptions o, int threads = 2,
              std::vector<IterationRow>* rows = nullptr, const RowObserver& also = {}) {
  Dataset<T> converted = convert_precision<T>(data);
  ThreadPool pool(threads);
  CpuCluster<T> cluster(converted, model, pool);
  return train(cluster, constants_for(data, model), o, [&](const IterationRow& r) {
    if (rows) rows->push_back(r);
    if (also) also(r);
  });
}

TEST(Engine, LeastSquaresConvergesToExactSolution) {
  std::vector<double> truth;
  const auto data = test::gaussian_data(4, 30, 6, false, 0.0, 21, &truth);  // y = X theta
  TrainOptions o;
  o.algorithm = Algorithm::GD;
  o.max_iters = 20000;
  o.grad_tol = 1e-13;
  const RunResult r = run(data, ModelSpec{}, o);
  EXPECT_EQ(r.stop_reason, StopReason::GradTol);
  EXPECT_LT(test::relative_distance(r.theta, truth), 1e-9);
}

TEST(Engine, EveryAlgorithmReachesTheLeastSquaresOptimum) {
  const auto data = test::gaussian_data(5, 40, 8, false, 0.5, 22);
  const ModelSpec model;
  const Optimum opt = solve_optimum(data, model);
  for (Algorithm a : kAll) {
    TrainOptions o;
    o.algorithm = a;
    o.max_iters = 200000;
    o.optimum = opt.value;
    o.target_gap = 1e-12 * opt.value;
    const RunResult r = run(data, model, o);
    EXPECT_EQ(r.stop_reason, StopReason::TargetGap) << algorithm_name(a);
    EXPECT_LT(test::relative_distance(r.theta, opt.theta), 1e-5) << algorithm_name(a);
  }
}

TEST(Engine, LagReachesTheLogisticOptimumOfGd) {
  const auto data = test::gaussian_data(4, 60, 6, true, 0, 23);
  const ModelSpec model{ModelKind::Logistic, 0.05};
  const Optimum opt = solve_optimum(data, model);
  std::vector<std::vector<double>> thetas;
  for (Algorithm a : {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS}) {
    TrainOptions o;
    o.algorithm = a;
    o.max_iters = 100000;
    o.optimum = opt.value;
    o.target_gap = 1e-11;
    const RunResult r = run(data, model, o);
    ASSERT_EQ(r.stop_reason, StopReason::TargetGap) << algorithm_name(a);
    EXPECT_LT(r.objective_error, 1e-11);
    EXPECT_LT(test::relative_distance(r.theta, opt.theta), 1e-4) << algorithm_name(a);
    thetas.push_back(r.theta);
  }
  EXPECT_LT(test::relative_distance(thetas[1], thetas[0]), 1e-4);
  EXPECT_LT(test::relative_distance(thetas[2], thetas[0]), 1e-4);
}

// The paper's headline: on heterogeneous shards LAG needs far fewer uploads than GD.
TEST(Engine, PaperLinearUploadSavings) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  const ModelSpec model;
  const Optimum opt = solve_optimum(data, model);
  std::uint64_t uploads[3] = {};
  int i = 0;
  for (Algorithm a : {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS}) {
    TrainOptions o;
    o.algorithm = a;
    o.optimum = opt.value;
    o.target_gap = 1e-8;
    const RunResult r = run(data, model, o);
    ASSERT_EQ(r.stop_reason, StopReason::TargetGap) << algorithm_name(a);
    uploads[i++] = r.total.uploads;
  }
  EXPECT_LT(uploads[1] * 5, uploads[0]) << "LAG-WK " << uploads[1] << " vs GD " << uploads[0];
  EXPECT_LT(uploads[2] * 3, uploads[0]) << "LAG-PS " << uploads[2] << " vs GD " << uploads[0];
}

TEST(Engine, TargetGapStopsAtTheFirstIterateThatMeetsIt) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  const Optimum opt = solve_optimum(data, ModelSpec{});
  TrainOptions o;
  o.algorithm = Algorithm::LagWK;
  o.optimum = opt.value;
  o.target_gap = 1e-6;
  std::vector<IterationRow> rows;
  const RunResult r = run(data, ModelSpec{}, o, 2, &rows);
  ASSERT_EQ(r.stop_reason, StopReason::TargetGap);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(r.iterations + 1));
  EXPECT_LE(rows.back().objective_error, 1e-6);
  EXPECT_GT(rows[rows.size() - 2].objective_error, 1e-6);
  // Counts are those spent to produce that iterate.
  EXPECT_EQ(r.total.uploads, rows.back().cumulative.uploads);
}

TEST(Engine, MaxItersAndEvalEvery) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  TrainOptions o;
  o.algorithm = Algorithm::GD;
  o.max_iters = 25;
  o.eval_every = 10;
  std::vector<IterationRow> rows;
  const RunResult r = run(data, ModelSpec{}, o, 2, &rows);
  EXPECT_EQ(r.stop_reason, StopReason::MaxIters);
  EXPECT_EQ(r.iterations, 25);
  ASSERT_EQ(rows.size(), 26u);
  for (const auto& row : rows)
    EXPECT_EQ(row.evaluated, row.iter % 10 == 0 || row.iter == 25) << row.iter;
}

TEST(Engine, TimeLimitStopsAndEvaluatesTheLastIterate) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  TrainOptions o;
  o.algorithm = Algorithm::LagPS;
  o.time_limit = 1e-9;  // spent by the first iteration
  o.eval_every = 1000;
  std::vector<IterationRow> rows;
  const RunResult r = run(data, ModelSpec{}, o, 2, &rows);
  EXPECT_EQ(r.stop_reason, StopReason::TimeLimit);
  EXPECT_EQ(r.iterations, 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows.back().evaluated);
  EXPECT_EQ(r.final_loss, rows.back().loss);
  EXPECT_EQ(r.total.uploads, 9u);
}

TEST(Engine, InterruptedBeforeTheFirstIterationEvaluatesTheStart) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  TrainOptions o;
  o.interrupted = [] { return true; };
  std::vector<IterationRow> rows;
  const RunResult r = run(data, ModelSpec{}, o, 2, &rows);
  EXPECT_EQ(r.stop_reason, StopReason::Interrupted);
  EXPECT_STREQ(stop_reason_name(r.stop_reason), "interrupted");
  EXPECT_EQ(r.iterations, 0);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].evaluated);
  EXPECT_EQ(r.total.uploads, 0u);
}

TEST(Engine, AnInterruptedRunIsTheUninterruptedRunCutShort) {
  // The signal arrives during iteration 40; the engine notices at its next check, some
  // iterations later, and stops there with the iterate a run of that many iterations has.
  const auto data = make_paper_linear(PaperLinearSpec{});
  for (Algorithm a : {Algorithm::LagWK, Algorithm::LagPS, Algorithm::NumIAG}) {
    TrainOptions o;
    o.algorithm = a;
    o.eval_every = 7;
    bool signalled = false;
    o.interrupted = [&] { return signalled; };
    std::vector<IterationRow> rows;
    const RunResult cut = run(data, ModelSpec{}, o, 2, &rows, [&](const IterationRow& row) {
      if (row.iter == 40) signalled = true;
    });
    EXPECT_EQ(cut.stop_reason, StopReason::Interrupted) << algorithm_name(a);
    EXPECT_GE(cut.iterations, 40) << algorithm_name(a);
    EXPECT_TRUE(rows.back().evaluated);
    TrainOptions whole = o;
    whole.interrupted = {};
    whole.max_iters = cut.iterations;
    const RunResult same = run(data, ModelSpec{}, whole);
    EXPECT_EQ(same.theta, cut.theta) << algorithm_name(a);
    EXPECT_EQ(same.total.uploads, cut.total.uploads) << algorithm_name(a);
    EXPECT_EQ(same.final_loss, cut.final_loss) << algorithm_name(a);
  }
}

TEST(Engine, TargetGapWithoutOptimumIsAnError) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  TrainOptions o;
  o.target_gap = 1e-3;
  EXPECT_THROW(run(data, ModelSpec{}, o), Error);
}

TEST(Engine, DivergenceStopsWithAClearMessage) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  const ProblemConstants c = constants_for(data, ModelSpec{});
  TrainOptions o;
  o.algorithm = Algorithm::GD;
  o.alpha = 3.0 / c.smoothness;  // beyond 2/L: GD diverges
  const RunResult r = run(data, ModelSpec{}, o);
  EXPECT_EQ(r.stop_reason, StopReason::Diverged);
  EXPECT_NE(r.message.find("diverged at iteration"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("--alpha"), std::string::npos) << r.message;
  EXPECT_LT(r.iterations, 10000);
}

// fp32 runs land where fp64 runs of the same problem land, to a tolerance set by fp32's
// epsilon and the conditioning. The data are rounded to fp32 first (and both runs use those
// values), so only the arithmetic differs. On paper-linear, X^T X = sum_m (I + c_m q_m q_m^T)^2
// = M I + sum_m (2 c_m + c_m^2) q_m q_m^T with c_m = 1.3^(m-1) and orthonormal q_m: eigenvalues
// M = 9 and 9 + 2 c_m + c_m^2 up to 91.86, so kappa = 91.86 / 9 = 10.2. An fp32 iterate stops
// moving once each step is below half an ulp of theta, i.e. where ||grad|| ~ eps32 L ||theta||,
// and its gradient carries rounding errors of the same order; such a point lies within
// ~ c kappa eps32 ||theta|| of the optimum (||theta - theta*|| <= ||grad|| / lambda_min), with c
// a small constant from the length-50 dot products. Allowed: 8 kappa eps32 ~ 1e-5 (measured:
// 1.7e-7 for LAG-WK, 2.5e-7 for LAG-PS, 3.3e-7 for GD). 400 iterations bring the fp64 runs to
// the optimum up to rounding (GD contracts by 1 - 1/kappa per step; measured ~1e-15), so the
// fp64 run is a converged reference. A run that stops early, a trigger that starves workers, or
// a float kernel that mishandles the tail of a row is off by orders of magnitude more (a float
// row update that skips its last coordinate: 0.45).
TEST(Engine, Fp32AgreesWithFp64OnTheta) {
  const auto data =
      convert_precision<double>(convert_precision<float>(make_paper_linear(PaperLinearSpec{})));
  const ModelSpec model;
  const Optimum opt = solve_optimum(data, model);
  const double kappa = (9 + 2 * std::pow(1.3, 8) + std::pow(1.3, 16)) / 9;
  const double tolerance = 8 * kappa * std::numeric_limits<float>::epsilon();
  for (Algorithm a : {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS}) {
    TrainOptions o;
    o.algorithm = a;
    o.max_iters = 400;
    const RunResult r64 = run<double>(data, model, o);
    const RunResult r32 = run<float>(data, model, o);
    ASSERT_EQ(r32.theta.size(), r64.theta.size());
    EXPECT_LT(test::relative_distance(r64.theta, opt.theta), 1e-12) << algorithm_name(a);
    EXPECT_LT(test::relative_distance(r32.theta, r64.theta), tolerance) << algorithm_name(a);
    // The fp32 run really iterated in fp32: every coordinate is a float.
    for (double v : r32.theta) ASSERT_EQ(static_cast<double>(static_cast<float>(v)), v);
  }
  // The fp32 loss drives the stopping rule too.
  TrainOptions o;
  o.algorithm = Algorithm::LagWK;
  o.optimum = opt.value;
  o.target_gap = 1e-3;
  EXPECT_EQ(run<float>(data, model, o).stop_reason, StopReason::TargetGap);
}

// Bits of every iterate, every trigger decision and every ledger row are the same for any
// thread count and on reruns; shards span several row chunks so the chunked reduction is used.
TEST(Engine, BitIdenticalAcrossRerunsAndThreadCounts) {
  const auto data =
      test::gaussian_data(3, 2 * CpuCluster<double>::kChunkRows + 77, 12, true, 0, 31);
  const ModelSpec model{ModelKind::Logistic, 0.01};
  const ProblemConstants c = constants_for(data, model);
  for (Algorithm a : {Algorithm::LagWK, Algorithm::LagPS, Algorithm::NumIAG}) {
    std::vector<std::vector<Flags>> decisions;
    std::vector<std::vector<double>> thetas;
    std::vector<std::vector<double>> losses;
    for (int threads : {1, 2, 3, 2}) {
      ThreadPool pool(threads);
      pool.set_inline_work(0);
      CpuCluster<double> cpu(data, model, pool);
      test::CountingCluster<double> counting(cpu);
      TrainOptions o;
      o.algorithm = a;
      o.max_iters = 40;
      std::vector<double> loss;
      const RunResult r =
          train(counting, c, o, [&](const IterationRow& row) { loss.push_back(row.loss); });
      decisions.push_back(counting.uploads);
      thetas.push_back(r.theta);
      losses.push_back(loss);
    }
    for (std::size_t i = 1; i < thetas.size(); ++i) {
      EXPECT_EQ(decisions[i], decisions[0]) << algorithm_name(a);
      ASSERT_EQ(thetas[i].size(), thetas[0].size());
      EXPECT_EQ(0,
                std::memcmp(thetas[i].data(), thetas[0].data(), thetas[0].size() * sizeof(double)))
          << algorithm_name(a) << " run " << i;
      EXPECT_EQ(0,
                std::memcmp(losses[i].data(), losses[0].data(), losses[0].size() * sizeof(double)))
          << algorithm_name(a) << " run " << i;
    }
  }
}

}  // namespace
}  // namespace lag
