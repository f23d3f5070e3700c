#include "lag/model.hpp"

#include "lag/error.hpp"

namespace lag {

ModelKind parse_model(const std::string& name) {
  if (name == "linear" || name == "least-squares") return ModelKind::LeastSquares;
  if (name == "logistic") return ModelKind::Logistic;
  throw Error("unknown model '" + name + "' (expected linear or logistic)");
}

const char* model_name(ModelKind kind) {
  return kind == ModelKind::Logistic ? "logistic" : "linear";
}

}  // namespace lag
