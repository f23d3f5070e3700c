// The models (losses are sums over rows, as in the paper) and their label rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/softplus.hpp"  // the logistic loss: softplus(-y x.theta)

namespace lag {

class ProcessGroup;  // lag/process_group.hpp

enum class ModelKind {
  LeastSquares,  // L_m = 1/2 ||X_m theta - y_m||^2
  Logistic,      // L_m = sum_n softplus(-y_n x_n.theta) + (lambda/2) ||theta||^2, y = +-1
  Softmax,       // L_m = sum_n [logsumexp(W x_n) - (W x_n)_{y_n}] + (lambda/2) ||W||^2, y in 0..K-1
  Mlp,           // softmax on top of one tanh hidden layer of width h, (lambda/2) ||theta||^2
};

// "linear" (or "least-squares"), "logistic", "softmax", "mlp"
ModelKind parse_model(const std::string& name);
const char* model_name(ModelKind kind);

struct ModelSpec {
  ModelKind kind = ModelKind::LeastSquares;
  // Per-worker L2 weight (all models but least squares); the global regulariser is M * lambda.
  double lambda = 0.0;
  int classes = 0;  // K (softmax, MLP); 0 until known
  int hidden = 0;   // h (MLP)
};

// True for the models whose labels are class indices 0..K-1.
inline bool is_multiclass(ModelKind k) { return k == ModelKind::Softmax || k == ModelKind::Mlp; }

// Length of theta for `features` input features:
//   linear, logistic: d;  softmax: K d (row k = class k's weights);
//   MLP: h d + h + K h + K, laid out [W1 (h x d) | b1 (h) | W2 (K x h) | b2 (K)].
std::size_t parameter_count(const ModelSpec& model, std::size_t features);

// theta^1: zeros (returned empty) for every model but the MLP, whose zero point is a saddle
// (every hidden unit alike, W2 = 0 blocks all gradients to W1); the MLP starts from seeded
// Glorot-uniform weights and zero biases.
std::vector<double> initial_parameters(const ModelSpec& model, std::size_t features,
                                       std::uint64_t seed);

// Multi-class models: labels must be integers 0..K-1. With model.classes == 0, K is inferred as
// the largest label + 1 (and stored); otherwise a label >= K is an error. A label that is not a
// non-negative integer is a lag::InputError naming file and line. Binary models: as below.
std::string prepare_labels(Dataset<double>& data, ModelSpec& model);

// Check (and for logistic, map) the labels for the model. Logistic: +-1 are kept; {0,1} labels
// are mapped to -1/+1 and a notice is returned (empty string otherwise); a label outside
// {-1, 0, +1}, or 0 in a data set that also uses -1, is a lag::InputError naming file and line.
std::string prepare_labels(Dataset<double>& data, ModelKind kind);

// Both, with the workers spread over the processes of `group` (collective): each process checks
// the rows it holds (a bad label is reported by the process that holds its file, the others throw
// PeerFailure); where 0 and -1 first occur (logistic) and the largest class (multi-class) are then
// agreed over all workers, so that K, the mapping, the notice and the errors are those of the
// whole data set, the same on every process.
std::string prepare_labels(Dataset<double>& data, ModelSpec& model, ProcessGroup& group);
std::string prepare_labels(Dataset<double>& data, ModelKind kind, ProcessGroup& group);

}  // namespace lag
