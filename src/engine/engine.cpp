#include "lag/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "compress/quantizer.hpp"
#include "lag/error.hpp"
#include "lag/random.hpp"

namespace lag {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::TargetGap:
      return "target_gap";
    case StopReason::GradTol:
      return "grad_tol";
    case StopReason::MaxIters:
      return "max_iters";
    case StopReason::TimeLimit:
      return "time_limit";
    case StopReason::Diverged:
      return "diverged";
    case StopReason::Interrupted:
      return "interrupted";
  }
  return "?";
}

StepSchedule parse_step_schedule(const std::string& name) {
  if (name == "constant") return StepSchedule::Constant;
  if (name == "inv-sqrt") return StepSchedule::InverseSqrtEpoch;
  throw Error("unknown step schedule '" + name + "' (expected constant or inv-sqrt)");
}

const char* step_schedule_name(StepSchedule s) {
  return s == StepSchedule::Constant ? "constant" : "inv-sqrt";
}

std::int64_t iterations_per_epoch(const std::vector<std::size_t>& worker_rows, std::size_t batch) {
  if (batch == 0 || worker_rows.empty()) return 1;
  std::size_t total = 0;
  for (std::size_t r : worker_rows) total += r;
  const std::size_t per_iteration = worker_rows.size() * batch;
  return static_cast<std::int64_t>(
      std::max<std::size_t>(1, (total + per_iteration - 1) / per_iteration));
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A loss this many times the starting loss (plus one, for a zero start) means the iterates are
// running away: with alpha <= 2/L none of the algorithms can get there.
constexpr double kBlowUpFactor = 1e12;

void validate(const TrainOptions& o, const ProblemConstants& p, int workers) {
  if (workers < 1) throw Error("no workers");
  if (static_cast<int>(p.worker_smoothness.size()) != workers)
    throw Error("internal: one smoothness constant per worker expected");
  if (o.alpha < 0 || !std::isfinite(o.alpha)) throw Error("--alpha must be a positive number");
  if (o.alpha == 0 && !(p.smoothness > 0))
    throw Error("the smoothness constant L is 0 (all-zero data?); give the step with --alpha");
  if (o.max_iters < 0) throw Error("--max-iters must be >= 0");
  if (o.eval_every < 0) throw Error("--eval-every must be >= 0");
  if (stochastic(o.algorithm) && o.batch_size > 0) {
    if (p.worker_rows.size() != static_cast<std::size_t>(workers))
      throw Error("internal: minibatches need every worker's row count");
    for (std::size_t m = 0; m < p.worker_rows.size(); ++m)
      if (o.batch_size > p.worker_rows[m])
        throw Error("--batch-size " + std::to_string(o.batch_size) + " is more than worker " +
                    std::to_string(m) + "'s " + std::to_string(p.worker_rows[m]) + " rows");
  }
  if (o.target_gap < 0) throw Error("--target-gap must be >= 0");
  if (o.target_gap > 0 && !o.optimum)
    throw Error("--target-gap needs the optimal value: give --optimum VALUE or --optimum auto");
  if (o.grad_tol < 0) throw Error("--grad-tol must be >= 0");
  if (o.time_limit < 0) throw Error("--time-limit must be >= 0");
  if (!std::isnan(o.xi) && !(o.xi >= 0)) throw Error("--xi must be >= 0");
  if (o.bits < kMinQuantizerBits || o.bits > kMaxQuantizerBits)
    throw Error("--bits must be between " + std::to_string(kMinQuantizerBits) + " and " +
                std::to_string(kMaxQuantizerBits));
  if (o.max_skip < 0) throw Error("--max-skip must be >= 0");
  if (!(o.zeta >= 0) || !std::isfinite(o.zeta)) throw Error("--zeta must be >= 0");
}

// EF21's and CLAG's k: the option, or a tenth of the parameters (at least 1).
std::size_t top_k_for(const TrainOptions& o, std::size_t d) {
  const std::size_t k = o.top_k > 0 ? o.top_k : std::max<std::size_t>(1, d / 10);
  if (k > d)
    throw Error("--topk " + std::to_string(k) + " is more than the model's " + std::to_string(d) +
                " parameters");
  return k;
}

// What the workers do in iteration k's exchange (Round). Iteration 1 is a full round for every
// algorithm: LAQ's and CLAG's are forced (their rules' bookkeeping still starts), and EF21 and
// CLAG send their full gradients, so that their g_m start as the exact ones (EF21's usual start).
Round round_for(Algorithm algo, std::int64_t k, double tau, const TrainOptions& o,
                std::size_t top_k) {
  Round r;
  r.tau = tau;
  r.bits = o.bits;
  r.max_skip = o.max_skip;
  r.top_k = top_k;
  r.zeta = o.zeta;
  switch (algo) {
    case Algorithm::GD:
      r.upload = Round::Upload::Gradient;
      break;
    case Algorithm::LagWK:
      if (k > 1) r.trigger = Round::Trigger::LagWk;
      break;
    case Algorithm::Sgd:
      r.upload = Round::Upload::Gradient;
      break;
    case Algorithm::LasgWK:
      // Forced at first: every worker uploads and keeps theta^1 as its theta_hat.
      r.trigger = Round::Trigger::LasgWk;
      r.forced = k == 1;
      break;
    case Algorithm::Laq:
      r.trigger = Round::Trigger::Laq;
      r.upload = Round::Upload::Quantized;
      r.forced = k == 1;
      break;
    case Algorithm::Ef21:
      if (k > 1) r.upload = Round::Upload::TopK;
      break;
    case Algorithm::Clag:
      r.trigger = Round::Trigger::Clag;
      r.forced = k == 1;
      if (k > 1) r.upload = Round::Upload::TopK;
      break;
    default:  // LAG-PS, LASG-PS and the IAGs: the planner selected who uploads
      break;
  }
  return r;
}

// Which workers compute in iteration k (1-based), and their computing. Iteration 1 is a full
// round for every algorithm, so the aggregate starts as the exact gradient.
class Planner {
 public:
  Planner(const TrainOptions& o, const ProblemConstants& p, int workers)
      : algo_(o.algorithm),
        workers_(workers),
        max_skip_(o.algorithm == Algorithm::LasgPS ? o.max_skip : 0),
        smoothness_(p.worker_smoothness),
        rng_(o.seed),
        skipped_(static_cast<std::size_t>(workers), 0) {}

  template <class T>
  void plan_and_compute(std::int64_t k, double tau, Cluster<T>& cluster, Flags& selected) {
    selected.assign(static_cast<std::size_t>(workers_), 0);
    if (k > 1 && (algo_ == Algorithm::LagPS || algo_ == Algorithm::LasgPS)) {
      // LASG-PS asks a worker that was skipped max_skip rounds in a row whatever the rule says.
      forced_.assign(static_cast<std::size_t>(workers_), 0);
      for (std::size_t m = 0; m < forced_.size(); ++m)
        forced_[m] = max_skip_ > 0 && skipped_[m] >= max_skip_ ? 1 : 0;
      cluster.select_and_compute(tau, smoothness_, forced_, selected);
      for (std::size_t m = 0; m < selected.size(); ++m)
        skipped_[m] = selected[m] ? 0 : skipped_[m] + 1;
      return;
    }
    if (k == 1 || all_compute(algo_))
      std::fill(selected.begin(), selected.end(), 1);
    else if (algo_ == Algorithm::CycIAG)
      selected[static_cast<std::size_t>((k - 2) % workers_)] = 1;
    else if (algo_ == Algorithm::NumIAG)
      selected[rng_.weighted(smoothness_)] = 1;
    cluster.compute(selected);
  }

  std::string save_random() const { return rng_.save(); }
  void restore_random(const std::string& state) { rng_.restore(state); }
  const std::vector<std::int64_t>& skipped() const { return skipped_; }
  void restore_skipped(const std::vector<std::int64_t>& skipped) {
    if (skipped.size() != skipped_.size())
      throw Error("the saved run's state does not fit this run (workers differ)");
    skipped_ = skipped;
  }

 private:
  Algorithm algo_;
  int workers_;
  std::int64_t max_skip_;
  std::vector<double> smoothness_;
  Random rng_;
  std::vector<std::int64_t> skipped_;  // rounds in a row each worker was not asked
  Flags forced_;
};

// The step of iteration k (1-based) under the schedule.
double scheduled(double alpha, StepSchedule schedule, std::int64_t k, std::int64_t per_epoch) {
  if (schedule == StepSchedule::Constant) return alpha;
  const auto epoch = static_cast<double>((k - 1) / per_epoch);
  return alpha / std::sqrt(1.0 + epoch);
}

std::uint64_t count(const Flags& f) {
  std::uint64_t n = 0;
  for (auto v : f) n += v;
  return n;
}

}  // namespace

