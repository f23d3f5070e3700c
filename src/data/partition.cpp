// Splitting one file's rows over the workers: by position, shuffled, or by label (non-IID).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "data/data_internal.hpp"
#include "lag/dataset.hpp"
#include "lag/error.hpp"
#include "lag/huge_pages.hpp"
#include "lag/random.hpp"

namespace lag {
namespace {

// Suffixes appended to the file name in a part's source; source_file() strips them again.
constexpr const char* kRowsTag = "[rows ";
constexpr const char* kPartTag = "[part ";
constexpr const char* kLabelTag = "[label part ";

bool has_tag_at(const std::string& s, std::size_t pos, const char* tag) {
  return s.compare(pos, std::strlen(tag), tag) == 0;
}

// The part's census. Shards keep no line number per row, so a label kind present in the part
// is placed at the line where the kind first occurs in the whole file. Label errors are reported
// against that file (see source_file), and its first offending line is the one to fix.
LabelCensus part_census(const LabelCensus& whole, const std::vector<double>& y) {
  LabelCensus part;
  bool other = false;
  for (const double v : y) {
    if (v == 0.0) {
      part.first_zero = whole.first_zero;
    } else if (v == 1.0) {
      part.first_plus_one = whole.first_plus_one;
    } else if (v == -1.0) {
      part.first_minus_one = whole.first_minus_one;
    } else {
      other = true;
    }
  }
  if (other) {
    part.first_other = whole.first_other;
    part.other_value = whole.other_value;
  }
  return part;
}

std::string part_source(const std::string& source, Partition kind, std::size_t first_row,
                        std::size_t rows, std::size_t part, std::size_t parts) {
  if (kind == Partition::Contiguous) {
    return source + kRowsTag + std::to_string(first_row + 1) + "-" +
           std::to_string(first_row + rows) + "]";
  }
  return source + kPartTag + std::to_string(part + 1) + " of " + std::to_string(parts) +
         ", shuffled]";
}

void check_workers(int workers) {
  if (workers < 1) {
    throw Error("the number of workers must be at least 1 (got " + std::to_string(workers) + ")");
  }
}

void check_shape(const Shard<double>& all) {
  if (all.x.size() != all.rows * all.dim || all.y.size() != all.rows) {
    throw Error(all.source + ": inconsistent shard shape (internal error)");
  }
}

// A shard holding rows `from` of `all` (in that order).
Shard<double> gather_rows(const Shard<double>& all, const std::vector<std::size_t>& from,
                          std::string source) {
  Shard<double> s;
  s.source = std::move(source);
  s.rows = from.size();
  s.dim = all.dim;
  reserve_huge(s.x, from.size() * all.dim);
  s.x.resize(from.size() * all.dim);
  s.y.resize(from.size());
  for (std::size_t i = 0; i < from.size(); ++i) {
    std::copy_n(all.row(from[i]), all.dim, s.x.data() + i * all.dim);
    s.y[i] = all.y[from[i]];
  }
  s.labels = part_census(all.labels, s.y);
  return s;
}

// A value for a message: integers in full ("10", not detail::format_number's "1e+01").
std::string value_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  return detail::format_number(v);
}

std::string join(const std::vector<std::size_t>& values) {
  std::string s;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) s += ",";
    s += std::to_string(values[i]);
  }
  return s;
}

}  // namespace

namespace detail {

std::string source_file(const std::string& source) {
  if (source.empty() || source.back() != ']') return source;
  const std::size_t open = source.rfind('[');
  if (open == std::string::npos || open == 0) return source;
  if (has_tag_at(source, open, kRowsTag) || has_tag_at(source, open, kPartTag) ||
      has_tag_at(source, open, kLabelTag)) {
    return source.substr(0, open);
  }
  return source;
}

}  // namespace detail

Partition parse_partition(const std::string& name) {
  if (name == "contiguous") return Partition::Contiguous;
  if (name == "shuffle") return Partition::Shuffle;
  if (name == "label") return Partition::Label;
  throw Error("unknown partition '" + name + "' (expected contiguous, shuffle or label)");
}

Dataset<double> partition_rows(const Shard<double>& all, int workers, Partition kind,
                               std::uint64_t seed) {
  // The label split needs the class count and classes per worker, which this signature lacks;
  // a separate function keeps callers of the positional splits unchanged.
  if (kind == Partition::Label) {
    throw Error(
        "partition_rows cannot split by label: call partition_by_label with the number of "
        "classes and classes per worker");
  }
  check_workers(workers);
  const auto parts = static_cast<std::size_t>(workers);
  if (all.rows < parts) {
    throw Error(all.source + ": " + std::to_string(all.rows) + " rows cannot be split over " +
                std::to_string(parts) + " workers (every worker needs at least one row)");
  }
  check_shape(all);

  std::vector<std::size_t> order;
  if (kind == Partition::Shuffle) order = Random(seed).permutation(all.rows);
  const auto source_row = [&](std::size_t i) { return order.empty() ? i : order[i]; };

  const std::size_t base = all.rows / parts;
  const std::size_t extra = all.rows % parts;
  Dataset<double> out;
  out.dim = all.dim;
  out.shards.reserve(parts);
  std::size_t start = 0;
  std::vector<std::size_t> from;
  for (std::size_t part = 0; part < parts; ++part) {
    const std::size_t rows = base + (part < extra ? 1 : 0);
    from.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) from[i] = source_row(start + i);
    out.shards.push_back(
        gather_rows(all, from, part_source(all.source, kind, start, rows, part, parts)));
    start += rows;
  }
  return out;
}

