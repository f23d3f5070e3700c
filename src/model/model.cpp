#include "lag/model.hpp"

#include <cmath>

#include "lag/error.hpp"
#include "lag/random.hpp"

namespace lag {

ModelKind parse_model(const std::string& name) {
  if (name == "linear" || name == "least-squares") return ModelKind::LeastSquares;
  if (name == "logistic") return ModelKind::Logistic;
  if (name == "softmax") return ModelKind::Softmax;
  if (name == "mlp") return ModelKind::Mlp;
  throw Error("unknown model '" + name + "' (expected linear, logistic, softmax or mlp)");
}

const char* model_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::LeastSquares:
      return "linear";
    case ModelKind::Logistic:
      return "logistic";
    case ModelKind::Softmax:
      return "softmax";
    case ModelKind::Mlp:
      return "mlp";
  }
  return "?";
}

std::size_t parameter_count(const ModelSpec& model, std::size_t features) {
  const auto k = static_cast<std::size_t>(model.classes);
  const auto h = static_cast<std::size_t>(model.hidden);
  switch (model.kind) {
    case ModelKind::Softmax:
      return k * features;
    case ModelKind::Mlp:
      return h * features + h + k * h + k;
    default:
      return features;
  }
}

std::vector<double> initial_parameters(const ModelSpec& model, std::size_t features,
                                       std::uint64_t seed) {
  if (model.kind != ModelKind::Mlp) return {};
  const auto d = static_cast<double>(features);
  const auto h = static_cast<double>(model.hidden);
  const auto k = static_cast<double>(model.classes);
  std::vector<double> theta(parameter_count(model, features), 0.0);
  Random rng(seed);
  const std::size_t w1 = static_cast<std::size_t>(model.hidden) * features;
  const std::size_t w2_begin = w1 + static_cast<std::size_t>(model.hidden);
  const std::size_t w2_end = w2_begin + static_cast<std::size_t>(model.classes * model.hidden);
  const double a1 = std::sqrt(6.0 / (d + h)), a2 = std::sqrt(6.0 / (h + k));
  for (std::size_t i = 0; i < w1; ++i) theta[i] = a1 * (2 * rng.uniform() - 1);
  for (std::size_t i = w2_begin; i < w2_end; ++i) theta[i] = a2 * (2 * rng.uniform() - 1);
  return theta;
}

}  // namespace lag
