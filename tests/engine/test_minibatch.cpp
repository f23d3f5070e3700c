// Minibatches and the stochastic algorithms against reference loops written here from the rules
// (issue text: SGD uploads every minibatch gradient; LASG-WK compares the gradients at theta^k
// and at theta_hat_m on the same minibatch, with the skip limit; LASG-PS asks by L_m^2
// ||theta_hat_m - theta^k||^2, with the skip limit), every iteration's uploads and bytes, the
// full-batch LAG runs reproduced exactly by a batch of the whole shard, per-epoch rows, and the
// same bits on any thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "../test_helpers.hpp"
#include "../whole_shard_check.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/sampler.hpp"

namespace lag {
namespace {

using Vec = std::vector<double>;

struct Problem {
  Dataset<double> data;
  ProblemConstants constants;
};

// Three workers of `rows` rows (default 20), least squares (L = lambda_max of the Gram matrices).
Problem small_problem(std::size_t rows = 20) {
  Problem p;
  p.data = test::gaussian_data(3, rows, 5, false, 0.3, 43);
  const test::GramTops tops = test::gram_top_eigenvalues(p.data);
  p.constants.smoothness = tops.total;
  p.constants.worker_smoothness = tops.worker;
  for (const auto& s : p.data.shards) p.constants.worker_rows.push_back(s.rows);
  return p;
}

using test::norm2;

// (rows / |batch|) * sum over the batch of x_i (x_i . theta - y_i): the shard's gradient
// estimated from the batch, row by row.
Vec batch_gradient(const Shard<double>& s, const std::vector<std::uint32_t>& batch,
                   const Vec& theta) {
  Vec g(theta.size(), 0.0);
  for (std::uint32_t i : batch) {
    double r = -s.y[i];
    for (std::size_t j = 0; j < theta.size(); ++j) r += s.x[i * theta.size() + j] * theta[j];
    for (std::size_t j = 0; j < theta.size(); ++j) g[j] += s.x[i * theta.size() + j] * r;
  }
  const double scale = static_cast<double>(s.rows) / static_cast<double>(batch.size());
  for (double& v : g) v *= scale;
  return g;
}

struct Settings {
  std::size_t batch = 6;
  double c = 0.1;
  int depth = 10;
  std::int64_t max_skip = 100;
  double alpha = 0;  // 0: 1/L
};

using Trace = test::ReferenceTrace;

// The three algorithms written out plainly. Each worker's batches come from its own sampler
// (tested on its own below), drawn only in the iterations it computes.
Trace reference(const Problem& p, Algorithm algo, const Settings& s, int iters) {
  const int M = p.data.workers();
  const std::size_t d = p.data.dim;
  const double alpha = s.alpha > 0 ? s.alpha : 1.0 / p.constants.smoothness;
  std::vector<MinibatchSampler> samplers;
  for (int m = 0; m < M; ++m) samplers.emplace_back(p.data.shards[m].rows, s.batch, 1, m);
  Trace t;
  Vec theta(d, 0.0), aggregate(d, 0.0), steps;
  std::vector<Vec> kept(M, Vec(d, 0.0)), theta_hat(M, Vec(d, 0.0));
  std::vector<std::int64_t> skipped(M, 0);
  std::vector<std::uint32_t> batch;
  for (int k = 1; k <= iters; ++k) {
    double recent = 0;
    const std::size_t n = std::min<std::size_t>(steps.size(), static_cast<std::size_t>(s.depth));
    for (std::size_t i = steps.size() - n; i < steps.size(); ++i) recent += steps[i];
    const double tau = s.c / (alpha * alpha * M * M) * recent;
    Flags senders(M, 0);
    double margin = INFINITY;
    if (algo == Algorithm::Sgd) aggregate.assign(d, 0.0);
    for (int m = 0; m < M; ++m) {
      const Shard<double>& shard = p.data.shards[m];
      bool compute = true;
      if (algo == Algorithm::LasgPS && k > 1) {
        Vec gap(d);
        for (std::size_t j = 0; j < d; ++j) gap[j] = theta_hat[m][j] - theta[j];
        const double l = p.constants.worker_smoothness[m];
        const double lhs = l * l * norm2(gap);
        compute = lhs > tau || (s.max_skip > 0 && skipped[m] >= s.max_skip);
        if (tau > 0) margin = std::min(margin, std::fabs(lhs - tau) / tau);
        skipped[m] = compute ? 0 : skipped[m] + 1;
      }
      if (!compute) continue;
      samplers[m].draw(batch);
      const Vec g = batch_gradient(shard, batch, theta);
      bool fire = true;
      if (algo == Algorithm::LasgWK && k > 1) {
        const Vec h = batch_gradient(shard, batch, theta_hat[m]);
        Vec change(d);
        for (std::size_t j = 0; j < d; ++j) change[j] = g[j] - h[j];
        const double lhs = norm2(change);
        fire = lhs > tau || (s.max_skip > 0 && skipped[m] >= s.max_skip);
        if (tau > 0) margin = std::min(margin, std::fabs(lhs - tau) / tau);
        skipped[m] = fire ? 0 : skipped[m] + 1;
      }
      if (!fire) continue;
      senders[m] = 1;
      for (std::size_t j = 0; j < d; ++j)
        aggregate[j] += algo == Algorithm::Sgd ? g[j] : g[j] - kept[m][j];
      kept[m] = g;
      theta_hat[m] = theta;
    }
    test::reference_step(theta, aggregate, alpha, steps, t, senders, margin);
  }
  t.theta = theta;
  return t;
}

TrainOptions options_for(Algorithm algo, const Settings& s, int iters) {
  TrainOptions o;
  o.algorithm = algo;
  o.max_iters = iters;
  o.batch_size = s.batch;
  o.xi = s.c;
  o.depth = s.depth;
  o.max_skip = s.max_skip;
  o.alpha = s.alpha;
  return o;
}

void expect_matches_reference(Algorithm algo, const Settings& s, std::size_t shard_rows = 20,
                              int kIters = 60) {
  SCOPED_TRACE(algorithm_name(algo));
  const Problem p = small_problem(shard_rows);
  ThreadPool pool(2);
  CpuCluster<double> cpu(p.data, ModelSpec{}, pool);
  test::CountingCluster<double> counting(cpu);
  std::vector<IterationRow> rows;
  const RunResult r = train(counting, p.constants, options_for(algo, s, kIters),
                            [&](const IterationRow& row) { rows.push_back(row); });
  const Trace t = reference(p, algo, s, kIters);
  ASSERT_EQ(counting.uploads.size(), static_cast<std::size_t>(kIters));
  std::size_t skips = 0;
  for (int k = 0; k < kIters; ++k) {
    ASSERT_GT(t.margins[k], 1e-6) << "iteration " << k + 1 << " decides at rounding level";
    EXPECT_EQ(counting.uploads[k], t.uploads[k]) << "iteration " << k + 1;
    for (auto f : t.uploads[k]) skips += f == 0;
    const std::uint64_t sent = test::count_flags(t.uploads[k]);
    EXPECT_EQ(rows[k + 1].spent.uploads, sent);
    EXPECT_EQ(rows[k + 1].spent.bytes_up, sent * 5 * 8) << "iteration " << k + 1;
  }
  if (algo != Algorithm::Sgd) {
    EXPECT_GT(skips, 0u) << "the rule never skipped: a weak test";
  }
  for (std::size_t j = 0; j < t.theta.size(); ++j)
    EXPECT_NEAR(r.theta[j], t.theta[j], 1e-9 * (1 + std::fabs(t.theta[j]))) << j;
}

TEST(Minibatch, SgdMatchesTheReferenceLoop) {
  Settings s;
  expect_matches_reference(Algorithm::Sgd, s);
  s.batch = 7;  // batches that cross the ends of epochs (20 rows)
  expect_matches_reference(Algorithm::Sgd, s);
}

// A batch of more rows than one task holds: each task gathers its own part of the batch.
TEST(Minibatch, ABatchSpreadOverSeveralTasksMatchesTheReferenceLoop) {
  Settings s;
  s.batch = 2 * CpuCluster<double>::kChunkRows + 100;  // three tasks, the last one short
  expect_matches_reference(Algorithm::Sgd, s, s.batch + 500, 6);
}

TEST(Minibatch, LasgWkMatchesTheReferenceLoop) {
  Settings s;
  expect_matches_reference(Algorithm::LasgWK, s);
  s.c = 2.0;
  s.max_skip = 3;  // the skip limit forces uploads
  s.batch = 7;
  expect_matches_reference(Algorithm::LasgWK, s);
}

TEST(Minibatch, LasgPsMatchesTheReferenceLoop) {
  Settings s;
  s.c = 0.5;
  expect_matches_reference(Algorithm::LasgPS, s);
  s.c = 4.0;
  s.max_skip = 2;
  expect_matches_reference(Algorithm::LasgPS, s);
}

TEST(Minibatch, TheWholeShardAsTheBatchIsTheFullBatchLagRunBitForBit) {
  const Problem p = small_problem();
  ThreadPool pool(2);
  test::expect_whole_shard_batch_is_full_batch_lag(p.constants, 20, [&] {
    return std::make_unique<CpuCluster<double>>(p.data, ModelSpec{}, pool);
  });
}

// The same bits on 1 and 3 threads, fp64 and fp32.
TEST(Minibatch, RunsAreBitIdenticalAcrossThreadCounts) {
  const Problem p = small_problem();
  for (Algorithm a : {Algorithm::Sgd, Algorithm::LasgWK, Algorithm::LasgPS}) {
    SCOPED_TRACE(algorithm_name(a));
    Settings s;
    s.c = 0.5;
    const TrainOptions o = options_for(a, s, 50);
    const auto run = [&](int threads, auto precision) {
      using T = decltype(precision);
      ThreadPool pool(threads);
      const Dataset<T> data = convert_precision<T>(p.data);
      CpuCluster<T> cluster(data, ModelSpec{}, pool);
      return train(cluster, p.constants, o);
    };
    for (bool fp32 : {false, true}) {
      const RunResult one = fp32 ? run(1, float{}) : run(1, double{});
      const RunResult three = fp32 ? run(3, float{}) : run(3, double{});
      EXPECT_EQ(one.total.uploads, three.total.uploads);
      EXPECT_EQ(
          std::memcmp(one.theta.data(), three.theta.data(), one.theta.size() * sizeof(double)), 0)
          << (fp32 ? "fp32" : "fp64");
    }
  }
}

// Epoch rows: 60 rows in batches of 6 on 3 workers is 4 iterations per epoch; each epoch's row is
// evaluated at its end, and what the epochs spent adds up to the run's total.
TEST(Minibatch, EpochRowsAddUpToTheRun) {
  const Problem p = small_problem();
  ThreadPool pool(2);
  CpuCluster<double> cluster(p.data, ModelSpec{}, pool);
  Settings s;
  s.c = 0.5;
  TrainOptions o = options_for(Algorithm::LasgWK, s, 20);
  o.eval_every = 0;  // at the ends of epochs only
  std::vector<IterationRow> rows;
  const RunResult r =
      train(cluster, p.constants, o, [&](const IterationRow& row) { rows.push_back(row); });
  EXPECT_EQ(r.iterations_per_epoch, 4);
  ASSERT_EQ(r.epochs.size(), 5u);
  Traffic sum;
  for (std::size_t e = 0; e < r.epochs.size(); ++e) {
    EXPECT_EQ(r.epochs[e].epoch, static_cast<std::int64_t>(e + 1));
    EXPECT_EQ(r.epochs[e].iteration, static_cast<std::int64_t>(4 * (e + 1)));
    sum += r.epochs[e].spent;
    EXPECT_EQ(sum.uploads, r.epochs[e].cumulative.uploads);
    EXPECT_EQ(r.epochs[e].loss, rows[static_cast<std::size_t>(4 * (e + 1))].loss);
  }
  EXPECT_EQ(sum.bytes_up, r.total.bytes_up);
  for (const IterationRow& row : rows) {
    EXPECT_EQ(row.evaluated, row.iter % 4 == 0) << row.iter;
    EXPECT_DOUBLE_EQ(row.epoch, static_cast<double>(row.iter) / 4.0);
  }
}

// With inv-sqrt, iteration k steps alpha / sqrt(1 + epoch of k): a run whose step norms shrink
// by exactly that factor between epochs (SGD on the whole shard is GD, whose steps are
// deterministic; compared with a constant-step run of the same first epoch).
TEST(Minibatch, InverseSqrtScheduleDecaysPerEpoch) {
  const Problem p = small_problem();
  ThreadPool pool(2);
  Settings s;
  s.batch = 20;  // 1 iteration per epoch
  TrainOptions o = options_for(Algorithm::Sgd, s, 1);
  const auto first_step = [&](StepSchedule schedule, std::int64_t iters) {
    CpuCluster<double> cluster(p.data, ModelSpec{}, pool);
    TrainOptions q = o;
    q.schedule = schedule;
    q.max_iters = iters;
    return train(cluster, p.constants, q).theta;
  };
  // One iteration: the same step either way (epoch 0).
  const Vec a = first_step(StepSchedule::Constant, 1),
            b = first_step(StepSchedule::InverseSqrtEpoch, 1);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0);
  // Two: the second step is the gradient at theta^2 times alpha / sqrt(2).
  const Vec c2 = first_step(StepSchedule::Constant, 2),
            d2 = first_step(StepSchedule::InverseSqrtEpoch, 2);
  for (std::size_t j = 0; j < a.size(); ++j) {
    const double constant_step = c2[j] - a[j], decayed_step = d2[j] - a[j];
    EXPECT_NEAR(decayed_step, constant_step / std::sqrt(2.0),
                1e-12 * (1 + std::fabs(constant_step)));
  }
}

// The evaluation is of the whole objective, not of the round's minibatches: the final loss and
// gradient norm of a minibatch run are those of the full shards at its final theta, computed here
// row by row.
TEST(Minibatch, EvaluationIsOnTheWholeShards) {
  const Problem p = small_problem();
  ThreadPool pool(2);
  CpuCluster<double> cluster(p.data, ModelSpec{}, pool);
  Settings s;
  const RunResult r = train(cluster, p.constants, options_for(Algorithm::LasgWK, s, 17));
  double loss = 0;
  Vec grad(p.data.dim, 0.0);
  for (const auto& shard : p.data.shards) {
    for (std::size_t i = 0; i < shard.rows; ++i) {
      double residual = -shard.y[i];
      for (std::size_t j = 0; j < p.data.dim; ++j) residual += shard.row(i)[j] * r.theta[j];
      loss += 0.5 * residual * residual;
    }
    const Vec g = test::least_squares_gradient(shard, r.theta);
    for (std::size_t j = 0; j < grad.size(); ++j) grad[j] += g[j];
  }
  EXPECT_NEAR(r.final_loss, loss, 1e-12 * loss);
  EXPECT_NEAR(r.grad_norm, std::sqrt(norm2(grad)), 1e-12 * std::sqrt(norm2(grad)));
}

TEST(Minibatch, ABatchLargerThanAShardIsRefused) {
  const Problem p = small_problem();
  ThreadPool pool(1);
  CpuCluster<double> cluster(p.data, ModelSpec{}, pool);
  Settings s;
  s.batch = 21;
  try {
    train(cluster, p.constants, options_for(Algorithm::Sgd, s, 3));
    FAIL() << "a batch of 21 of 20 rows was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--batch-size 21 is more than worker 0's 20 rows"),
              std::string::npos)
        << e.what();
  }
}

