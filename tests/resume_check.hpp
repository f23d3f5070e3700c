// The check that a run continued from a saved state is the run that never stopped, bit for bit
// (rows, result, theta), for any kind of cluster: tests/engine/test_resume.cpp (CPU) and
// tests/gpu/test_cuda_resume.cpp (GPU). The state goes through its bytes (run_state_codec).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/run_state_codec.hpp"
#include "lag/engine.hpp"
#include "lag/model.hpp"
#include "lag/smoothness.hpp"
#include "test_helpers.hpp"

namespace lag::test {

// The paper's five (the GPU runs these), and with the compressed three, all.
constexpr Algorithm kLagAlgorithms[] = {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS,
                                        Algorithm::CycIAG, Algorithm::NumIAG};
constexpr Algorithm kAllAlgorithms[] = {Algorithm::GD,     Algorithm::LagWK,  Algorithm::LagPS,
                                        Algorithm::CycIAG, Algorithm::NumIAG, Algorithm::Laq,
                                        Algorithm::Ef21,   Algorithm::Clag};

// On minibatches.
constexpr Algorithm kStochasticAlgorithms[] = {Algorithm::Sgd, Algorithm::LasgWK,
                                               Algorithm::LasgPS};

template <class V>
inline bool same_bits(const V& a, const V& b) {
  return std::memcmp(&a, &b, sizeof(V)) == 0;
}

// Everything of a row but the wall-clock time.
inline void expect_same_row(const IterationRow& a, const IterationRow& b) {
  SCOPED_TRACE("row " + std::to_string(a.iter));
  EXPECT_EQ(a.iter, b.iter);
  EXPECT_EQ(a.evaluated, b.evaluated);
  for (auto [x, y] : {std::pair{a.loss, b.loss},
                      {a.objective_error, b.objective_error},
                      {a.grad_norm, b.grad_norm},
                      {a.test.loss, b.test.loss},
                      {a.test.accuracy, b.test.accuracy}})
    EXPECT_TRUE(same_bits(x, y)) << x << " vs " << y;
  EXPECT_TRUE(same_bits(a.spent, b.spent));
  EXPECT_TRUE(same_bits(a.cumulative, b.cumulative));
  EXPECT_EQ(a.senders, b.senders);
}

struct Problem {
  Dataset<double> data;
  ModelSpec model;
  ProblemConstants constants;
};

// Labels 0..2: the largest of a row's first three features.
inline Dataset<double> three_classes(Dataset<double> d) {
  for (auto& s : d.shards)
    for (std::size_t i = 0; i < s.rows; ++i) {
      const double* x = s.row(i);
      s.y[i] = x[0] >= x[1] && x[0] >= x[2] ? 0.0 : (x[1] >= x[2] ? 1.0 : 2.0);
    }
  return d;
}

inline Problem problem(ModelKind kind) {
  Problem p;
  const bool logistic = kind == ModelKind::Logistic;
  p.data = gaussian_data(4, 37, 6, logistic, 0.1, 77);
  p.model.kind = kind;
  if (kind != ModelKind::LeastSquares) p.model.lambda = 0.01;
  if (is_multiclass(kind)) {
    p.data = three_classes(std::move(p.data));
    p.model.classes = 3;
  }
  for (const auto& shard : p.data.shards) p.constants.worker_rows.push_back(shard.rows);
  if (kind == ModelKind::Mlp) {
    p.model.hidden = 4;
    // No closed form: constants of the right size do (the runs only need to be the same).
    p.constants.smoothness = 8.0;
    p.constants.worker_smoothness = {1.0, 2.0, 3.0, 2.5};
    p.constants.initial_theta = initial_parameters(p.model, p.data.dim, 5);
  } else {
    const Smoothness s = smoothness_constants(p.data, p.model);
    p.constants.smoothness = s.global;
    p.constants.worker_smoothness = s.worker;
  }
  return p;
}

// `make(data, model)` makes a new cluster of the kind under test (a unique_ptr<Cluster<T>>).
template <class T, class MakeCluster>
void expect_resumes_exactly(const Problem& p, Algorithm algo, const MakeCluster& make) {
  const Dataset<T> data = convert_precision<T>(p.data);
  TrainOptions o;
  o.algorithm = algo;
  o.max_iters = 60;
  o.eval_every = 7;  // rows off the evaluation grid too
  o.depth = 5;
  o.seed = 9;
  if (stochastic(algo)) {
    // Minibatches of 8 of the 37 rows (5 iterations per epoch, batches across epochs), a
    // decaying step, and skip limits that force uploads.
    o.batch_size = 8;
    o.schedule = StepSchedule::InverseSqrtEpoch;
    o.max_skip = 3;
  }

  // The run that never stops, saving its state every 9 iterations (through the bytes).
  std::vector<IterationRow> rows;
  std::map<std::int64_t, std::string> saved;
  Checkpoints<T> save_every;
  save_every.every = 9;
  save_every.save = [&](const RunState<T>& s) {
    MessageWriter out;
    put_run_state(out, s);
    saved[s.engine.iteration] = out.bytes();
  };
  const auto whole = make(data, p.model);
  const RunResult full = train(
      *whole, p.constants, o, [&](const IterationRow& r) { rows.push_back(r); }, {}, save_every);
  ASSERT_EQ(full.stop_reason, StopReason::MaxIters);
  ASSERT_EQ(saved.size(), 6u);  // t = 9, 18, ..., 54

  for (const auto& [t, bytes] : saved) {
    SCOPED_TRACE("resumed at " + std::to_string(t));
    MessageReader in(bytes, "the saved state");
    const RunState<T> state = get_run_state<T>(in);
    ASSERT_TRUE(in.done());
    Checkpoints<T> resume;
    resume.resume = &state;
    const auto fresh = make(data, p.model);
    std::vector<IterationRow> tail;
    const RunResult r = train(
        *fresh, p.constants, o, [&](const IterationRow& row) { tail.push_back(row); }, {}, resume);
    ASSERT_EQ(tail.size(), rows.size() - static_cast<std::size_t>(t));
    for (std::size_t i = 0; i < tail.size(); ++i)
      expect_same_row(rows[static_cast<std::size_t>(t) + i], tail[i]);
    EXPECT_EQ(r.iterations, full.iterations);
    EXPECT_EQ(r.stop_reason, full.stop_reason);
    ASSERT_EQ(r.epochs.size(), full.epochs.size());
    for (std::size_t e = 0; e < r.epochs.size(); ++e) {
      EXPECT_EQ(r.epochs[e].iteration, full.epochs[e].iteration);
      EXPECT_TRUE(same_bits(r.epochs[e].spent, full.epochs[e].spent));
      EXPECT_TRUE(same_bits(r.epochs[e].loss, full.epochs[e].loss));
    }
    EXPECT_TRUE(same_bits(r.total, full.total));
    EXPECT_TRUE(same_bits(r.final_loss, full.final_loss));
    EXPECT_TRUE(same_bits(r.grad_norm, full.grad_norm));
    ASSERT_EQ(r.theta.size(), full.theta.size());
    EXPECT_EQ(std::memcmp(r.theta.data(), full.theta.data(), r.theta.size() * sizeof(double)), 0);
  }
}

}  // namespace lag::test
