// Minibatches on the GPU (issue: the same draws on CPU and GPU; the minibatch gradient and the
// LASG rule on the device): SGD, LASG-WK and LASG-PS on the CUDA backend take the CPU backend's
// decisions and reach its iterate, for least squares and logistic regression (the batched
// fused-gradient workers) and softmax (the shared-scratch workers), with CUDA graphs on and off;
// and a batch of the whole shard reproduces the GPU's own full-batch LAG runs bit for bit.
// Skips without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "../test_helpers.hpp"
#include "../whole_shard_check.hpp"
#include "cluster/cpu_cluster.hpp"
#include "cluster/cuda_cluster.hpp"
#include "gpu_probe.hpp"
#include "lag/engine.hpp"
#include "lag/smoothness.hpp"
#include "lag/synthetic.hpp"

namespace lag {
namespace {

struct Case {
  std::string name;
  Dataset<double> data;
  ModelSpec model;
  ProblemConstants constants;
  TrainOptions options;  // the algorithm is set per run
};

ProblemConstants constants_of(const Dataset<double>& data, const ModelSpec& model) {
  const Smoothness s = smoothness_constants(data, model);
  ProblemConstants c;
  c.smoothness = s.global;
  c.worker_smoothness = s.worker;
  for (const auto& shard : data.shards) c.worker_rows.push_back(shard.rows);
  return c;
}

// Minibatches of `batch` rows, a skip limit that forces uploads, and a step `alpha_times` 1/L.
TrainOptions minibatch_options(std::size_t batch, double c, double alpha_times_inverse_l,
                               const ProblemConstants& constants) {
  TrainOptions o;
  o.max_iters = 60;
  o.batch_size = batch;
  o.xi = c;
  o.depth = 10;
  o.max_skip = 4;
  o.alpha = alpha_times_inverse_l / constants.smoothness;
  o.schedule = StepSchedule::InverseSqrtEpoch;
  o.eval_every = 5;
  o.seed = 3;
  return o;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  {
    Case k{"least squares", test::gaussian_data(3, 20, 5, false, 0.3, 43), ModelSpec{}, {}, {}};
    k.constants = constants_of(k.data, k.model);
    k.options = minibatch_options(6, 0.1, 1.0, k.constants);  // batches cross epochs' ends
    out.push_back(std::move(k));
  }
  {
    HeteroSpec spec;
    spec.workers = 4;
    spec.rows = 300;
    spec.dim = 20;
    spec.logistic = true;
    Case k{"logistic", make_hetero(spec), ModelSpec{ModelKind::Logistic, 0.01}, {}, {}};
    k.constants = constants_of(k.data, k.model);
    k.options = minibatch_options(32, 0.1, 4.0, k.constants);
    out.push_back(std::move(k));
  }
  {
    Dataset<double> data = test::gaussian_data(4, 200, 12, false, 0, 3);
    for (auto& s : data.shards)
      for (auto& y : s.y) y = std::fabs(std::floor(y)) < 3 ? std::fabs(std::floor(y)) : 2;
    Case k{"softmax", std::move(data), ModelSpec{ModelKind::Softmax, 0.01, 3, 0}, {}, {}};
    k.constants = constants_of(k.data, k.model);
    k.options = minibatch_options(25, 0.1, 4.0, k.constants);
    out.push_back(std::move(k));
  }
  return out;
}

struct Outcome {
  RunResult result;
  std::vector<Flags> uploads;
  std::vector<Traffic> ledger;
};

template <class T>
Outcome run(Cluster<T>& cluster, const Case& k, Algorithm a) {
  test::CountingCluster<T> counting(cluster);
  TrainOptions o = k.options;
  o.algorithm = a;
  Outcome r;
  r.result = train(counting, k.constants, o,
                   [&](const IterationRow& row) { r.ledger.push_back(row.spent); });
  r.uploads = counting.uploads;
  return r;
}

// The iterations in which the CPU's fp32 run decides as its fp64 run: decisions with a margin
// above fp32 rounding, which a GPU's fp64 summation order cannot flip.
std::size_t robust_iterations(const Outcome& fp64, const Outcome& fp32) {
  std::size_t i = 0;
  while (i < fp64.uploads.size() && i < fp32.uploads.size() && fp64.uploads[i] == fp32.uploads[i])
    ++i;
  return i;
}

TEST(CudaMinibatch, StochasticAlgorithmsDecideAsTheCpu) {
  LAG_REQUIRE_GPU();
  const int device = visible_cuda_devices().front();
  ThreadPool pool(2);
  for (const Case& k : cases()) {
    const Dataset<float> data32 = convert_precision<float>(k.data);
    CpuCluster<double> cpu(k.data, k.model, pool);
    CpuCluster<float> cpu32(data32, k.model, pool);
    for (Algorithm a : {Algorithm::Sgd, Algorithm::LasgWK, Algorithm::LasgPS}) {
      const Outcome x = run(cpu, k, a);
      const std::size_t robust = robust_iterations(x, run(cpu32, k, a));
      // Every case was chosen so (on the CPU) that all its decisions are robust.
      ASSERT_EQ(robust, x.uploads.size()) << k.name << " " << algorithm_name(a);
      std::size_t skips = 0;
      for (const Flags& f : x.uploads)
        for (auto s : f) skips += s == 0;
      if (a != Algorithm::Sgd) {
        EXPECT_GT(skips, 0u) << k.name << ": the rule never skipped";
      }
      for (bool graphs : {true, false}) {
        SCOPED_TRACE(k.name + " " + algorithm_name(a) + (graphs ? " graphs on" : " graphs off"));
        CudaCluster<double> gpu(k.data, k.model, device, graphs);
        const Outcome y = run(gpu, k, a);
        ASSERT_EQ(x.uploads.size(), y.uploads.size());
        for (std::size_t i = 0; i < x.uploads.size(); ++i)
          EXPECT_EQ(x.uploads[i], y.uploads[i]) << "iteration " << i + 1;
        ASSERT_EQ(x.ledger.size(), y.ledger.size());
        for (std::size_t t = 0; t < x.ledger.size(); ++t) {
          EXPECT_EQ(x.ledger[t].uploads, y.ledger[t].uploads) << "row " << t;
          EXPECT_EQ(x.ledger[t].computes, y.ledger[t].computes) << "row " << t;
          EXPECT_EQ(x.ledger[t].bytes_up, y.ledger[t].bytes_up) << "row " << t;
          EXPECT_EQ(x.ledger[t].control_bytes, y.ledger[t].control_bytes) << "row " << t;
        }
        ASSERT_EQ(x.result.epochs.size(), y.result.epochs.size());
        for (std::size_t e = 0; e < x.result.epochs.size(); ++e) {
          EXPECT_EQ(x.result.epochs[e].spent.uploads, y.result.epochs[e].spent.uploads);
          EXPECT_NEAR(x.result.epochs[e].loss, y.result.epochs[e].loss,
                      1e-9 * std::max(1.0, std::fabs(x.result.epochs[e].loss)))
              << "epoch " << e + 1;
        }
        EXPECT_LE(test::relative_distance(y.result.theta, x.result.theta), 1e-9);
        // The evaluation's loss is the whole shards' (computed apart from the minibatches').
        EXPECT_NEAR(y.result.final_loss, x.result.final_loss,
                    1e-9 * std::max(1.0, std::fabs(x.result.final_loss)));
      }
    }
  }
}

// As on the CPU (tests/whole_shard_check.hpp), though the full-batch runs take the batched
// launches and the graphs and the minibatch runs take neither.
TEST(CudaMinibatch, TheWholeShardAsTheBatchIsTheFullBatchLagRunBitForBit) {
  LAG_REQUIRE_GPU();
  const int device = visible_cuda_devices().front();
  const Case k = std::move(cases().front());
  test::expect_whole_shard_batch_is_full_batch_lag(k.constants, 20, [&] {
    return std::make_unique<CudaCluster<double>>(k.data, k.model, device);
  });
}

// One cluster serves every algorithm of a command (`--algo sgd,lag-wk`): a full-batch run after
// a minibatch run is the run on a fresh cluster, its losses included (a scaled minibatch gradient
// leaves ||theta||^2 in a worker's loss record, which the batched full-batch launches never
// write), for the batched logistic workers with graphs on and off.
TEST(CudaMinibatch, AFullBatchRunAfterAMinibatchRunIsTheFreshRun) {
  LAG_REQUIRE_GPU();
  const int device = visible_cuda_devices().front();
  const Case k = std::move(cases()[1]);  // logistic, lambda > 0
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "graphs on" : "graphs off");
    TrainOptions full;
    full.algorithm = Algorithm::LagWK;
    full.max_iters = 30;
    CudaCluster<double> reused(k.data, k.model, device, graphs),
        fresh(k.data, k.model, device, graphs);
    const Outcome before = run(reused, k, Algorithm::Sgd);
    ASSERT_FALSE(before.uploads.empty());
    std::vector<double> a, b;
    const RunResult x =
        train(reused, k.constants, full, [&](const IterationRow& row) { a.push_back(row.loss); });
    const RunResult y =
        train(fresh, k.constants, full, [&](const IterationRow& row) { b.push_back(row.loss); });
    EXPECT_EQ(a, b);
    EXPECT_EQ(x.final_loss, y.final_loss);
    EXPECT_EQ(x.theta, y.theta);
  }
}

}  // namespace
}  // namespace lag
