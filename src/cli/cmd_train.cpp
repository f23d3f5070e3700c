// lag train: run one or more algorithms on the same data and account for every byte.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include "checkpoint/checkpoint_store.hpp"
#include "checkpoint/run_state_codec.hpp"
#include "cli/backend.hpp"
#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "cli/data_options.hpp"
#include "cli/interrupt.hpp"
#include "cli/progress.hpp"
#include "cli/spmd.hpp"
#include "cli/train_checkpoint.hpp"
#include "cli/train_outputs.hpp"
#include "cluster/cpu_cluster.hpp"
#include "common/test_signal.hpp"
#include "compress/quantizer.hpp"
#include "lag/build_info.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/optimum.hpp"
#include "lag/smoothness.hpp"
#include "lag/thread_pool.hpp"
#include "model/curvature.hpp"
#include "model/test_evaluator.hpp"

namespace lag::cli {

namespace {

// The main job (see apply_main_job_defaults): full-batch iterations when --algo is named, and
// the minibatch job's settings.
constexpr std::int64_t kMainJobIterations = 1000;
constexpr std::size_t kMainJobBatch = 128;
constexpr double kMainJobAlpha = 2e-6;
constexpr double kMainJobLasgC = 0.3;
constexpr std::int64_t kMainJobEpochs = 100;
// 60000 rows over 10 workers in minibatches of 128: ceil(60000 / 1280).
constexpr std::int64_t kMainJobIterationsPerEpoch = 47;

struct TrainArgs {
  DataOptions data;
  std::string algos = "gd,lag-wk,lag-ps";
  std::string precision = "fp64";
  double alpha = 0;
  int depth = 10;
  double xi = std::numeric_limits<double>::quiet_NaN();
  std::int64_t max_iters = 10000;
  double target_gap = 0;
  std::string optimum;  // "", "auto" or a number
  double grad_tol = 0;
  double time_limit = 0;
  std::int64_t eval_every = -1;  // -1: 1, and at each epoch's end for minibatch runs
  int threads = 0;
  std::string out = "lag-out";
  bool quiet = false;
  std::int64_t checkpoint_every = 0;
  std::string checkpoint_dir;  // empty: OUT/checkpoint
  int bits = 4;
  std::int64_t max_skip = 100;
  std::string topk;  // "", a count, or a fraction of the parameters
  double zeta = 1.0;
  std::size_t batch_size = 0;
  std::string lr_schedule = "constant";
};

class TrainCommand final : public Command {
 public:
  explicit TrainCommand(CLI::App& app) {
    CLI::App* c = app.add_subcommand(
        "train",
        "Train a model over M workers with GD, LAG-WK, LAG-PS, Cyc-IAG, Num-IAG, LAQ, EF21, "
        "CLAG, SGD, LASG-WK and/or LASG-PS, and report the uploads and bytes each spent against "
        "plain gradient descent.");
    app_ = c;
    c->add_option("--config", config_,
                  "TOML file of options: keys are the long option names (e.g. algo = "
                  "\"gd,lag-wk\", data = [\"a.svm\", \"b.svm\"], max-iters = 500); options given "
                  "on the command line override it");
    add_data_options(*c, a_.data);
    c->add_option("--algo", a_.algos,
                  "Comma list of algorithms: gd, lag-wk (worker-side trigger), lag-ps "
                  "(server-side trigger), cyc-iag, num-iag, laq (lazy quantized uploads), ef21 "
                  "(Top-k compressed uploads with error feedback), clag (EF21, lazily), and on "
                  "minibatches (--batch-size): sgd, lasg-wk (worker-side stochastic trigger), "
                  "lasg-ps (server-side)")
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--batch-size", a_.batch_size,
                  "sgd, lasg-wk, lasg-ps: rows of each worker's minibatch, drawn from a seeded "
                  "shuffle of its shard every epoch (0: the whole shard). The other algorithms "
                  "of the command run full-batch")
        ->check(non_negative_number())
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--lr-schedule", a_.lr_schedule,
                  "Step size over the run: constant, or inv-sqrt (alpha / sqrt(1 + epoch); a "
                  "full-batch iteration is an epoch)")
        ->check(CLI::IsMember({"constant", "inv-sqrt"}))
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--bits", a_.bits, "laq: bits per coordinate of a quantized upload (1 to 16)")
        ->check(CLI::Range(kMinQuantizerBits, kMaxQuantizerBits))
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--max-skip", a_.max_skip,
                  "laq, lasg-wk, lasg-ps: a worker that skipped this many rounds in a row uploads "
                  "(0: never forced)")
        ->check(non_negative_number())
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--topk", a_.topk,
                  "ef21, clag: coordinates per upload, a count (e.g. 5) or a fraction of the "
                  "parameters (e.g. 0.05) (default: a tenth of them)")
        ->group("Algorithm");
    c->add_option("--zeta", a_.zeta,
                  "clag: a worker uploads when its gradient moved from the server's copy by "
                  "more than zeta times its own change since the previous round")
        ->check(non_negative_number())
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--precision", a_.precision, "Arithmetic of the workers and server: fp64 or fp32")
        ->check(CLI::IsMember({"fp64", "fp32"}))
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--alpha", a_.alpha, "Step size (default 1/L; Cyc-/Num-IAG use alpha/M)")
        ->check(positive_number())
        ->group("Algorithm");
    c->add_option("--depth,-D", a_.depth, "D: number of past steps in the trigger threshold")
        ->check(positive_number())
        ->capture_default_str()
        ->group("Algorithm");
    c->add_option("--xi", a_.xi,
                  "xi: trigger constant (default 1 for lag-wk, 10 for lag-ps, as in the paper, 0.8 "
                  "for laq); for lasg-wk and lasg-ps their c (default 0.1), without LAG's 1/D")
        ->check(non_negative_number())
        ->group("Algorithm");
    c->add_option("--max-iters", a_.max_iters, "Stop after this many iterations")
        ->check(non_negative_number())
        ->capture_default_str()
        ->group("Stopping");
    c->add_option("--target-gap", a_.target_gap,
                  "Stop once the objective error L(theta) - L* is at most this (needs --optimum, "
                  "which then defaults to auto)")
        ->check(non_negative_number())
        ->group("Stopping");
    c->add_option("--optimum", a_.optimum,
                  "L*: a number, or auto (least squares: the normal equations solved exactly; "
                  "logistic: Newton's method), for the objective error")
        ->group("Stopping");
    c->add_option("--grad-tol", a_.grad_tol, "Stop once ||grad L(theta)|| is at most this")
        ->check(non_negative_number())
        ->group("Stopping");
    c->add_option("--time-limit", a_.time_limit, "Stop a run after this many seconds of training")
        ->check(non_negative_number())
        ->group("Stopping");
    c->add_option("--eval-every", a_.eval_every,
                  "Evaluate loss and gradient norm every this many iterations (stopping rules "
                  "on them are checked then); 0: at the end of each epoch only (default: 1, and "
                  "for minibatch runs 0; minibatch runs always evaluate at epoch ends)")
        ->check(non_negative_number())
        ->group("Output");
    c->add_option("--threads", a_.threads, "CPU threads (default: all cores)")
        ->check(non_negative_number())
        ->group("Algorithm");
    c->add_option("--out", a_.out, "Output folder: metrics.csv, summary.json, weights-ALGO.txt")
        ->capture_default_str()
        ->group("Output");
    c->add_flag("--quiet,-q", a_.quiet, "No progress line and no table")->group("Output");
    c->add_option("--checkpoint-every", a_.checkpoint_every,
                  "Write a checkpoint every this many iterations, and after each finished run "
                  "(0: only when SIGINT or SIGTERM stops the run)")
        ->check(non_negative_number())
        ->capture_default_str()
        ->group("Checkpoints");
    c->add_option("--checkpoint-dir", a_.checkpoint_dir,
                  "Folder of the checkpoints (default: OUT/checkpoint); a run that does not "
                  "resume removes the checkpoints an earlier run left there")
        ->group("Checkpoints");
    c->add_option("--resume", resume_,
                  "Continue the run whose checkpoints are in this folder, from the latest: the "
                  "results are those the run would have had without the stop, bit for bit. Its "
                  "options are used, except those given again; an option that would change the "
                  "results (precision, algorithms, data, ...) must not differ")
        ->group("Checkpoints");
    c->add_option("--backend", backend_name_,
                  "Where workers run: cpu (thread pool), cuda (GPUs, NCCL), or auto (cuda when "
                  "built with it and a device is present)")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
        ->capture_default_str()
        ->group("Backend");
    c->add_option("--devices", devices_,
                  "cuda: device indices, e.g. 0,1. One process trains on one GPU (default: "
                  "device 0); for several, start one rank per GPU: mpirun -np 2 lag train ... "
                  "--devices 0,1. Under mpirun every rank takes one of them: entry (local rank "
                  "mod count), its workers on that GPU (default: all visible)")
        ->group("Backend");
    c->add_option("--cuda-graphs", graphs_,
                  "cuda: replay the workers' rounds from CUDA graphs, and with one rank the "
                  "whole exchange (trigger, aggregation, step) too (on, off)")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str()
        ->group("Backend");
  }

  int run() override;

 private:
  // Where a run's checkpoints go and what every one of them repeats.
  struct Checkpointing {
    CheckpointStore* store = nullptr;
    const TrainCheckpoint* resume = nullptr;  // the checkpoint this run continues, if any
    Fingerprint fingerprint;
    GivenOptions options;
  };
  template <class T>
  std::vector<RunResult> train_all(Spmd& spmd, const TrainingData& data,
                                   const std::vector<Algorithm>& algos,
                                   const ProblemConstants& constants, TrainOptions base,
                                   MetricsWriter* metrics, ThreadPool& pool,
                                   const Checkpointing& checkpoints);
  bool apply_main_job_defaults();
  Fingerprint fingerprint(Spmd& spmd, const TrainingData& data, const Smoothness& smooth,
                          const std::optional<double>& optimum) const;
  TrainArgs a_;
  std::string config_, resume_;
  // This process's checkpoints, for the closing line.
  struct {
    int written = 0;
    double seconds = 0;
    std::size_t bytes = 0;  // of the largest
  } checkpoint_stats_;
  std::string backend_name_ = "auto", devices_, graphs_ = "on";
  BackendChoice backend_;
  CLI::App* app_ = nullptr;
};

