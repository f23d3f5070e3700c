// The algorithm rules against references written here, independently of the code under test:
// the trigger rules at, just below and just above the threshold (and with NaN and infinities),
// tau over the last D steps (fewer in the first iterations) for several xi and D, the defaults
// (xi, alpha = 1/L), the IAG step alpha/M, Num-IAG's draw proportional to L_m, and every
// per-iteration decision of LAG-WK and LAG-PS on a small problem against a plain reference loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../test_helpers.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/algorithm.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/trigger_rules.hpp"

namespace lag {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double up(double x) { return std::nextafter(x, kInf); }
double down(double x) { return std::nextafter(x, -kInf); }

// ---- the rules themselves --------------------------------------------------------------------

// LAG-WK: upload iff ||delta||^2 > tau, strictly; NaN never fires (IEEE: every comparison with
// NaN is false), so a worker whose delta is NaN keeps its last upload and the evaluation reports
// the divergence.
TEST(TriggerRules, WorkerRuleIsStrictAtTheThreshold) {
  for (const double tau : {0.0, 1e-300, 4.9e-324, 0.1, 1.0, 3.0e7, 1e300}) {
    SCOPED_TRACE(tau);
    EXPECT_FALSE(wk_fires(tau, tau)) << "at the threshold";
    EXPECT_TRUE(wk_fires(up(tau), tau)) << "one ulp above";
    EXPECT_FALSE(wk_fires(down(tau), tau)) << "one ulp below";
    EXPECT_TRUE(wk_fires(kInf, tau));
    EXPECT_FALSE(wk_fires(kNaN, tau));
  }
  EXPECT_FALSE(wk_fires(0.0, 0.0)) << "an unchanged gradient never uploads, even at tau = 0";
  EXPECT_TRUE(wk_fires(4.9e-324, 0.0)) << "any change uploads at tau = 0";
  EXPECT_FALSE(wk_fires(1e308, kInf));
  EXPECT_FALSE(wk_fires(kInf, kInf));
  EXPECT_FALSE(wk_fires(1.0, kNaN));
}

// LAG-PS: ask worker m iff L_m^2 ||theta_hat_m - theta^k||^2 > tau, strictly. The values are
// chosen so that the left-hand side is exact: L_m^2 * d2 equals tau exactly, or lies one ulp of
// d2 above or below it.
TEST(TriggerRules, ServerRuleIsStrictAtTheThreshold) {
  struct Case {
    double smoothness, tau;
  };
  for (const Case c : {Case{3.0, 9.0}, Case{0.5, 0.25}, Case{2.0, 4e-300}, Case{1024.0, 1.0}}) {
    SCOPED_TRACE(c.smoothness);
    const double at = c.tau / (c.smoothness * c.smoothness);  // exact: powers of two and 9 = 3^2
    ASSERT_EQ(at * c.smoothness * c.smoothness, c.tau);
    EXPECT_FALSE(ps_fires(c.smoothness, at, c.tau)) << "at the threshold";
    EXPECT_TRUE(ps_fires(c.smoothness, up(at), c.tau)) << "just above";
    EXPECT_FALSE(ps_fires(c.smoothness, down(at), c.tau)) << "just below";
    EXPECT_FALSE(ps_fires(c.smoothness, kNaN, c.tau));
    EXPECT_TRUE(ps_fires(c.smoothness, kInf, c.tau));
    EXPECT_FALSE(ps_fires(kNaN, 1.0, c.tau));
  }
  // The square of L_m, not L_m: with L = 3 and d2 = 2, 9 * 2 = 18 > 10 but 3 * 2 = 6 is not.
  EXPECT_TRUE(ps_fires(3.0, 2.0, 10.0));
  EXPECT_FALSE(ps_fires(0.5, 2.0, 1.0)) << "0.25 * 2 = 0.5 does not exceed 1";
  EXPECT_FALSE(ps_fires(5.0, 0.0, 0.0)) << "a worker asked at theta^k is not asked again";
  EXPECT_FALSE(ps_fires(kInf, 0.0, 1.0)) << "inf * 0 is NaN: not asked";
  EXPECT_FALSE(ps_fires(1.0, 1e308, kInf));
}

// ---- tau over the step history ----------------------------------------------------------------

// tau = xi / (D alpha^2 M^2) * (sum of the last min(D, pushed) squared steps): the divisor is D
// even before D steps exist.
double reference_tau(const std::vector<double>& steps, double xi, int depth, double alpha,
                     int workers) {
  double sum = 0;
  const std::size_t n = steps.size();
  const std::size_t first = n > static_cast<std::size_t>(depth) ? n - depth : 0;
  for (std::size_t i = first; i < n; ++i) sum += steps[i];
  return xi * sum / (depth * alpha * alpha * workers * workers);
}

TEST(StepHistory, ThresholdIsXiOverDAlphaSquaredMSquaredTimesTheLastDSteps) {
  // Integer steps: every partial sum is exact, so only the window and the constants can differ.
  const std::vector<double> steps = {5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4};
  for (const int depth : {1, 2, 3, 7, 10}) {
    for (const double xi : {0.5, 1.0, 10.0}) {
      for (const double alpha : {0.25, 0.1}) {
        for (const int workers : {1, 3, 9}) {
          StepHistory h(depth);
          std::vector<double> pushed;
          EXPECT_EQ(h.threshold(xi, alpha, workers), 0.0) << "no steps yet";
          for (const double s : steps) {
            h.push(s);
            pushed.push_back(s);
            const double want = reference_tau(pushed, xi, depth, alpha, workers);
            EXPECT_NEAR(h.threshold(xi, alpha, workers), want, 1e-14 * want)
                << "D " << depth << " xi " << xi << " alpha " << alpha << " M " << workers
                << " after " << pushed.size() << " steps";
          }
        }
      }
    }
  }
}

TEST(StepHistory, DepthBelowOneIsAnError) {
  EXPECT_THROW(StepHistory(0), Error);
  EXPECT_THROW(StepHistory(-3), Error);
}

TEST(Algorithm, DefaultXiIsThePapersReference) {
  EXPECT_EQ(default_xi(Algorithm::LagWK), 1.0);
  EXPECT_EQ(default_xi(Algorithm::LagPS), 10.0);
}

// ---- the engine's wiring, through a scripted cluster ----------------------------------------

// A cluster without data: it records what the engine asks (tau, selections, step sizes) and
// answers with scripted step norms, so the engine's use of the rules can be checked exactly.
class ScriptedCluster final : public Cluster<double> {
 public:
  explicit ScriptedCluster(int workers) : workers_(workers) {}
  int workers() const override { return workers_; }
  std::size_t dim() const override { return 1; }
  void reset(const std::vector<double>&, const Sampling&) override {}
  void compute(const Flags& selected) override { computes.push_back(selected); }
  // The thresholds of the rounds that ask a rule (not those that upload every selected worker).
  void trigger(const Round& round, const Flags& selected, Flags& fire) override {
    if (round.trigger != Round::Trigger::None && !round.forced) trigger_taus.push_back(round.tau);
    fire = selected;
  }
  void select_and_compute(double tau, const std::vector<double>&, const Flags&,
                          Flags& selected) override {
    select_taus.push_back(tau);
    selected.assign(static_cast<std::size_t>(workers_), 1);
    computes.push_back(selected);
  }
  Evaluation evaluate() override { return {1.0, 1.0}; }
  void upload(const Flags&, const Round&) override {}
  // The k-th step norm is 1 + (k mod 7): varied, exact, and never zero.
  double step(double step_size) override {
    step_sizes.push_back(step_size);
    const double change2 = 1.0 + static_cast<double>(step_sizes.size() % 7);
    changes.push_back(change2);
    return change2;
  }
  std::vector<double> theta() const override { return {0.0}; }
  void take_physical_bytes(std::uint64_t& u, std::uint64_t& d) override { u = d = 0; }

