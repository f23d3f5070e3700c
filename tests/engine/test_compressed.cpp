// LAQ, EF21 and CLAG against reference loops written here from the papers' rules (issue text:
// LAQ's grid and rule with the skip limit; EF21's and CLAG's Top-k innovations, CLAG's lazy rule,
// the theory step size), every iteration's uploads and bytes through the ledger, convergence to
// 1e-8 on the paper's linear problem, and bit-identical runs on 1 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "../test_helpers.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/optimum.hpp"
#include "lag/smoothness.hpp"
#include "lag/synthetic.hpp"

namespace lag {
namespace {

using Vec = std::vector<double>;

struct Problem {
  Dataset<double> data;
  ProblemConstants constants;
};

Problem small_problem() {
  Problem p;
  p.data = test::gaussian_data(3, 12, 6, false, 0.3, 41);
  const test::GramTops tops = test::gram_top_eigenvalues(p.data);  // least squares: L = lambda_max
  p.constants.smoothness = tops.total;
  p.constants.worker_smoothness = tops.worker;
  return p;
}

Vec gradient(const Shard<double>& s, const Vec& theta) {
  return test::least_squares_gradient(s, theta);
}

using test::norm2;

// tau = xi / (D alpha^2 M^2) * (the last D squared steps).
double threshold(const Vec& steps, double xi, int depth, double alpha, int M) {
  double sum = 0;
  const std::size_t n = std::min<std::size_t>(steps.size(), static_cast<std::size_t>(depth));
  for (std::size_t i = steps.size() - n; i < steps.size(); ++i) sum += steps[i];
  return xi / (depth * alpha * alpha * M * M) * sum;
}

// The k largest |v_i|, ties to the lower index, as a sparse vector.
Vec top_k_of(const Vec& v, std::size_t k) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return std::fabs(v[a]) > std::fabs(v[b]); });
  Vec c(v.size(), 0.0);
  for (std::size_t i = 0; i < k; ++i) c[order[i]] = v[order[i]];
  return c;
}

using Trace = test::ReferenceTrace;

struct Settings {
  int bits = 4;
  std::int64_t max_skip = 100;
  std::size_t k = 2;
  double zeta = 1.0;
  int depth = 10;
};