Dataset<double> partition_by_label(const Shard<double>& all, int workers, int classes_per_worker,
                                   int num_classes, std::uint64_t seed) {
  check_workers(workers);
  if (num_classes < 1) {
    throw Error("the number of classes must be at least 1 (got " + std::to_string(num_classes) +
                ")");
  }
  if (classes_per_worker < 1 || classes_per_worker > num_classes) {
    throw Error("classes per worker must be between 1 and the number of classes, " +
                std::to_string(num_classes) + " (got " + std::to_string(classes_per_worker) + ")");
  }
  const auto parts = static_cast<std::size_t>(workers);
  const auto k = static_cast<std::size_t>(classes_per_worker);
  const auto classes = static_cast<std::size_t>(num_classes);
  if (parts * k < classes) {
    const std::size_t min_k = (classes + parts - 1) / parts;
    const std::size_t min_workers = (classes + k - 1) / k;
    throw Error(std::to_string(parts) + " workers with " + std::to_string(k) +
                " classes each hold only " + std::to_string(parts * k) + " of the " +
                std::to_string(classes) + " classes, so classes " + std::to_string(parts * k) +
                ".." + std::to_string(classes - 1) + " would be held by nobody; use at least " +
                std::to_string(min_k) + " classes per worker or at least " +
                std::to_string(min_workers) + " workers");
  }
  check_shape(all);

  // Rows of each class, in file order.
  std::vector<std::vector<std::size_t>> by_class(classes);
  for (std::size_t i = 0; i < all.rows; ++i) {
    const double y = all.y[i];
    if (!(y >= 0 && y < static_cast<double>(classes) && y == std::floor(y))) {
      throw InputError(all.source, 0, 0,
                       "label " + value_text(y) + " is not a class index in 0.." +
                           std::to_string(classes - 1) + " (row " + std::to_string(i + 1) +
                           "), as the label partition needs");
    }
    by_class[static_cast<std::size_t>(y)].push_back(i);
  }

  // Worker m holds classes (m*k + j) mod K; k <= K keeps them distinct. Holders are listed in
  // worker order, which fixes which worker gets which part of a class.
  std::vector<std::vector<std::size_t>> held(parts);
  std::vector<std::vector<std::size_t>> holders(classes);
  for (std::size_t m = 0; m < parts; ++m) {
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t c = (m * k + j) % classes;
      held[m].push_back(c);
      holders[c].push_back(m);
    }
    std::sort(held[m].begin(), held[m].end());
  }

  // One generator for all classes, drawn in class order, so the seed fixes every shuffle.
  Random rng(seed);
  std::vector<std::vector<std::size_t>> rows_of(parts);
  for (std::size_t c = 0; c < classes; ++c) {
    const std::vector<std::size_t>& rows = by_class[c];
    const std::vector<std::size_t> order = rng.permutation(rows.size());
    const std::size_t h = holders[c].size();
    const std::size_t base = rows.size() / h;
    const std::size_t extra = rows.size() % h;
    std::size_t next = 0;
    for (std::size_t t = 0; t < h; ++t) {
      const std::size_t take = base + (t < extra ? 1 : 0);
      std::vector<std::size_t>& to = rows_of[holders[c][t]];
      for (std::size_t i = 0; i < take; ++i) to.push_back(rows[order[next++]]);
    }
  }

  for (std::size_t m = 0; m < parts; ++m) {
    if (!rows_of[m].empty()) continue;
    std::string counts;
    for (const std::size_t c : held[m]) {
      if (!counts.empty()) counts += ", ";
      counts += "class " + std::to_string(c) + " has " + std::to_string(by_class[c].size()) +
                " rows over " + std::to_string(holders[c].size()) + " workers";
    }
    throw Error(all.source + ": the label partition leaves part " + std::to_string(m + 1) + " of " +
                std::to_string(parts) + " (classes " + join(held[m]) + ") with no rows (" + counts +
                "); use fewer workers or more classes per worker");
  }

  Dataset<double> out;
  out.dim = all.dim;
  out.shards.reserve(parts);
  for (std::size_t m = 0; m < parts; ++m) {
    // Rows keep their order in `all`, so a shard does not depend on how the shuffle went
    // beyond which rows it picked.
    std::sort(rows_of[m].begin(), rows_of[m].end());
    out.shards.push_back(gather_rows(all, rows_of[m],
                                     all.source + kLabelTag + std::to_string(m + 1) + " of " +
                                         std::to_string(parts) + ": classes " + join(held[m]) +
                                         "]"));
  }
  return out;
}

}  // namespace lag