  std::vector<Flags> computes;
  std::vector<double> trigger_taus, select_taus, step_sizes, changes;

 private:
  int workers_;
};

struct Scripted {
  RunResult result;
  ScriptedCluster cluster;
};

Scripted run_scripted(Algorithm a, std::vector<double> smoothness, double global, double alpha,
                      double xi, int depth, std::int64_t iters) {
  Scripted s{{}, ScriptedCluster(static_cast<int>(smoothness.size()))};
  TrainOptions o;
  o.algorithm = a;
  o.alpha = alpha;
  o.xi = xi;
  o.depth = depth;
  o.max_iters = iters;
  s.result = train(s.cluster, ProblemConstants{global, std::move(smoothness), {}, {}}, o);
  return s;
}

// The tau handed to the rule in iteration k (k >= 2) is built on the k - 1 steps taken so far.
TEST(EngineRules, TauIsBuiltOnTheLastDStepsForEveryXiAndD) {
  const std::vector<double> l = {1, 2, 3, 4, 5};
  const int M = 5;
  for (const Algorithm a : {Algorithm::LagWK, Algorithm::LagPS}) {
    for (const int depth : {1, 3, 10}) {
      for (const double xi : {0.7, 1.0, 10.0}) {
        const double alpha = 0.05;
        const Scripted s = run_scripted(a, l, 20.0, alpha, xi, depth, 30);
        const std::vector<double>& taus =
            a == Algorithm::LagWK ? s.cluster.trigger_taus : s.cluster.select_taus;
        ASSERT_EQ(taus.size(), 29u) << "the rule runs from iteration 2 on";
        for (std::size_t i = 0; i < taus.size(); ++i) {
          const std::vector<double> before(s.cluster.changes.begin(),
                                           s.cluster.changes.begin() + static_cast<long>(i + 1));
          const double want = reference_tau(before, xi, depth, alpha, M);
          EXPECT_NEAR(taus[i], want, 1e-14 * want)
              << algorithm_name(a) << " D " << depth << " xi " << xi << " iteration " << i + 2;
        }
      }
    }
  }
}

TEST(EngineRules, DefaultXiAndAlphaReachTheRule) {
  const std::vector<double> l = {1, 3};
  const double global = 4.0;  // alpha = 1/L = 0.25
  for (const Algorithm a : {Algorithm::LagWK, Algorithm::LagPS}) {
    const Scripted s = run_scripted(a, l, global, 0.0, kNaN, 10, 5);
    EXPECT_EQ(s.result.alpha, 0.25);
    EXPECT_EQ(s.result.xi, a == Algorithm::LagWK ? 1.0 : 10.0);
    const std::vector<double>& taus =
        a == Algorithm::LagWK ? s.cluster.trigger_taus : s.cluster.select_taus;
    ASSERT_FALSE(taus.empty());
    const double xi = a == Algorithm::LagWK ? 1.0 : 10.0;
    EXPECT_NEAR(taus[0], reference_tau({s.cluster.changes[0]}, xi, 10, 0.25, 2), 1e-15);
    for (const double step : s.cluster.step_sizes) EXPECT_EQ(step, 0.25);
  }
}

// GD and LAG take the step alpha; the IAGs alpha / M (one fresh gradient among M stale ones).
TEST(EngineRules, IagStepIsAlphaOverM) {
  const std::vector<double> l = {1, 2, 3, 4};
  for (const Algorithm a :
       {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS, Algorithm::CycIAG, Algorithm::NumIAG}) {
    const bool iag = a == Algorithm::CycIAG || a == Algorithm::NumIAG;
    const Scripted given = run_scripted(a, l, 10.0, 0.2, kNaN, 10, 6);
    const Scripted by_default = run_scripted(a, l, 10.0, 0.0, kNaN, 10, 6);
    ASSERT_EQ(given.cluster.step_sizes.size(), 6u);
    for (const double step : given.cluster.step_sizes)
      EXPECT_EQ(step, iag ? 0.2 / 4 : 0.2) << algorithm_name(a);
    for (const double step : by_default.cluster.step_sizes)
      EXPECT_EQ(step, iag ? 0.1 / 4 : 0.1) << algorithm_name(a);
  }
}

// Num-IAG draws worker m with probability L_m / sum L; iteration 1 is a full round.
TEST(EngineRules, NumIagDrawsWorkersInProportionToTheirSmoothness) {
  const std::vector<double> l = {1, 2, 3, 4, 0.5, 9.5};
  const double total = 20.0;
  const std::int64_t iters = 60001;
  const Scripted s = run_scripted(Algorithm::NumIAG, l, total, 0.01, kNaN, 10, iters);
  ASSERT_EQ(s.cluster.computes.size(), static_cast<std::size_t>(iters));
  EXPECT_EQ(test::count_flags(s.cluster.computes[0]), l.size());
  std::vector<double> hits(l.size(), 0.0);
  for (std::size_t k = 1; k < s.cluster.computes.size(); ++k) {
    ASSERT_EQ(test::count_flags(s.cluster.computes[k]), 1u) << "iteration " << k + 1;
    for (std::size_t m = 0; m < l.size(); ++m) hits[m] += s.cluster.computes[k][m];
  }
  const double n = static_cast<double>(iters - 1);
  double chi2 = 0;
  for (std::size_t m = 0; m < l.size(); ++m) {
    const double p = l[m] / total;
    // Five standard deviations: a false alarm about once in 3 million seeds (the seed is fixed).
    EXPECT_NEAR(hits[m] / n, p, 5 * std::sqrt(p * (1 - p) / n)) << "worker " << m;
    chi2 += (hits[m] - n * p) * (hits[m] - n * p) / (n * p);
  }
  EXPECT_LT(chi2, 25.7) << "chi-square, 5 degrees of freedom, p = 1e-4";
}

// ---- every decision of LAG-WK and LAG-PS against a reference loop -----------------------------

using Vec = std::vector<double>;

struct Problem {
  Dataset<double> data;
  double smoothness = 0;  // lambda_max(X^T X) of all rows
  Vec worker_smoothness;  // lambda_max(X_m^T X_m)
};

Problem small_problem() {
  Problem p;
  p.data = test::gaussian_data(4, 9, 8, false, 0.3, 77);
  const test::GramTops tops = test::gram_top_eigenvalues(p.data);  // least squares: L = lambda_max
  p.worker_smoothness = tops.worker;
  p.smoothness = tops.total;
  return p;
}

Vec gradient(const Shard<double>& s, const Vec& theta) {
  return test::least_squares_gradient(s, theta);
}

double distance2(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t j = 0; j < a.size(); ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

struct Reference {
  std::vector<Flags> uploads;  // senders of each iteration
  Vec theta;                   // after the last iteration
  double margin = kInf;        // smallest |lhs - tau| / tau of the rule over iterations 2..K
  std::size_t skips = 0;       // worker-iterations without an upload
  double first_grad_norm = 0;  // ||grad L(theta^1)||
  double last_grad_norm = 0;   // ||grad L(theta^K)||, the iterate of the last decisions
};

double true_gradient_norm(const Problem& p, const Vec& theta) {
  Vec sum(theta.size(), 0.0);
  for (const auto& s : p.data.shards) {
    const Vec g = gradient(s, theta);
    for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += g[j];
  }
  return std::sqrt(distance2(sum, Vec(sum.size(), 0.0)));
}

// The loop of docs/architecture.md §2, written out plainly: the server's aggregate, g_hat_m,
// theta_hat_m, and the history of squared steps.
Reference reference_run(const Problem& p, Algorithm a, double xi, int depth, int iters) {
  const int M = p.data.workers();
  const std::size_t d = p.data.dim;
  const double alpha = 1.0 / p.smoothness;
  Reference r;
  Vec theta(d, 0.0), aggregate(d, 0.0);
  std::vector<Vec> g_hat(M, Vec(d, 0.0)), theta_hat(M, Vec(d, 0.0));
  Vec steps;
  for (int k = 1; k <= iters; ++k) {
    if (k == 1) r.first_grad_norm = true_gradient_norm(p, theta);
    if (k == iters) r.last_grad_norm = true_gradient_norm(p, theta);
    const double tau = reference_tau(steps, xi, depth, alpha, M);
    Flags senders(M, 0);
    for (int m = 0; m < M; ++m) {
      bool send = k == 1;
      if (a == Algorithm::LagWK) {
        const Vec g = gradient(p.data.shards[m], theta);
        const double lhs = distance2(g, g_hat[m]);
        if (k > 1) {
          send = lhs > tau;
          r.margin = std::min(r.margin, std::fabs(lhs - tau) / tau);
        }
      } else {
        const double lhs =
            p.worker_smoothness[m] * p.worker_smoothness[m] * distance2(theta_hat[m], theta);
        if (k > 1) {
          send = lhs > tau;
          r.margin = std::min(r.margin, std::fabs(lhs - tau) / tau);
        }
      }
      if (!send) {
        ++r.skips;
        continue;
      }
      senders[m] = 1;
      const Vec g = gradient(p.data.shards[m], theta);
      for (std::size_t j = 0; j < d; ++j) aggregate[j] += g[j] - g_hat[m][j];
      g_hat[m] = g;
      theta_hat[m] = theta;
    }
    Vec next(d);
    for (std::size_t j = 0; j < d; ++j) next[j] = theta[j] - alpha * aggregate[j];
    steps.push_back(distance2(next, theta));
    theta = next;
    r.uploads.push_back(senders);
  }
  r.theta = theta;
  return r;
}

TEST(LagDecisions, EveryIterationMatchesTheReferenceLoop) {
  const Problem p = small_problem();
  const int iters = 40;
  struct Setting {
    Algorithm algo;
    double xi;
    int depth;
  };
  for (const Setting s : {Setting{Algorithm::LagWK, 1.0, 10}, Setting{Algorithm::LagWK, 0.3, 1},
                          Setting{Algorithm::LagWK, 3.0, 4}, Setting{Algorithm::LagPS, 10.0, 10},
                          Setting{Algorithm::LagPS, 2.0, 3}, Setting{Algorithm::LagPS, 30.0, 1}}) {
    SCOPED_TRACE(std::string(algorithm_name(s.algo)) + " xi " + std::to_string(s.xi) + " D " +
                 std::to_string(s.depth));
    const Reference want = reference_run(p, s.algo, s.xi, s.depth, iters);
    // The comparison means something only if the rule both fired and skipped, and no decision
    // sat so close to tau that rounding (a different summation order) could flip it: the
    // gradient is still far above the rounding floor (near it, deltas are rounding noise).
    ASSERT_GT(want.last_grad_norm, 1e-6 * want.first_grad_norm);
    ASSERT_GT(want.skips, 0u);
    ASSERT_LT(want.skips, static_cast<std::size_t>((iters - 1) * p.data.workers()));
    ASSERT_GT(want.margin, 1e-9);

    ThreadPool pool(2);
    CpuCluster<double> cpu(p.data, ModelSpec{}, pool);
    test::CountingCluster<double> counting(cpu);
    TrainOptions o;
    o.algorithm = s.algo;
    o.xi = s.xi;
    o.depth = s.depth;
    o.max_iters = iters;
    const RunResult got =
        train(counting, ProblemConstants{p.smoothness, p.worker_smoothness, {}, {}}, o);
    ASSERT_EQ(counting.uploads.size(), want.uploads.size());
    for (std::size_t k = 0; k < want.uploads.size(); ++k)
      EXPECT_EQ(counting.uploads[k], want.uploads[k]) << "iteration " << k + 1;
    EXPECT_LT(test::relative_distance(got.theta, want.theta), 1e-12);
  }
}

}  // namespace
}  // namespace lag