// One of the three algorithms, written out plainly from the rules (Round's comment, the issue).
// `flag_only` counts LAQ's uploads with R = 0, which send the flag alone.
Trace reference(const Problem& p, Algorithm algo, const Settings& s, double alpha, int iters,
                std::size_t* flag_only) {
  const int M = p.data.workers();
  const std::size_t d = p.data.dim;
  Trace t;
  Vec theta(d, 0.0), aggregate(d, 0.0), steps;
  std::vector<Vec> kept(M, Vec(d, 0.0)), previous(M);
  Vec eps_hat(M, 0.0);
  std::vector<std::int64_t> skipped(M, 0);
  for (int k = 1; k <= iters; ++k) {
    const double tau = threshold(steps, 0.8, s.depth, alpha, M);
    Flags senders(M, 0);
    double margin = INFINITY;
    for (int m = 0; m < M; ++m) {
      const Vec g = gradient(p.data.shards[m], theta);
      Vec send(d, 0.0);
      bool fire = k == 1;
      if (algo == Algorithm::Laq) {
        double radius = 0;
        for (std::size_t i = 0; i < d; ++i) radius = std::max(radius, std::fabs(g[i] - kept[m][i]));
        const double levels = std::pow(2.0, s.bits) - 1, delta = radius / levels;
        Vec q(d);
        for (std::size_t i = 0; i < d; ++i) {
          double j =
              radius > 0 ? std::floor((g[i] - kept[m][i] + radius + delta) / (2 * delta)) : 0;
          j = std::min(std::max(j, 0.0), levels);
          send[i] = 2 * delta * j - radius;
          q[i] = kept[m][i] + send[i];
        }
        Vec err(d);
        for (std::size_t i = 0; i < d; ++i) err[i] = q[i] - g[i];
        const double eps = norm2(err), lhs = norm2(send), rhs = tau + 3 * (eps + eps_hat[m]);
        if (k > 1) {
          fire = lhs >= rhs || skipped[m] >= s.max_skip;
          if (rhs > 0) margin = std::min(margin, std::fabs(lhs - rhs) / rhs);
        }
        if (fire) {
          kept[m] = q;
          eps_hat[m] = eps;
          skipped[m] = 0;
        } else {
          ++skipped[m];
        }
        if (fire && k > 1 && radius == 0) {  // Q = q_hat: only the flag goes, no payload
          fire = false;
          ++*flag_only;
        }
      } else {
        Vec innovation(d);
        for (std::size_t i = 0; i < d; ++i) innovation[i] = g[i] - kept[m][i];
        if (algo == Algorithm::Ef21) fire = true;
        if (algo == Algorithm::Clag && k > 1) {
          Vec change(d);
          for (std::size_t i = 0; i < d; ++i) change[i] = g[i] - previous[m][i];
          const double lhs = norm2(innovation), rhs = s.zeta * norm2(change);
          fire = lhs > rhs;
          if (rhs > 0) margin = std::min(margin, std::fabs(lhs - rhs) / rhs);
        }
        previous[m] = g;
        if (fire) {
          send = k == 1 ? innovation : top_k_of(innovation, s.k);
          for (std::size_t i = 0; i < d; ++i) kept[m][i] += send[i];
        }
      }
      if (!fire) continue;
      senders[m] = 1;
      for (std::size_t i = 0; i < d; ++i) aggregate[i] += send[i];
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
  o.depth = s.depth;
  o.bits = s.bits;
  o.max_skip = s.max_skip;
  o.top_k = s.k;
  o.zeta = s.zeta;
  return o;
}

// The step EF21 and CLAG take by default, from the theory's constants (issue text).
double theory_step(const Problem& p, double a, double zeta) {
  const double M = p.data.workers();
  double mean = 0;
  for (double l : p.constants.worker_smoothness) mean += l * l / M;
  const double theta_c = 1 - std::sqrt(1 - a), beta = (1 - a) / theta_c;
  const double gamma = 1 / (p.constants.smoothness / M +
                            std::sqrt(mean) * std::sqrt(std::max(beta, zeta) / theta_c));
  return gamma / M;
}

// `flag_only` (when given) gets the reference's flag-only uploads.
void expect_matches_reference(Algorithm algo, const Settings& s, const Problem& p = small_problem(),
                              std::size_t* flag_only = nullptr) {
  SCOPED_TRACE(algorithm_name(algo));
  constexpr int kIters = 40;
  ThreadPool pool(2);
  CpuCluster<double> cpu(p.data, ModelSpec{}, pool);
  test::CountingCluster<double> counting(cpu);
  std::vector<IterationRow> rows;
  const RunResult r = train(counting, p.constants, options_for(algo, s, kIters),
                            [&](const IterationRow& row) { rows.push_back(row); });
  const double alpha = algo == Algorithm::Laq ? 1.0 / p.constants.smoothness
                                              : theory_step(p, static_cast<double>(s.k) / 6.0,
                                                            algo == Algorithm::Clag ? s.zeta : 0.0);
  EXPECT_NEAR(r.alpha, alpha, 1e-15 * alpha);
  std::size_t flag_only_uploads = 0;
  const Trace t = reference(p, algo, s, alpha, kIters, &flag_only_uploads);
  if (flag_only) *flag_only = flag_only_uploads;
  ASSERT_EQ(counting.uploads.size(), static_cast<std::size_t>(kIters));
  std::size_t skips = 0;
  for (int k = 0; k < kIters; ++k) {
    ASSERT_GT(t.margins[k], 1e-6) << "iteration " << k + 1 << " decides at rounding level";
    EXPECT_EQ(counting.uploads[k], t.uploads[k]) << "iteration " << k + 1;
    for (auto f : t.uploads[k]) skips += f == 0;
    // The bytes of every upload: the payload's formula.
    const std::uint64_t sent = test::count_flags(t.uploads[k]);
    const std::uint64_t each = algo == Algorithm::Laq ? 8 + (6 * s.bits + 7) / 8
                               : k == 0               ? 6 * 8
                                                      : s.k * (8 + 4);
    EXPECT_EQ(rows[k + 1].spent.bytes_up, sent * each) << "iteration " << k + 1;
    EXPECT_EQ(rows[k + 1].spent.uploads, sent);
  }
  if (algo != Algorithm::Ef21) {
    EXPECT_GT(skips, 0u) << "the rule never skipped: a weak test";
  }
  for (std::size_t j = 0; j < t.theta.size(); ++j)
    EXPECT_NEAR(r.theta[j], t.theta[j], 1e-9 * (1 + std::fabs(t.theta[j]))) << j;
}

TEST(Compressed, LaqMatchesTheReferenceLoop) {
  Settings s;
  expect_matches_reference(Algorithm::Laq, s);
  s.bits = 2;
  s.max_skip = 3;  // the skip limit forces uploads
  expect_matches_reference(Algorithm::Laq, s);
}

// A worker whose gradient never moves from its q_hat (a shard of zero rows: g = 0 = q_hat) has
// R = 0 in every round: when the skip limit makes it upload, it sends its flag alone. It is then
// no sender, and its skip count starts again.
TEST(Compressed, LaqWorkerWithZeroRadiusSendsItsFlagOnly) {
  Problem p = small_problem();
  Shard<double> zero = p.data.shards.front();
  std::fill(zero.x.begin(), zero.x.end(), 0.0);
  std::fill(zero.y.begin(), zero.y.end(), 0.0);
  p.data.shards.push_back(zero);
  const test::GramTops tops = test::gram_top_eigenvalues(p.data);
  p.constants.smoothness = tops.total;
  p.constants.worker_smoothness = tops.worker;
  Settings s;
  s.max_skip = 3;
  std::size_t flag_only = 0;
  expect_matches_reference(Algorithm::Laq, s, p, &flag_only);
  EXPECT_GE(flag_only, 5u);
}

TEST(Compressed, Ef21MatchesTheReferenceLoop) {
  Settings s;
  expect_matches_reference(Algorithm::Ef21, s);
  s.k = 6;  // k = d: EF21 is GD
  expect_matches_reference(Algorithm::Ef21, s);
}

TEST(Compressed, ClagMatchesTheReferenceLoop) {
  // While nobody uploads, least-squares gradients move by equal steps (g^{k+1} - g^k is the
  // same), so zeta = 4 would tie the rule exactly at the second skip; 5 does not.
  Settings s;
  s.zeta = 5.0;
  expect_matches_reference(Algorithm::Clag, s);
  s.zeta = 2.0;
  s.k = 3;
  expect_matches_reference(Algorithm::Clag, s);
}

// At iteration 2 every CLAG worker's innovation is exactly its gradient's change (iteration 1 set
// g_m and g_prev to the same gradient), so with zeta = 1 the strict rule never fires there: the
// two norms are formed alike, and equal vectors compare equal rather than by rounding.
TEST(Compressed, ClagWithZetaOneNeverFiresAtTheSecondIteration) {
  const Problem p = small_problem();
  ThreadPool pool(2);
  for (bool fp32 : {false, true}) {
    std::vector<Flags> uploads;
    const auto run = [&](auto& cluster) {
      test::CountingCluster<std::decay_t<decltype(cluster.theta()[0])>> counting(cluster);
      Settings s;
      s.zeta = 1.0;
      train(counting, p.constants, options_for(Algorithm::Clag, s, 3));
      uploads = counting.uploads;
    };
    if (fp32) {
      const Dataset<float> data = convert_precision<float>(p.data);
      CpuCluster<float> cluster(data, ModelSpec{}, pool);
      run(cluster);
    } else {
      CpuCluster<double> cluster(p.data, ModelSpec{}, pool);
      run(cluster);
    }
    ASSERT_EQ(uploads.size(), 3u);
    EXPECT_EQ(test::count_flags(uploads[0]), 3u);  // the full first round
    EXPECT_EQ(test::count_flags(uploads[1]), 0u) << (fp32 ? "fp32" : "fp64");
  }
}

// The three reach an objective error of 1e-8 on `lag gen paper-linear`.
TEST(Compressed, EachReachesTheOptimumOnThePapersLinearProblem) {
  const Dataset<double> data = make_paper_linear(PaperLinearSpec{});
  const Smoothness sm = smoothness_constants(data, ModelSpec{});
  const ProblemConstants c{sm.global, sm.worker, {}, {}};
  const double optimum = solve_optimum(data, ModelSpec{}).value;
  ThreadPool pool(2);
  for (Algorithm a : {Algorithm::Laq, Algorithm::Ef21, Algorithm::Clag}) {
    SCOPED_TRACE(algorithm_name(a));
    CpuCluster<double> cluster(data, ModelSpec{}, pool);
    TrainOptions o;
    o.algorithm = a;
    o.max_iters = 200000;
    o.optimum = optimum;
    o.target_gap = 1e-8;
    o.eval_every = 10;
    const RunResult r = train(cluster, c, o);
    EXPECT_EQ(r.stop_reason, StopReason::TargetGap);
    EXPECT_LE(r.objective_error, 1e-8);
  }
}

// The same bits on 1 and on 3 threads.
TEST(Compressed, RunsAreBitIdenticalAcrossThreadCounts) {
  const Dataset<double> data = make_paper_linear(PaperLinearSpec{});
  const Smoothness sm = smoothness_constants(data, ModelSpec{});
  const ProblemConstants c{sm.global, sm.worker, {}, {}};
  for (Algorithm a : {Algorithm::Laq, Algorithm::Ef21, Algorithm::Clag}) {
    SCOPED_TRACE(algorithm_name(a));
    TrainOptions o;
    o.algorithm = a;
    o.max_iters = 300;
    std::vector<RunResult> runs;
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      CpuCluster<double> cluster(data, ModelSpec{}, pool);
      runs.push_back(train(cluster, c, o));
    }
    EXPECT_EQ(runs[0].theta, runs[1].theta);
    EXPECT_EQ(runs[0].total.bytes_up, runs[1].total.bytes_up);
    EXPECT_EQ(runs[0].total.uploads, runs[1].total.uploads);
  }
}

}  // namespace
}  // namespace lag
