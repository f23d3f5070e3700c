// Label rules of the models, checked after loading because they depend on the model.
#include <algorithm>
#include <cmath>
#include <string>

#include "data_internal.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"

namespace lag {
namespace {

// A label's first occurrence in the data set: the shard, its row there and the file line that
// the shard's census recorded (0 when the shard was not read from a file, e.g. hand-built).
struct Occurrence {
  const Shard<double>* shard = nullptr;
  std::size_t row = 0;
  std::size_t line = 0;

  explicit operator bool() const { return shard != nullptr; }

  // "file:line" or "source, row N", for naming a place inside a message.
  std::string where() const {
    if (line != 0) return detail::source_file(shard->source) + ":" + std::to_string(line);
    return shard->source + ", row " + std::to_string(row + 1);
  }

  [[noreturn]] void fail(const std::string& message) const {
    if (line != 0) throw InputError(detail::source_file(shard->source), line, 0, message);
    throw InputError(shard->source, 0, 0, message + " (row " + std::to_string(row + 1) + ")");
  }
};

bool is_logistic_label(double y) { return y == -1.0 || y == 0.0 || y == 1.0; }

void check_logistic_values(const Dataset<double>& data) {
  for (const Shard<double>& s : data.shards) {
    const auto bad = std::find_if_not(s.y.begin(), s.y.end(), is_logistic_label);
    if (bad == s.y.end()) continue;
    const Occurrence at{&s, static_cast<std::size_t>(bad - s.y.begin()), s.labels.first_other};
    // The census line goes with the census value (after partitioning they name the file's first
    // bad label, which may sit in another part).
    const double value = at.line != 0 ? s.labels.other_value : *bad;
    at.fail("label " + detail::format_number(value) +
            " is not valid for logistic regression (labels must be -1/+1 or 0/1)");
  }
}

Occurrence first_of(const Dataset<double>& data, double label, std::size_t LabelCensus::*line) {
  for (const Shard<double>& s : data.shards) {
    const auto it = std::find(s.y.begin(), s.y.end(), label);
    if (it != s.y.end()) return {&s, static_cast<std::size_t>(it - s.y.begin()), s.labels.*line};
  }
  return {};
}

}  // namespace

std::string prepare_labels(Dataset<double>& data, ModelKind kind) {
  if (kind != ModelKind::Logistic) return "";
  check_logistic_values(data);

  const Occurrence zero = first_of(data, 0.0, &LabelCensus::first_zero);
  if (!zero) return "";
  const Occurrence minus_one = first_of(data, -1.0, &LabelCensus::first_minus_one);
  if (minus_one) {
    zero.fail("label 0 in a data set that also uses -1 (first at " + minus_one.where() +
              "); use -1/+1 or 0/1, not both");
  }
  for (Shard<double>& s : data.shards) {
    std::replace(s.y.begin(), s.y.end(), 0.0, -1.0);
    s.labels.first_minus_one = s.labels.first_zero;
    s.labels.first_zero = 0;
  }
  return "notice: labels {0,1} mapped to {-1,+1} for logistic regression";
}

std::string prepare_labels(Dataset<double>& data, ModelSpec& model) {
  if (!is_multiclass(model.kind)) return prepare_labels(data, model.kind);
  double largest = -1;
  for (const Shard<double>& s : data.shards)
    for (std::size_t i = 0; i < s.rows; ++i) {
      const double y = s.y[i];
      const bool in_range = model.classes == 0 || y < model.classes;
      if (y >= 0 && y == std::floor(y) && y < 1e6 && in_range) {
        largest = std::max(largest, y);
        continue;
      }
      // Rows of a loaded file are its data lines in order; name the line when it is known.
      const Occurrence at{&s, i, 0};
      std::string what = "label " + detail::format_number(y) + " is not a class index";
      what += model.classes == 0
                  ? " (expected an integer >= 0)"
                  : " (expected an integer in 0.." + std::to_string(model.classes - 1) + ")";
      at.fail(what);
    }
  if (model.classes == 0) model.classes = static_cast<int>(largest) + 1;
  if (model.classes < 2)
    throw Error("only one class in the data: " + std::string(model_name(model.kind)) +
                " needs at least two");
  return "";
}

}  // namespace lag
