// The engine's half of checkpoints: a run whose state was saved at iteration t and then continued
// from that state, on a new cluster (as a new process would), writes the rows and ends with the
// result and theta of the run that never stopped, bit for bit. Every algorithm, fp32 and fp64,
// the four models; the state goes through its bytes (run_state_codec) on the way.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "../test_helpers.hpp"
#include "checkpoint/run_state_codec.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"
#include "lag/smoothness.hpp"

namespace lag {
namespace {

constexpr Algorithm kAll[] = {Algorithm::GD, Algorithm::LagWK, Algorithm::LagPS, Algorithm::CycIAG,
                              Algorithm::NumIAG};

template <class V>
bool same_bits(const V& a, const V& b) {
  return std::memcmp(&a, &b, sizeof(V)) == 0;
}

// Everything of a row but the wall-clock time.
void expect_same_row(const IterationRow& a, const IterationRow& b) {
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
Dataset<double> three_classes(Dataset<double> d) {
  for (auto& s : d.shards)
    for (std::size_t i = 0; i < s.rows; ++i) {
      const double* x = s.row(i);
      s.y[i] = x[0] >= x[1] && x[0] >= x[2] ? 0.0 : (x[1] >= x[2] ? 1.0 : 2.0);
    }
  return d;
}

Problem problem(ModelKind kind) {
  Problem p;
  const bool logistic = kind == ModelKind::Logistic;
  p.data = test::gaussian_data(4, 37, 6, logistic, 0.1, 77);
  p.model.kind = kind;
  if (kind != ModelKind::LeastSquares) p.model.lambda = 0.01;
  if (is_multiclass(kind)) {
    p.data = three_classes(std::move(p.data));
    p.model.classes = 3;
  }
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

template <class T>
void expect_resumes_exactly(const Problem& p, Algorithm algo) {
  const Dataset<T> data = convert_precision<T>(p.data);
  TrainOptions o;
  o.algorithm = algo;
  o.max_iters = 60;
  o.eval_every = 7;  // rows off the evaluation grid too
  o.depth = 5;
  o.seed = 9;
  ThreadPool pool(2);

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
  CpuCluster<T> whole(data, p.model, pool);
  const RunResult full = train(
      whole, p.constants, o, [&](const IterationRow& r) { rows.push_back(r); }, {}, save_every);
  ASSERT_EQ(full.stop_reason, StopReason::MaxIters);
  ASSERT_EQ(saved.size(), 6u);  // t = 9, 18, ..., 54

  for (const auto& [t, bytes] : saved) {
    SCOPED_TRACE("resumed at " + std::to_string(t));
    MessageReader in(bytes, "the saved state");
    const RunState<T> state = get_run_state<T>(in);
    ASSERT_TRUE(in.done());
    Checkpoints<T> resume;
    resume.resume = &state;
    CpuCluster<T> fresh(data, p.model, pool);
    std::vector<IterationRow> tail;
    const RunResult r = train(
        fresh, p.constants, o, [&](const IterationRow& row) { tail.push_back(row); }, {}, resume);
    ASSERT_EQ(tail.size(), rows.size() - static_cast<std::size_t>(t));
    for (std::size_t i = 0; i < tail.size(); ++i)
      expect_same_row(rows[static_cast<std::size_t>(t) + i], tail[i]);
    EXPECT_EQ(r.iterations, full.iterations);
    EXPECT_EQ(r.stop_reason, full.stop_reason);
    EXPECT_TRUE(same_bits(r.total, full.total));
    EXPECT_TRUE(same_bits(r.final_loss, full.final_loss));
    EXPECT_TRUE(same_bits(r.grad_norm, full.grad_norm));
    ASSERT_EQ(r.theta.size(), full.theta.size());
    EXPECT_EQ(std::memcmp(r.theta.data(), full.theta.data(), r.theta.size() * sizeof(double)), 0);
  }
}

class Resume : public ::testing::TestWithParam<ModelKind> {};

TEST_P(Resume, EveryAlgorithmContinuesBitForBitInFp64AndFp32) {
  const Problem p = problem(GetParam());
  for (Algorithm a : kAll) {
    SCOPED_TRACE(algorithm_name(a));
    expect_resumes_exactly<double>(p, a);
    expect_resumes_exactly<float>(p, a);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Resume,
                         ::testing::Values(ModelKind::LeastSquares, ModelKind::Logistic,
                                           ModelKind::Softmax, ModelKind::Mlp),
                         [](const auto& p) { return std::string(model_name(p.param)); });

// The state a cluster restores must be its own: sizes are checked before anything is loaded.
TEST(ResumeState, AClusterRefusesAStateOfOtherSizes) {
  const Problem p = problem(ModelKind::LeastSquares);
  ThreadPool pool(1);
  CpuCluster<double> cluster(p.data, p.model, pool);
  cluster.reset({});
  ClusterState<double> state = cluster.save_state();
  ASSERT_EQ(state.g_hat.size(), 4u * 6u);
  state.theta_hat.pop_back();
  try {
    cluster.restore_state(state);
    FAIL() << "a short theta_hat was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("theta_hat has 23 values; this run needs 24"),
              std::string::npos)
        << e.what();
  }
}

// A state saved in fp64 is not read as fp32.
TEST(ResumeState, TheCodecRefusesAnotherPrecision) {
  MessageWriter out;
  put_cluster_state(out, ClusterState<double>{{1.0, 2.0}, {}, {}, {}});
  MessageReader in(out.bytes(), "the saved state");
  try {
    get_cluster_state<float>(in);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("64-bit values; this run computes in 32-bit"),
              std::string::npos)
        << e.what();
  }
}

// Bytes that end early are an error naming them, never a read past the end.
TEST(ResumeState, TruncatedBytesAreAnError) {
  MessageWriter out;
  put_engine_state(out, EngineState{});
  const std::string cut = out.bytes().substr(0, out.bytes().size() - 3);
  MessageReader in(cut, "the saved state");
  EXPECT_THROW(get_engine_state(in), Error);
}

}  // namespace
}  // namespace lag
