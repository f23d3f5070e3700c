// The engine's half of checkpoints: a run whose state was saved at iteration t and then continued
// from that state, on a new cluster (as a new process would), writes the rows and ends with the
// result and theta of the run that never stopped, bit for bit. Every algorithm, fp32 and fp64,
// the four models; the state goes through its bytes (run_state_codec) on the way.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "../resume_check.hpp"
#include "checkpoint/run_state_codec.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"
#include "lag/smoothness.hpp"

namespace lag {
namespace {

template <class T>
void expect_resumes_exactly(const test::Problem& p, Algorithm algo) {
  ThreadPool pool(2);
  test::expect_resumes_exactly<T>(p, algo, [&](const Dataset<T>& data, const ModelSpec& model) {
    return std::make_unique<CpuCluster<T>>(data, model, pool);
  });
}

class Resume : public ::testing::TestWithParam<ModelKind> {};

TEST_P(Resume, EveryAlgorithmContinuesBitForBitInFp64AndFp32) {
  const test::Problem p = test::problem(GetParam());
  for (Algorithm a : test::kAllAlgorithms) {
    SCOPED_TRACE(algorithm_name(a));
    expect_resumes_exactly<double>(p, a);
    expect_resumes_exactly<float>(p, a);
  }
}

// On minibatches: the samplers continue where they were (rows drawn), LASG-WK's workers keep
// their theta_hat, LASG-PS's server its skip counts, and the epochs so far are kept.
TEST_P(Resume, StochasticAlgorithmsContinueBitForBitInFp64AndFp32) {
  const test::Problem p = test::problem(GetParam());
  for (Algorithm a : test::kStochasticAlgorithms) {
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
  const test::Problem p = test::problem(ModelKind::LeastSquares);
  ThreadPool pool(1);
  CpuCluster<double> cluster(p.data, p.model, pool);
  cluster.reset({}, {});
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
  put_cluster_state(out, ClusterState<double>{{1.0, 2.0}, {}, {}, {}, {}, {}, {}});
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
