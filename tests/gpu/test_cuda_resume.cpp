// Checkpoints on the GPU: a CudaCluster run continued from its saved state (theta, the aggregate
// and every theta_hat_m of the DeviceServer, every worker's g_hat from CudaWorkers, LAQ's errors
// and skips, CLAG's previous gradients, LASG-WK's theta_hat and the minibatch samplers'
// positions, copied to the host and back) is the run that never stopped, bit for bit: every
// algorithm (LAQ, EF21, CLAG, SGD and LASG included), fp64 and fp32, linear and softmax (batched
// and shared-scratch workers), with CUDA graphs on (the state goes back into the buffers the graphs
// hold) and off. Skips without a GPU.
#include <gtest/gtest.h>

#include <iterator>
#include <memory>
#include <vector>

#include "../resume_check.hpp"
#include "cluster/cuda_cluster.hpp"
#include "gpu_probe.hpp"

namespace lag {
namespace {

class CudaResume : public ::testing::TestWithParam<ModelKind> {};

std::vector<Algorithm> all_algorithms() {
  std::vector<Algorithm> all(std::begin(test::kAllAlgorithms), std::end(test::kAllAlgorithms));
  all.insert(all.end(), std::begin(test::kStochasticAlgorithms),
             std::end(test::kStochasticAlgorithms));
  return all;
}

TEST_P(CudaResume, EveryAlgorithmContinuesBitForBitWithGraphsOnAndOff) {
  LAG_REQUIRE_GPU();
  const test::Problem p = test::problem(GetParam());
  for (bool graphs : {true, false})
    for (Algorithm a : all_algorithms()) {
      SCOPED_TRACE(std::string(algorithm_name(a)) + (graphs ? " graphs on" : " graphs off"));
      const auto on_gpu = [&](const auto& data, const ModelSpec& model) {
        using T = typename std::decay_t<decltype(data.shards[0].x)>::value_type;
        return std::make_unique<CudaCluster<T>>(data, model, 0, graphs);
      };
      test::expect_resumes_exactly<double>(p, a, on_gpu);
      test::expect_resumes_exactly<float>(p, a, on_gpu);
    }
}

INSTANTIATE_TEST_SUITE_P(Models, CudaResume,
                         ::testing::Values(ModelKind::LeastSquares, ModelKind::Softmax),
                         [](const auto& p) { return std::string(model_name(p.param)); });

}  // namespace
}  // namespace lag
