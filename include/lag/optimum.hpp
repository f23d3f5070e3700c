// The optimal objective value L* used for the objective error L(theta) - L*.
#pragma once

#include <vector>

#include "lag/dataset.hpp"
#include "lag/model.hpp"

namespace lag {

class ProcessGroup;  // lag/process_group.hpp

struct Optimum {
  double value = 0.0;         // L*
  std::vector<double> theta;  // a minimiser
  std::string method;         // how it was found, for the summary
};

// Least squares: the normal equations X^T X theta = X^T y solved by Cholesky (conjugate
// gradients when X^T X is singular). Logistic: Newton's method with a backtracking line search
// on the full objective. With lambda = 0 and separable data there is no minimiser: the iterates
// run off to infinity and the value returned approaches the infimum 0, which is still the right
// reference for the objective error. Fails when the Hessian becomes singular before that.
// Everything in fp64. Throws lag::Error if it cannot reach a stationary point.
Optimum solve_optimum(const Dataset<double>& data, const ModelSpec& model);

// The same with the workers spread over the processes of `group` (collective; see Dataset for
// the empty shards), with the same bits as alone: every sum over the data is a sum of per-worker
// pieces added in worker order (OrderedSum). Least squares: X^T X and X^T y reach rank 0, which
// solves and hands theta to the others (`method` is set on rank 0 only). Logistic: every process
// gets each Newton step's sums and takes the same steps. Every process gets the value.
Optimum solve_optimum(const Dataset<double>& data, const ModelSpec& model, ProcessGroup& group);

// L(theta) = sum_m L_m(theta) in fp64 (the workers' losses added in worker order), for checks
// and tests; with `group`, collective, the value on every process.
double objective(const Dataset<double>& data, const ModelSpec& model,
                 const std::vector<double>& theta);
double objective(const Dataset<double>& data, const ModelSpec& model,
                 const std::vector<double>& theta, ProcessGroup& group);

}  // namespace lag
