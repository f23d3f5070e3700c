// Label rules of the models, checked after loading because they depend on the model.
#include <algorithm>
#include <cmath>
#include <string>

#include "data/data_internal.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"
#include "lag/process_group.hpp"

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

// The first occurrence of `label` over all workers, in worker order, from `facts` (per worker:
// row + 1 of its first occurrence, 0 for none, then the census line; `offset` picks the label).
Occurrence first_of(const Dataset<double>& data, const std::vector<double>& facts,
                    std::size_t offset) {
  for (std::size_t m = 0; m < data.shards.size(); ++m) {
    const double row = facts[m * 4 + offset];
    if (row == 0) continue;
    return {&data.shards[m], static_cast<std::size_t>(row) - 1,
            static_cast<std::size_t>(facts[m * 4 + offset + 1])};
  }
  return {};
}

double first_row(const Shard<double>& s, double label) {
  const auto it = std::find(s.y.begin(), s.y.end(), label);
  return it == s.y.end() ? 0.0 : static_cast<double>(it - s.y.begin() + 1);
}

}  // namespace

std::string prepare_labels(Dataset<double>& data, ModelKind kind) {
  return prepare_labels(data, kind, single_process());
}

std::string prepare_labels(Dataset<double>& data, ModelSpec& model) {
  return prepare_labels(data, model, single_process());
}

std::string prepare_labels(Dataset<double>& data, ModelKind kind, ProcessGroup& group) {
  if (kind != ModelKind::Logistic) return "";
  // Each process checks the rows it holds; the first bad label in worker order is then reported
  // by the process that holds it.
  agree(group, [&] { check_logistic_values(data); });

  // Where 0 and -1 first occur, over every worker: [row of 0 + 1, its line, row of -1 + 1, line].
  const WorkerRange own = own_workers(group, data.workers());
  std::vector<double> mine;
  for (int m = own.first; m < own.end; ++m) {
    const Shard<double>& s = data.shards[static_cast<std::size_t>(m)];
    mine.push_back(first_row(s, 0.0));
    mine.push_back(static_cast<double>(s.labels.first_zero));
    mine.push_back(first_row(s, -1.0));
    mine.push_back(static_cast<double>(s.labels.first_minus_one));
  }
  const std::vector<double> facts = gather_workers(group, data.workers(), mine, 4);

  const Occurrence zero = first_of(data, facts, 0);
  if (!zero) return "";
  const Occurrence minus_one = first_of(data, facts, 2);
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

std::string prepare_labels(Dataset<double>& data, ModelSpec& model, ProcessGroup& group) {
  if (!is_multiclass(model.kind)) return prepare_labels(data, model.kind, group);
  const WorkerRange own = own_workers(group, data.workers());
  std::vector<double> largest(static_cast<std::size_t>(own.count()), -1.0);
  agree(group, [&] {
    for (int m = own.first; m < own.end; ++m) {
      const Shard<double>& s = data.shards[static_cast<std::size_t>(m)];
      double& top = largest[static_cast<std::size_t>(m - own.first)];
      for (std::size_t i = 0; i < s.rows; ++i) {
        const double y = s.y[i];
        const bool in_range = model.classes == 0 || y < model.classes;
        if (y >= 0 && y == std::floor(y) && y < 1e6 && in_range) {
          top = std::max(top, y);
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
    }
  });
  double top = -1;
  for (const double v : gather_workers(group, data.workers(), largest)) top = std::max(top, v);
  if (model.classes == 0) model.classes = static_cast<int>(top) + 1;
  if (model.classes < 2)
    throw Error("only one class in the data: " + std::string(model_name(model.kind)) +
                " needs at least two");
  return "";
}

}  // namespace lag