// The whole of `s` as a finite number, or nothing.
std::optional<double> finite_number(const std::string& s) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// --topk: empty (the engine's default), a count, or a fraction of the d parameters (rounded up).
std::size_t parse_top_k(const std::string& s, std::size_t d) {
  if (s.empty()) return 0;
  const std::optional<double> number = finite_number(s);
  const double v = number.value_or(0.0);
  const bool fraction = s.find_first_of(".eE") != std::string::npos;
  if (!number || !(v > 0) || (fraction && v > 1) || (!fraction && v != std::floor(v)))
    throw Error(
        "--topk must be a count of coordinates (e.g. 5) or a fraction of the parameters "
        "in (0, 1] (e.g. 0.05), got '" +
        s + "'");
  if (!fraction && v > static_cast<double>(d))  // before the conversion, which v might not fit
    throw Error("--topk " + s + " is more than the model's " + std::to_string(d) + " parameters");
  const auto k = fraction ? static_cast<std::size_t>(std::ceil(v * static_cast<double>(d)))
                          : static_cast<std::size_t>(v);
  return std::max<std::size_t>(k, 1);
}

std::optional<double> parse_optimum(const std::string& s) {
  if (s.empty() || s == "auto") return std::nullopt;
  const std::optional<double> v = finite_number(s);
  if (!v) throw Error("--optimum must be a number or 'auto', got '" + s + "'");
  return v;
}

