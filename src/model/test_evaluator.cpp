#include "model/test_evaluator.hpp"

#include <algorithm>
#include <limits>

namespace lag {

namespace {
constexpr std::size_t kBlockRows = 4096;
}

CpuTestEvaluator::CpuTestEvaluator(const Shard<double>& test, const ModelSpec& model,
                                   ThreadPool& pool)
    : test_(test),
      model_(model),
      pool_(pool),
      kernel_(cpu::make_loss_kernel<double>(model, test.dim)),
      scratch_(static_cast<std::size_t>(pool.size())) {
  const std::size_t blocks = (test.rows + kBlockRows - 1) / kBlockRows;
  block_loss_.assign(blocks, 0.0);
  block_correct_.assign(blocks, 0);
}

TestMetrics CpuTestEvaluator::operator()(const std::vector<double>& theta) {
  pool_.parallel_for(block_loss_.size(), [&](std::size_t b) {
    const std::size_t begin = b * kBlockRows;
    const std::size_t rows = std::min(kBlockRows, test_.rows - begin);
    std::size_t correct = 0;
    block_loss_[b] =
        kernel_->evaluate(test_.row(begin), test_.y.data() + begin, rows, theta.data(),
                          scratch_[static_cast<std::size_t>(ThreadPool::slot())], correct);
    block_correct_[b] = correct;
  });
  TestMetrics m;
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t b = 0; b < block_loss_.size(); ++b) {
    loss += block_loss_[b];
    correct += block_correct_[b];
  }
  const auto rows = static_cast<double>(test_.rows);
  m.loss = test_.rows ? loss / rows : std::numeric_limits<double>::quiet_NaN();
  if (model_.kind != ModelKind::LeastSquares && test_.rows)
    m.accuracy = static_cast<double>(correct) / rows;
  return m;
}

}  // namespace lag