// ---- the sampler ------------------------------------------------------------------------------

// The rows drawn over the epochs of a batch that divides the shard: each epoch is every row once.
TEST(Sampler, EachEpochIsAPermutationOfTheShard) {
  MinibatchSampler s(30, 5, 7, 2);
  std::vector<std::uint32_t> batch;
  for (int epoch = 0; epoch < 4; ++epoch) {
    std::vector<int> seen(30, 0);
    for (int b = 0; b < 6; ++b) {
      s.draw(batch);
      ASSERT_EQ(batch.size(), 5u);
      EXPECT_TRUE(std::is_sorted(batch.begin(), batch.end()));
      for (std::uint32_t i : batch) ++seen[i];
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 30) << "epoch " << epoch;
  }
  EXPECT_EQ(s.drawn(), 120u);
}

// The stream is the epochs' permutations one after another; a batch that crosses an epoch's end
// takes the rest of one and the start of the next.
TEST(Sampler, BatchesAreConsecutivePositionsOfTheEpochStream) {
  const std::size_t rows = 10, batch = 4;
  std::vector<std::uint32_t> stream;
  for (std::uint64_t e = 0; e < 3; ++e) {
    const auto perm = MinibatchSampler::epoch_permutation(rows, 3, 1, e);
    std::vector<std::uint32_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (std::uint32_t i = 0; i < rows; ++i) ASSERT_EQ(sorted[i], i);
    stream.insert(stream.end(), perm.begin(), perm.end());
  }
  MinibatchSampler s(rows, batch, 3, 1);
  std::vector<std::uint32_t> got;
  for (std::size_t b = 0; b < 7; ++b) {
    s.draw(got);
    std::vector<std::uint32_t> want(stream.begin() + b * batch, stream.begin() + (b + 1) * batch);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "batch " << b;
  }
}