template <class T>
std::vector<RunResult> TrainCommand::train_all(Spmd& spmd, const TrainingData& data,
                                               const std::vector<Algorithm>& algos,
                                               const ProblemConstants& constants, TrainOptions base,
                                               MetricsWriter* metrics, ThreadPool& pool,
                                               const Checkpointing& checkpoints) {
  Dataset<T> converted;
  const Dataset<T>* view;
  if constexpr (std::is_same_v<T, double>) {
    view = &data.train;
  } else {
    converted = convert_precision<T>(data.train);
    view = &converted;
  }
  const std::unique_ptr<Cluster<T>> cluster =
      spmd.mpi() ? spmd.make_cluster<T>(backend_, *view, data.model, pool)
                 : make_cluster<T>(backend_, *view, data.model, pool);
  std::optional<CpuTestEvaluator> test;
  TestEvaluator test_hook;
  if (data.test && spmd.root()) {  // monitoring, reported by rank 0 only
    test.emplace(*data.test, data.model, pool);
    test_hook = [&](const std::vector<double>& theta) { return (*test)(theta); };
  }
  Progress progress(!a_.quiet && spmd.root());
  // A resumed command skips the runs that had finished and continues the one under way.
  std::vector<RunResult> results;
  std::optional<RunState<T>> resume_state;
  if (const TrainCheckpoint* saved = checkpoints.resume) {
    results = saved->finished;
    if (saved->in_run) {
      MessageReader in(saved->run_state, "the checkpoint in " + resume_);
      resume_state = get_run_state<T>(in);
    }
  }
  // Every checkpoint: the fingerprint, the options, the finished runs and, during a run, its
  // state; rank 0's says how far metrics.csv had got.
  const auto save = [&](bool in_run, const std::function<std::string()>& run_state) {
    const auto t0 = std::chrono::steady_clock::now();
    checkpoints.store->save([&] {
      TrainCheckpoint c;
      c.fingerprint = checkpoints.fingerprint;
      c.options = checkpoints.options;
      c.finished = results;
      if (metrics) c.metrics = metrics->mark();
      c.in_run = in_run;
      if (in_run) c.run_state = run_state();
      std::string contents = encode(c);
      checkpoint_stats_.bytes = std::max(checkpoint_stats_.bytes, contents.size());
      return contents;
    });
    ++checkpoint_stats_.written;
    checkpoint_stats_.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (std::size_t i = results.size(); i < algos.size(); ++i) {
    TrainOptions o = base;
    o.algorithm = algos[i];
    if (a_.eval_every < 0) o.eval_every = stochastic(algos[i]) && o.batch_size > 0 ? 0 : 1;
    const char* name = algorithm_name(algos[i]);
    Checkpoints<T> ck;
    ck.every = a_.checkpoint_every;
    ck.save = [&](const RunState<T>& state) {
      save(true, [&] {
        MessageWriter out;
        put_run_state(out, state);
        return out.bytes();
      });
    };
    if (resume_state) ck.resume = &*resume_state;
    results.push_back(train(
        *cluster, constants, o,
        [&](const IterationRow& row) {
          if (metrics) metrics->write(name, row);
          test_signal_point("LAG_TEST_KILL_AT_ROW", SIGKILL);
          test_signal_point("LAG_TEST_TERM_AT_ROW", SIGTERM);
          progress.update(name, row);
        },
        test_hook, ck));
    resume_state.reset();
    progress.finish();
    if (results.back().stop_reason == StopReason::Diverged && spmd.root())
      std::fprintf(stderr, "lag: error: %s\n", results.back().message.c_str());
    if (results.back().stop_reason == StopReason::Interrupted) break;  // the rest are not started
    if (a_.checkpoint_every > 0) save(false, {});  // a stop now resumes at the next run
  }
  return results;
}

// What a resumed run must share with the run it continues for the results to be the same bits:
// everything that enters the arithmetic or decides which rows are written.
Fingerprint TrainCommand::fingerprint(Spmd& spmd, const TrainingData& data,
                                      const Smoothness& smooth,
                                      const std::optional<double>& optimum) const {
  const auto number = [](double v) {
    char s[40];
    std::snprintf(s, sizeof s, "%.17g", v);
    return std::string(s);
  };
  std::string algos;
  for (Algorithm a : parse_algorithm_list(a_.algos))
    algos += (algos.empty() ? "" : ",") + std::string(algorithm_name(a));
  const ModelSpec& model = data.model;
  const WorkerRange own = own_workers(spmd.group(), data.train.workers());
  return {
      {"--precision", a_.precision},
      {"--algo", algos},
      {"--model", model_name(model.kind)},
      {"classes", std::to_string(model.classes)},
      {"--hidden", std::to_string(model.hidden)},
      {"--lambda", number(model.lambda)},
      {"--workers", std::to_string(data.train.workers())},
      {"the number of processes (mpirun -np)", std::to_string(spmd.size())},
      {"the number of features", std::to_string(data.train.dim)},
      {"the number of training rows", std::to_string(data.rows)},
      {"the checksum of this process's data",
       data_checksum(data.train, data.test ? &*data.test : nullptr, own.first, own.end)},
      {"the step size (--alpha, default 1/L)", number(alpha_or_default(a_.alpha, smooth.global))},
      {"--depth", std::to_string(a_.depth)},
      {"--xi", std::isnan(a_.xi) ? "default" : number(a_.xi)},
      {"--max-iters", std::to_string(a_.max_iters)},
      {"--eval-every", std::to_string(a_.eval_every)},
      {"--target-gap", number(a_.target_gap)},
      {"--optimum", optimum ? number(*optimum) : "none"},
      {"--grad-tol", number(a_.grad_tol)},
      {"--seed", std::to_string(a_.data.seed)},
      {"--standardize", a_.data.standardize ? "on" : "off"},
      {"--bits", std::to_string(a_.bits)},
      {"--max-skip", std::to_string(a_.max_skip)},
      {"--topk", a_.topk.empty() ? "default" : a_.topk},
      {"--zeta", number(a_.zeta)},
      {"--batch-size", std::to_string(a_.batch_size)},
      {"--lr-schedule", a_.lr_schedule},
      {"--backend", backend_.cuda ? "cuda" : "cpu"},
  };
}

// With no data named, the main job: softmax regression on standardised Fashion-MNIST over 10
// workers split by label, trained with LASG-WK on minibatches beside its every-worker baseline,
// SGD. Options the user gave (on the command line or in --config) still win; naming --algo
// (e.g. --algo lag-wk, the paper's full-batch job) keeps the full-batch defaults.
bool TrainCommand::apply_main_job_defaults() {
  auto given = [&](const char* name) { return app_->get_option(name)->count() > 0; };
  if (given("--data") || given("--dataset")) return false;
  a_.data.dataset = "fashion-mnist";
  if (!given("--model")) a_.data.model = "softmax";
  if (!given("--workers")) a_.data.workers = 10;
  if (!given("--partition")) a_.data.partition = "label";
  if (!given("--bias")) a_.data.bias = true;
  // 1/L on raw pixels is a small step; standardised, the same 1000 full-batch iterations reach
  // 83% instead of 79% test accuracy.
  if (!given("--standardize")) a_.data.standardize = true;
  if (given("--algo")) {
    if (!given("--max-iters")) a_.max_iters = kMainJobIterations;
    if (!given("--eval-every")) a_.eval_every = 50;
    return true;
  }
  // Chosen by a sweep (docs/benchmarks.md §7): 100 epochs of minibatches of 128 rows per
  // worker, alpha = 2e-6 (about 10/L) decaying as 1/sqrt(1 + epoch), and c = 0.3.
  a_.algos = "lasg-wk,sgd";
  if (!given("--batch-size")) a_.batch_size = kMainJobBatch;
  if (!given("--alpha")) a_.alpha = kMainJobAlpha;
  if (!given("--lr-schedule")) a_.lr_schedule = "inv-sqrt";
  if (!given("--xi")) a_.xi = kMainJobLasgC;
  if (!given("--max-iters")) a_.max_iters = kMainJobEpochs * kMainJobIterationsPerEpoch;
  return true;
}

int TrainCommand::run() {
  // Under mpirun every rank runs this same command (one engine per rank, rank 0 the server);
  // alone, `spmd` changes nothing. Only rank 0 prints and writes outputs.
  Spmd spmd;
  const bool speak = spmd.root();
  bool main_job = false, want_auto_optimum = false;
  std::vector<Algorithm> algos;
  std::optional<double> optimum;
  std::optional<CheckpointStore> store;
  std::optional<TrainCheckpoint> saved;
  Checkpointing checkpointing;
  // Everything that can fail on the user's input fails here, before the output folder exists.
  // In an MPI job a failure on any rank stops every rank, with that rank's message. (Steps that
  // are collective get blocks of their own: a rank must not skip one that the others enter.)
  if (!spmd.all_succeed([&] {
        if (!config_.empty()) apply_config_file(*app_, config_);
      }))
    return kExitError;
  if (!resume_.empty() && !spmd.all_succeed([&] {
        store.emplace(resume_, spmd.group());
        saved = decode(store->load(), "the checkpoint in " + resume_);
        apply_given_options(*app_, saved->options, resume_);
      }))
    return kExitError;
  if (!spmd.all_succeed([&] {
        checkpointing.options = given_options(*app_, {"resume", "config"});
        main_job = apply_main_job_defaults();
        algos = parse_algorithm_list(a_.algos);
        optimum = parse_optimum(a_.optimum);
        want_auto_optimum = a_.optimum == "auto" || (a_.optimum.empty() && a_.target_gap > 0);
        if (main_job && !a_.quiet && speak)
          std::printf(
              "no --data given: the main job, %s on %sFashion-MNIST, %d workers split by %s, "
              "%s%s\n",
              a_.data.model.c_str(), a_.data.standardize ? "standardised " : "", a_.data.workers,
              a_.data.partition.c_str(), a_.algos.c_str(),
              a_.batch_size > 0
                  ? (" on minibatches of " + std::to_string(a_.batch_size) + " rows").c_str()
                  : "");
        // Under mpirun each rank takes one GPU (cuda) or its share of the cores (cpu).
        backend_ = spmd.mpi() ? spmd.choose_backend(backend_name_, devices_)
                              : choose_backend(backend_name_, devices_);
        backend_.graphs = graphs_ == "on";
        // The GPU paths of minibatches (SGD, LASG) and of LAQ, EF21 and CLAG have not run on a
        // device yet: auto keeps those algorithms on the CPU until they have; --backend cuda
        // runs them there.
        if (backend_.cuda && backend_name_ == "auto" &&
            std::any_of(algos.begin(), algos.end(),
                        [](Algorithm a) { return stochastic(a) || compresses(a); })) {
          backend_ =
              spmd.mpi() ? spmd.choose_backend("cpu", devices_) : choose_backend("cpu", devices_);
          backend_.description +=
              " (auto: sgd, lasg-wk, lasg-ps, laq, ef21 and clag stay on the CPU until their GPU "
              "path is verified; --backend cuda runs it)";
        }
      }))
    return kExitError;
  spmd.agree_backend(backend_);

  // Each rank loads only its own workers' rows (load_training_data); the smoothness constants
  // and L* are then computed by all ranks together, each on its own workers, with the same bits
  // as one process, and rank 0's are handed to the others (share_constants).
  ThreadPool pool(a_.threads > 0 ? a_.threads : spmd.default_threads());
  TrainingData data;
  ProblemConstants constants;
  Smoothness smooth;
  std::string optimum_method = optimum ? "given" : "";
  std::unique_ptr<MetricsWriter> metrics;
  if (!spmd.all_succeed([&] {
        data = load_training_data(a_.data, spmd.group());
        if (speak)
          for (const auto& n : data.notices) std::fprintf(stderr, "lag: %s\n", n.c_str());
        const ModelSpec& model = data.model;
        if (want_auto_optimum && is_multiclass(model.kind))
          throw Error(
              "--optimum auto is available for linear and logistic models; give --optimum "
              "VALUE (e.g. from a long GD run) for " +
              std::string(model_name(model.kind)));
        constants.initial_theta = initial_parameters(model, data.train.dim, a_.data.seed);
      }))
    return kExitError;
  if (!spmd.all_succeed([&] {
        const ModelSpec& model = data.model;
        spmd.with_plain_run_blas([&] {
          smooth = model_smoothness(data.train, model, constants.initial_theta, pool, spmd.group());
          if (want_auto_optimum) {
            const Optimum opt = solve_optimum(data.train, model, spmd.group());
            optimum = opt.value;
            optimum_method = opt.method;
          }
        });
        if (!speak || a_.quiet) return;
        const Dataset<double>& train_set = data.train;
        {
          std::printf("data: %d workers, %zu rows, %zu features; model %s", train_set.workers(),
                      data.rows, train_set.dim, model_name(model.kind));
          if (is_multiclass(model.kind)) std::printf(", %d classes", model.classes);
          if (model.kind == ModelKind::Mlp) std::printf(", %d hidden", model.hidden);
          std::printf(", %zu parameters", parameter_count(model, train_set.dim));
          if (model.kind != ModelKind::LeastSquares) std::printf(" (lambda %g)", model.lambda);
          if (data.test) std::printf("; %zu test rows", data.test->rows);
          std::printf("; backend %s", backend_.description.c_str());
          std::printf("\nsmoothness L = %.6g%s, alpha = %.6g%s\n", smooth.global,
                      model.kind == ModelKind::Mlp ? " (estimated at the start)" : "",
                      alpha_or_default(a_.alpha, smooth.global), a_.alpha > 0 ? "" : " (1/L)");
          if (optimum) std::printf("optimum L* = %.17g (%s)\n", *optimum, optimum_method.c_str());
          std::fflush(stdout);
        }
      }))
    return kExitError;
  spmd.share_constants(data.train.workers(), smooth, optimum);
  // A resumed run must be the run it continues; only then is anything in the output folder
  // touched.
  std::size_t top_k = 0;
  if (!spmd.all_succeed([&] {
        top_k = parse_top_k(a_.topk, parameter_count(data.model, data.train.dim));
        checkpointing.fingerprint = fingerprint(spmd, data, smooth, optimum);
        if (saved) require_same(saved->fingerprint, checkpointing.fingerprint, resume_);
        if (!speak) return;
        std::error_code ec;
        std::filesystem::create_directories(a_.out, ec);
        if (ec) throw Error("cannot create output folder " + a_.out + ": " + ec.message());
        // summary.json says a run finished: an earlier run's must not outlive this one's start.
        std::filesystem::remove(std::filesystem::path(a_.out) / "summary.json", ec);
        if (ec)
          throw Error("cannot remove the earlier " + a_.out + "/summary.json: " + ec.message());
        metrics = std::make_unique<MetricsWriter>(
            (std::filesystem::path(a_.out) / "metrics.csv").string(),
            saved ? &saved->metrics : nullptr);
      }))
    return kExitError;
  if (!store && !spmd.all_succeed([&] {
        const std::string folder = !a_.checkpoint_dir.empty()
                                       ? a_.checkpoint_dir
                                       : (std::filesystem::path(a_.out) / "checkpoint").string();
        store.emplace(folder, spmd.group());
        store->start_fresh();
      }))
    return kExitError;
  checkpointing.store = &*store;
  if (saved) checkpointing.resume = &*saved;
  constants.smoothness = smooth.global;
  constants.worker_smoothness = smooth.worker;
  constants.worker_rows = data.worker_rows;
  const ModelSpec& model = data.model;
  TrainOptions base;
  base.alpha = a_.alpha;
  base.depth = a_.depth;
  base.xi = a_.xi;
  base.max_iters = a_.max_iters;
  base.target_gap = a_.target_gap;
  base.optimum = optimum;
  base.grad_tol = a_.grad_tol;
  base.time_limit = a_.time_limit;
  base.eval_every = a_.eval_every;
  base.batch_size = a_.batch_size;
  base.schedule = parse_step_schedule(a_.lr_schedule);
  base.seed = a_.data.seed;
  base.bits = a_.bits;
  base.max_skip = a_.max_skip;
  base.zeta = a_.zeta;
  base.top_k = top_k;
  const InterruptGuard interrupt;
  base.interrupted = [] { return InterruptGuard::signal() != 0; };

  std::vector<RunResult> results;
  spmd.or_abort([&] {
    results = a_.precision == "fp32" ? train_all<float>(spmd, data, algos, constants, base,
                                                        metrics.get(), pool, checkpointing)
                                     : train_all<double>(spmd, data, algos, constants, base,
                                                         metrics.get(), pool, checkpointing);
  });
  bool diverged = false, interrupted = false;
  for (const auto& r : results) {
    diverged = diverged || r.stop_reason == StopReason::Diverged;
    interrupted = interrupted || r.stop_reason == StopReason::Interrupted;
  }
  const int status = interrupted ? InterruptGuard::exit_status()
                     : diverged  ? kExitDiverged
                                 : kExitOk;
  if (!speak) return status;
  metrics->close();

  const Dataset<double>& train_set = data.train;
  const std::filesystem::path out(a_.out);
  RunContext ctx{model_name(model.kind),
                 train_set.workers(),
                 train_set.dim,
                 a_.precision,
                 model.lambda,
                 a_.depth,
                 pool.size()};
  nlohmann::json summary;
  summary["version"] = build_info().version;
  summary["backend"] = backend_.description;
  summary["ranks"] = spmd.size();
  summary["smoothness"] = smooth.global;
  summary["worker_smoothness"] = smooth.worker;
  summary["optimum"] = optimum ? nlohmann::json(*optimum) : nlohmann::json(nullptr);
  summary["optimum_method"] = optimum_method;
  summary["rows"] = data.rows;
  summary["parameters"] = parameter_count(model, train_set.dim);
  if (is_multiclass(model.kind)) summary["classes"] = model.classes;
  if (model.kind == ModelKind::Mlp) summary["hidden"] = model.hidden;
  if (data.test) summary["test_rows"] = data.test->rows;
  std::vector<std::string> sources;
  for (const auto& s : train_set.shards) sources.push_back(s.source);
  summary["shards"] = sources;
  summary["standardized"] = data.standardization.has_value();
  summary["runs"] = nlohmann::json::array();
  for (const auto& r : results) {
    summary["runs"].push_back(run_json(r, ctx));
    write_weights((out / (std::string("weights-") + algorithm_name(r.algorithm) + ".txt")).string(),
                  r.theta);
  }
  if (data.standardization) {
    // A prediction maps a row's features with these before applying the weights.
    nlohmann::json st;
    st["features"] = data.standardization->mean.size();
    st["mean"] = data.standardization->mean;
    st["scale"] = data.standardization->scale;
    st["rule"] = "x_j <- (x_j - mean_j) / scale_j for the first `features` columns";
    write_json((out / "standardization.json").string(), st);
  }
  write_json((out / "summary.json").string(), summary);
  if (!a_.quiet) {
    std::cout << "\n";
    print_comparison(std::cout, results);
    print_epochs(std::cout, results);
    std::cout << "outputs: " << (out / "summary.json").string() << ", "
              << (out / "metrics.csv").string() << ", weights-*.txt\n";
    if (checkpoint_stats_.written > 0)
      std::printf("checkpoints: %d written to %s, up to %.2f MB each (rank 0), %.1f ms each\n",
                  checkpoint_stats_.written, store->folder().c_str(),
                  static_cast<double>(checkpoint_stats_.bytes) / 1e6,
                  1e3 * checkpoint_stats_.seconds / checkpoint_stats_.written);
  }
  if (interrupted)
    std::fprintf(stderr,
                 "lag: interrupted by %s: the outputs hold the runs so far; continue with: lag "
                 "train --resume %s\n",
                 InterruptGuard::signal() == SIGINT ? "SIGINT" : "SIGTERM",
                 store->folder().c_str());
  return status;
}

}  // namespace

std::unique_ptr<Command> add_train_command(CLI::App& app) {
  return std::make_unique<TrainCommand>(app);
}

}  // namespace lag::cli
