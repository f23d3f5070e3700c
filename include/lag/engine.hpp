// The engine: one loop for all the algorithms (docs/architecture.md §2). Each iteration is
// plan -> compute -> (evaluate, record) -> trigger -> upload -> step, one call each.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "lag/algorithm.hpp"
#include "lag/cluster.hpp"
#include "lag/ledger.hpp"

namespace lag {

// The step size over a run: constant, or alpha / sqrt(1 + e) in epoch e = 0, 1, ... (a
// full-batch iteration is an epoch).
enum class StepSchedule { Constant, InverseSqrtEpoch };
// "constant" | "inv-sqrt"; throws lag::Error otherwise.
StepSchedule parse_step_schedule(const std::string& name);
const char* step_schedule_name(StepSchedule s);

struct TrainOptions {
  Algorithm algorithm = Algorithm::LagWK;
  // The stochastic algorithms (sgd, lasg-wk, lasg-ps): rows per worker's minibatch (0: the whole
  // shard). The others ignore it.
  std::size_t batch_size = 0;
  StepSchedule schedule = StepSchedule::Constant;
  double alpha = 0.0;                                    // step size; 0 means 1/L
  int depth = 10;                                        // D
  double xi = std::numeric_limits<double>::quiet_NaN();  // NaN: default_xi(algorithm)
  std::int64_t max_iters = 10000;
  double target_gap = 0.0;        // stop once L(theta) - L* <= target_gap (0: off; needs optimum)
  std::optional<double> optimum;  // L*
  double grad_tol = 0.0;          // stop once ||grad L(theta)|| <= grad_tol (0: off)
  double time_limit = 0.0;        // seconds (0: none)
  // Evaluate the loss every this many iterations (and at the end, and at every epoch's end of a
  // minibatch run); 0: at the ends of epochs only.
  std::int64_t eval_every = 1;
  std::uint64_t seed = 1;  // Num-IAG's draws
  // LAQ: bits per coordinate; LAQ, LASG-WK and LASG-PS: the rounds a worker may skip in a row
  // before it must upload (0: any).
  int bits = 4;
  std::int64_t max_skip = 100;
  // EF21 and CLAG: coordinates per upload (0: a tenth of the parameters, at least 1), and CLAG's
  // zeta.
  std::size_t top_k = 0;
  double zeta = 1.0;
  // Asked about every kInterruptCheckSeconds of training: true ends the run after the current
  // iteration, with StopReason::Interrupted (SIGINT/SIGTERM in the CLI). Empty: never.
  std::function<bool()> interrupted;
};

// How often (training time) the engine asks options.interrupted, at iterations that every rank
// of an MPI job agrees on: a collective per iteration would cost more than the check is worth.
constexpr double kInterruptCheckSeconds = 0.05;

// What the engine needs to know about the problem besides the cluster.
struct ProblemConstants {
  double smoothness = 0.0;                // global L
  std::vector<double> worker_smoothness;  // L_m
  std::vector<double> initial_theta;      // theta^1; empty means 0 (the MLP needs a random start)
  std::vector<std::size_t> worker_rows;   // every worker's rows (needed with minibatches)
};

// Iterations per epoch: with minibatches of B rows on each of M workers and N rows in all,
// ceil(N / (M B)), the iterations in which the workers draw N rows together; 1 without.
std::int64_t iterations_per_epoch(const std::vector<std::size_t>& worker_rows, std::size_t batch);

// Held-out evaluation at an iterate (monitoring only, like the training loss).
struct TestMetrics {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // fraction in [0, 1]
};
using TestEvaluator = std::function<TestMetrics(const std::vector<double>& theta)>;

// One row of metrics.csv: the state after `iter` iterations (iterate theta^{iter+1}) and what
// iteration `iter` spent to produce it (row 0: the starting point, nothing spent).
struct IterationRow {
  std::int64_t iter = 0;
  bool evaluated = false;
  double loss = 0.0;
  double objective_error = std::numeric_limits<double>::quiet_NaN();  // when L* is known
  double grad_norm = 0.0;
  TestMetrics test;           // when evaluated and a test evaluator is given
  Traffic spent;              // this iteration
  Traffic cumulative;         // iterations 1..iter
  Flags senders;              // the workers whose upload this iteration made (empty in row 0)
  double wall_seconds = 0.0;  // training time so far, monitoring (evaluation) excluded
  double epoch = 0.0;         // passes over the training data: iter / iterations per epoch
};

// What one epoch of a minibatch run did, and where it ended (evaluated there).
struct EpochRow {
  std::int64_t epoch = 0;      // 1, 2, ...
  std::int64_t iteration = 0;  // its last iteration
  Traffic spent;               // in its iterations
  Traffic cumulative;          // from the start
  double loss = 0.0;
  TestMetrics test;
  double wall_seconds = 0.0;
};

enum class StopReason { TargetGap, GradTol, MaxIters, TimeLimit, Diverged, Interrupted };
// target_gap, grad_tol, max_iters, time_limit, diverged, interrupted
const char* stop_reason_name(StopReason r);

struct RunResult {
  Algorithm algorithm = Algorithm::GD;
  double alpha = 0.0;
  double xi = 0.0;
  std::int64_t iterations = 0;  // iterations spent to produce the final iterate
  Traffic total;                // their traffic
  double final_loss = 0.0;
  double objective_error = std::numeric_limits<double>::quiet_NaN();
  double grad_norm = 0.0;
  TestMetrics test;  // at the final iterate, with a test evaluator
  StopReason stop_reason = StopReason::MaxIters;
  std::string message;  // for Diverged: what happened, in a sentence
  double wall_seconds = 0.0;
  double eval_seconds = 0.0;
  std::vector<double> theta;
  std::size_t batch_size = 0;             // 0: full batch
  std::int64_t iterations_per_epoch = 1;  // see iterations_per_epoch()
  StepSchedule schedule = StepSchedule::Constant;
  std::vector<EpochRow> epochs;  // minibatch runs: one per finished epoch
};

using RowObserver = std::function<void(const IterationRow&)>;

// A run's state between iterations, the same on every process of an MPI job: with the cluster's
// state (ClusterState) it is everything the run continues from (docs/architecture.md §6).
struct EngineState {
  std::int64_t iteration = 0;                 // t: iterations done; the cluster holds theta^{t+1}
  std::vector<double> recent_steps;           // the step history's (StepHistory::recent)
  Traffic total, last;                        // the ledger's
  std::string planner_random;                 // Num-IAG's generator (Random::save)
  std::vector<std::int64_t> planner_skipped;  // LASG-PS: rounds each worker was not asked
  std::vector<EpochRow> epochs;               // the finished epochs' rows
  Flags last_senders;                         // iteration t's senders (row t's), empty at t = 0
  double initial_loss = 0.0;                  // the loss at theta^1 (the blow-up test's reference)
  double train_seconds = 0.0;
  double eval_seconds = 0.0;
  // The last evaluation's, as RunResult has them.
  double final_loss = 0.0;
  double objective_error = std::numeric_limits<double>::quiet_NaN();
  double grad_norm = 0.0;
  TestMetrics test;
};

template <class T>
struct RunState {
  EngineState engine;
  ClusterState<T> cluster;  // this process's part
};

// Checkpoints of a run: `save` is handed the state after every `every` iterations (t > 0, not
// when the run ends there), and when the run is interrupted (before row t is evaluated, so that
// the resumed run writes it as the uninterrupted one would). With `resume` the run continues
// from that state instead of starting at theta^1: the same rows, results and bits as the run
// that saved it would have gone on to produce.
template <class T>
struct Checkpoints {
  std::int64_t every = 0;  // 0: only when interrupted
  std::function<void(const RunState<T>&)> save;
  const RunState<T>* resume = nullptr;
};

// Run one algorithm from theta^1 on the cluster (which is reset first). Throws lag::Error for
// inconsistent options (e.g. a target gap without an optimum); divergence is not thrown but
// returned as StopReason::Diverged with a message. `test`, when given, is called at every
// evaluated iterate.
template <class T>
RunResult train(Cluster<T>& cluster, const ProblemConstants& problem, const TrainOptions& options,
                const RowObserver& observer = {}, const TestEvaluator& test = {},
                const Checkpoints<T>& checkpoints = {});

}  // namespace lag
