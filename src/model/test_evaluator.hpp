// Held-out loss and accuracy on the CPU, for the engine's TestEvaluator hook.
#pragma once

#include <memory>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/engine.hpp"
#include "lag/thread_pool.hpp"
#include "model/loss_kernels.hpp"

namespace lag {

class CpuTestEvaluator {
 public:
  // `test` and `pool` must outlive the evaluator.
  CpuTestEvaluator(const Shard<double>& test, const ModelSpec& model, ThreadPool& pool);

  // Mean loss per test row (data term only) and the fraction predicted right (NaN for least
  // squares). fp64, row blocks in parallel, summed in a fixed order.
  TestMetrics operator()(const std::vector<double>& theta);

 private:
  const Shard<double>& test_;
  ModelSpec model_;
  ThreadPool& pool_;
  std::unique_ptr<cpu::LossKernel<double>> kernel_;
  std::vector<std::vector<double>> scratch_;  // per pool thread
  std::vector<double> block_loss_;
  std::vector<std::size_t> block_correct_;
};

}  // namespace lag
