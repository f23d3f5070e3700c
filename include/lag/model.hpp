// The models (losses are sums over rows, as in the paper) and their label rules.
#pragma once

#include <string>

#include "lag/dataset.hpp"

namespace lag {

enum class ModelKind {
  LeastSquares,  // L_m = 1/2 ||X_m theta - y_m||^2
  Logistic,      // L_m = sum_n softplus(-y_n x_n.theta) + (lambda/2) ||theta||^2, y = +-1
};

ModelKind parse_model(const std::string& name);  // "linear" | "least-squares" | "logistic"
const char* model_name(ModelKind kind);          // "linear" | "logistic"

struct ModelSpec {
  ModelKind kind = ModelKind::LeastSquares;
  double lambda = 0.0;  // per-worker L2 weight (logistic); the global regulariser is M * lambda
};

// Check (and for logistic, map) the labels for the model. Logistic: +-1 are kept; {0,1} labels
// are mapped to -1/+1 and a notice is returned (empty string otherwise); a label outside
// {-1, 0, +1}, or 0 in a data set that also uses -1, is a lag::InputError naming file and line.
std::string prepare_labels(Dataset<double>& data, ModelKind kind);

// Numerically stable log(1 + exp(u)).
double softplus(double u);

}  // namespace lag