template <class T>
RunResult train(Cluster<T>& cluster, const ProblemConstants& problem, const TrainOptions& options,
                const RowObserver& observer, const TestEvaluator& test,
                const Checkpoints<T>& checkpoints) {
  const int M = cluster.workers();
  validate(options, problem, M);
  const Algorithm algo = options.algorithm;
  const bool iag = algo == Algorithm::CycIAG || algo == Algorithm::NumIAG;

  RunResult result;
  result.algorithm = algo;
  const bool top_k_uploads = algo == Algorithm::Ef21 || algo == Algorithm::Clag;
  const std::size_t top_k = top_k_uploads ? top_k_for(options, cluster.dim()) : 0;
  if (top_k_uploads)
    result.alpha =
        options.alpha > 0
            ? options.alpha
            : compressed_step(problem.smoothness, problem.worker_smoothness,
                              static_cast<double>(top_k) / static_cast<double>(cluster.dim()),
                              algo == Algorithm::Clag ? options.zeta : 0.0);
  else
    result.alpha = alpha_or_default(options.alpha, problem.smoothness);
  result.xi = std::isnan(options.xi) ? default_xi(algo) : options.xi;
  const bool lasg = algo == Algorithm::LasgWK || algo == Algorithm::LasgPS;
  result.batch_size = stochastic(algo) ? options.batch_size : 0;
  result.iterations_per_epoch = iterations_per_epoch(problem.worker_rows, result.batch_size);
  result.schedule = options.schedule;
  const std::int64_t per_epoch = result.iterations_per_epoch;
  const bool minibatches = result.batch_size > 0;
  // Iteration k's step, and the trigger threshold that goes with it.
  const auto alpha_at = [&](std::int64_t k) {
    return scheduled(result.alpha, options.schedule, k, per_epoch);
  };
  double step_size = iag ? result.alpha / M : result.alpha;

  cluster.reset(problem.initial_theta, Sampling{result.batch_size, options.seed});
  StepHistory history(options.depth);
  Ledger ledger(algo, M, cluster.dim(), sizeof(T));
  Planner planner(options, problem, M);
  Flags selected, fire;
  double initial_loss = 0;
  double train_seconds = 0, eval_seconds = 0;

  std::int64_t start = 0;
  if (const RunState<T>* saved = checkpoints.resume) {
    const EngineState& e = saved->engine;
    if (e.iteration < 0 || e.recent_steps.size() > static_cast<std::size_t>(options.depth) ||
        e.last_senders.size() != (e.iteration > 0 ? static_cast<std::size_t>(M) : 0))
      throw Error("the saved run's state does not fit this run (depth or workers differ)");
    cluster.restore_state(saved->cluster);
    for (double s : e.recent_steps) history.push(s);
    ledger.restore(e.total, e.last);
    planner.restore_random(e.planner_random);
    if (!e.planner_skipped.empty()) planner.restore_skipped(e.planner_skipped);
    result.epochs = e.epochs;
    fire = e.last_senders;
    initial_loss = e.initial_loss;
    train_seconds = e.train_seconds;
    eval_seconds = e.eval_seconds;
    result.final_loss = e.final_loss;
    result.objective_error = e.objective_error;
    result.grad_norm = e.grad_norm;
    result.test = e.test;
    start = e.iteration;
  }
  const auto save_state = [&](std::int64_t t) {
    RunState<T> s;
    EngineState& e = s.engine;
    e.iteration = t;
    e.recent_steps = history.recent();
    e.total = ledger.total();
    e.last = ledger.last();
    e.planner_random = planner.save_random();
    e.planner_skipped = planner.skipped();
    e.epochs = result.epochs;
    if (t > 0) e.last_senders = fire;
    e.initial_loss = initial_loss;
    e.train_seconds = train_seconds;
    e.eval_seconds = eval_seconds;
    e.final_loss = result.final_loss;
    e.objective_error = result.objective_error;
    e.grad_norm = result.grad_norm;
    e.test = result.test;
    s.cluster = cluster.save_state();
    checkpoints.save(s);
  };

  std::int64_t next_interrupt_check = start;
  for (std::int64_t t = start;; ++t) {  // t iterations done; the server holds theta^{t+1}
    auto t0 = Clock::now();
    const bool out_of_iters = t >= options.max_iters;
    const bool out_of_time =
        options.time_limit > 0 && cluster.agree(train_seconds >= options.time_limit);
    bool interrupted = false;
    if (options.interrupted && t >= next_interrupt_check) {
      // Whether any process was interrupted, and the next iteration to ask at (each proposes one
      // about kInterruptCheckSeconds ahead by its own clock; the latest wins, on every rank).
      const double per_iteration = t > 0 ? train_seconds / static_cast<double>(t) : 0.0;
      const double ahead =
          per_iteration > 0 ? std::min(std::max(kInterruptCheckSeconds / per_iteration, 1.0), 1e6)
                            : 1.0;
      double ask[2] = {options.interrupted() ? 1.0 : 0.0,
                       static_cast<double>(t) + std::floor(ahead)};
      cluster.agree_max(ask, 2);
      interrupted = ask[0] > 0;
      next_interrupt_check = static_cast<std::int64_t>(ask[1]);
    }
    const bool ending = out_of_iters || out_of_time || interrupted;
    if (checkpoints.save && (interrupted || (checkpoints.every > 0 && !ending && t > start &&
                                             t % checkpoints.every == 0))) {
      train_seconds += seconds_since(t0);
      save_state(t);  // writing it is not training time
      t0 = Clock::now();
    }
    const std::int64_t k = t + 1;
    const double alpha_k = alpha_at(k);
    step_size = iag ? alpha_k / M : alpha_k;
    const double tau = lasg ? history.lasg_threshold(result.xi, alpha_k, M)
                            : history.threshold(result.xi, alpha_k, M);

    // 1. Plan and compute iteration k (skipped when the run ends here).
    if (!ending) {
      planner.plan_and_compute(k, tau, cluster, selected);
    }
    train_seconds += seconds_since(t0);

    // 2. Evaluate theta^{t+1} and record row t; stop if a rule is met.
    IterationRow row;
    row.iter = t;
    row.spent = ledger.last();
    row.cumulative = ledger.total();
    if (t > 0) row.senders = fire;  // the previous exchange's
    row.wall_seconds = train_seconds;
    row.epoch = static_cast<double>(t) / static_cast<double>(per_epoch);
    const bool epoch_end = minibatches && t > 0 && t % per_epoch == 0;
    const bool needs_eval = t == 0 || (options.eval_every > 0 && t % options.eval_every == 0) ||
                            ending || epoch_end || (options.eval_every == 0 && t % per_epoch == 0);
    std::optional<StopReason> stop;
    if (needs_eval) {
      const auto e0 = Clock::now();
      const Evaluation ev = cluster.evaluate();
      row.evaluated = true;
      row.loss = ev.loss;
      row.grad_norm = ev.grad_norm;
      if (test) {
        const std::vector<T> theta = cluster.theta();
        row.test = test(std::vector<double>(theta.begin(), theta.end()));
        result.test = row.test;
      }
      eval_seconds += seconds_since(e0);
      if (options.optimum) row.objective_error = ev.loss - *options.optimum;
      if (t == 0) initial_loss = ev.loss;
      result.final_loss = ev.loss;
      result.grad_norm = ev.grad_norm;
      result.objective_error = row.objective_error;
      if (!std::isfinite(ev.loss) || !std::isfinite(ev.grad_norm)) {
        stop = StopReason::Diverged;
        result.message = "the loss became " + std::string(std::isnan(ev.loss) ? "NaN" : "infinite");
      } else if (ev.loss > kBlowUpFactor * (1.0 + std::fabs(initial_loss))) {
        stop = StopReason::Diverged;
        std::ostringstream s;
        s << "the loss blew up to " << ev.loss << " from " << initial_loss;
        result.message = s.str();
      } else if (options.target_gap > 0 && row.objective_error <= options.target_gap) {
        stop = StopReason::TargetGap;
      } else if (options.grad_tol > 0 && ev.grad_norm <= options.grad_tol) {
        stop = StopReason::GradTol;
      }
    }
    if (epoch_end) {
      EpochRow er;
      er.epoch = t / per_epoch;
      er.iteration = t;
      er.cumulative = ledger.total();
      er.spent = ledger.total();
      if (!result.epochs.empty()) er.spent -= result.epochs.back().cumulative;
      er.loss = row.loss;
      er.test = row.test;
      er.wall_seconds = train_seconds;
      result.epochs.push_back(er);
    }
    if (!stop && out_of_iters) stop = StopReason::MaxIters;
    if (!stop && out_of_time) stop = StopReason::TimeLimit;
    if (!stop && interrupted) stop = StopReason::Interrupted;
    if (observer) observer(row);
    if (stop) {
      result.stop_reason = *stop;
      result.iterations = t;
      if (*stop == StopReason::Diverged) {
        std::ostringstream s;
        s << algorithm_name(algo) << " diverged at iteration " << t << ": " << result.message
          << " (step " << step_size << "; try a smaller --alpha)";
        result.message = s.str();
      }
      break;
    }

    // 3. Exchange: trigger, upload, step, record.
    const auto x0 = Clock::now();
    const Round round = round_for(algo, k, tau, options, top_k);
    const double change2 = cluster.exchange(round, selected, step_size, fire);
    history.push(change2);
    std::uint64_t phys_up = 0, phys_down = 0;
    cluster.take_physical_bytes(phys_up, phys_down);
    ledger.record(count(selected), count(fire), round.payload_bytes(cluster.dim(), sizeof(T)),
                  phys_up, phys_down);
    train_seconds += seconds_since(x0);
    if (!std::isfinite(change2)) {
      // Caught at the next evaluation when there is one; without, say so now.
      result.stop_reason = StopReason::Diverged;
      result.iterations = t + 1;
      result.message = std::string(algorithm_name(algo)) + " diverged at iteration " +
                       std::to_string(t + 1) +
                       ": the step became non-finite (try a smaller --alpha)";
      const Evaluation ev = cluster.evaluate();
      result.final_loss = ev.loss;
      result.grad_norm = ev.grad_norm;
      if (options.optimum) result.objective_error = ev.loss - *options.optimum;
      break;
    }
  }

  result.total = ledger.total();
  result.wall_seconds = train_seconds;
  result.eval_seconds = eval_seconds;
  const std::vector<T> theta = cluster.theta();
  result.theta.assign(theta.begin(), theta.end());
  return result;
}

template RunResult train<float>(Cluster<float>&, const ProblemConstants&, const TrainOptions&,
                                const RowObserver&, const TestEvaluator&,
                                const Checkpoints<float>&);
template RunResult train<double>(Cluster<double>&, const ProblemConstants&, const TrainOptions&,
                                 const RowObserver&, const TestEvaluator&,
                                 const Checkpoints<double>&);

}  // namespace lag