// Reproducible, different for other workers, seeds and epochs, and continued by seek().
TEST(Sampler, DrawsDependOnlyOnSeedWorkerAndPosition) {
  const auto first = [](std::uint64_t seed, std::size_t worker) {
    MinibatchSampler s(100, 10, seed, worker);
    std::vector<std::uint32_t> b;
    s.draw(b);
    return b;
  };
  EXPECT_EQ(first(5, 3), first(5, 3));
  EXPECT_NE(first(5, 3), first(5, 4));
  EXPECT_NE(first(5, 3), first(6, 3));
  EXPECT_NE(MinibatchSampler::epoch_permutation(100, 5, 3, 0),
            MinibatchSampler::epoch_permutation(100, 5, 3, 1));
  MinibatchSampler a(100, 10, 5, 3), b(100, 10, 5, 3);
  std::vector<std::uint32_t> x, y;
  for (int i = 0; i < 13; ++i) a.draw(x);
  b.seek(a.drawn());
  a.draw(x);
  b.draw(y);
  EXPECT_EQ(x, y);
  EXPECT_THROW(b.seek(15), Error);  // not a whole number of batches
}

// The stream is part of what a seed means: pinned, so that a change to it is seen.
TEST(Sampler, TheFirstBatchesOfSeedOneArePinned) {
  MinibatchSampler s(10, 3, 1, 0);
  std::vector<std::uint32_t> b;
  s.draw(b);
  const std::vector<std::uint32_t> first = b;
  s.draw(b);
  const std::vector<std::uint32_t> second = b;
  EXPECT_EQ(first, (std::vector<std::uint32_t>{0, 4, 7}));
  EXPECT_EQ(second, (std::vector<std::uint32_t>{2, 5, 8}));
}

TEST(Sampler, ImpossibleBatchesAreRefused) {
  EXPECT_THROW(MinibatchSampler(10, 0, 1, 0), Error);
  EXPECT_THROW(MinibatchSampler(10, 11, 1, 0), Error);
}

}  // namespace
}  // namespace lag
