// Smoothness estimates for models without a closed-form constant (the MLP).
#pragma once

#include <vector>

#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/smoothness.hpp"
#include "lag/thread_pool.hpp"

namespace lag {

class ProcessGroup;  // lag/process_group.hpp

// The largest |eigenvalue| of the Hessian at `theta`, for each worker's loss (L_m) and for the
// total loss (L), by `iterations` steps of power iteration on Hessian-vector products taken by
// central differences of the gradient (H v ~ (g(theta + e v) - g(theta - e v)) / 2e), regulariser
// included. A local estimate at one point, not a bound: curvature may grow during training, which
// the engine's divergence check reports with a hint to set --alpha. Deterministic (seeded start,
// fixed-order sums), fp64, parallel over workers.
Smoothness estimate_curvature(const Dataset<double>& data, const ModelSpec& model,
                              const std::vector<double>& theta, ThreadPool& pool,
                              int iterations = 10);

// The smoothness constants a run uses: the closed forms (smoothness_constants) where the model
// has them, else (the MLP) the estimate at the starting point `theta`.
Smoothness model_smoothness(const Dataset<double>& data, const ModelSpec& model,
                            const std::vector<double>& theta, ThreadPool& pool);

// Both with the workers spread over the processes of `group` (collective; see Dataset for the
// empty shards): each process estimates L_m for its own workers and its share of H v, and the
// shares are added in worker order (OrderedSum), so that every estimate has the same bits as
// alone. Every process gets every constant.
Smoothness estimate_curvature(const Dataset<double>& data, const ModelSpec& model,
                              const std::vector<double>& theta, ThreadPool& pool,
                              ProcessGroup& group, int iterations = 10);
Smoothness model_smoothness(const Dataset<double>& data, const ModelSpec& model,
                            const std::vector<double>& theta, ThreadPool& pool,
                            ProcessGroup& group);

}  // namespace lag
