// Smoothness constants (docs/architecture.md §1) from lambda_max by power iteration.
#pragma once

#include <vector>

#include "lag/dataset.hpp"
#include "lag/model.hpp"

namespace lag {

class ProcessGroup;  // lag/process_group.hpp

// lambda_max(X^T X) for the stacked rows of the given shards, by power iteration on X^T X
// (deterministic start, relative tolerance 1e-12, at most `max_iters` products; X^T X is the sum
// of the shards' own X_m^T X_m, added in order).
double lambda_max_gram(const std::vector<const Shard<double>*>& shards, int max_iters = 2000);

struct Smoothness {
  std::vector<double> worker;  // L_m
  double global = 0.0;         // L for the stacked data (logistic: regulariser M * lambda)
};

// Closed-form bounds. Least squares: L_m = lambda_max(X_m^T X_m). Logistic:
// 1/4 lambda_max(X_m^T X_m) + lambda. Softmax: 1/2 lambda_max(X_m^T X_m) + lambda (the Hessian
// of the cross-entropy in the logits, diag(p) - p p^T, has eigenvalues at most 1/2). The MLP has
// no closed form: see estimate_curvature (cpu/curvature.hpp); this throws lag::Error for it.
Smoothness smoothness_constants(const Dataset<double>& data, const ModelSpec& model);

// The same with the workers spread over the processes of `group` (collective; see Dataset for
// the empty shards): each process computes X_m^T X_m and L_m for its own workers, and the global
// X^T X is their sum in worker order (OrderedSum), so that every constant has the same bits as
// alone. Every process gets every constant.
Smoothness smoothness_constants(const Dataset<double>& data, const ModelSpec& model,
                                ProcessGroup& group);

}  // namespace lag
