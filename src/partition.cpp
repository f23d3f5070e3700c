// Splitting one file's rows over the workers.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "data_internal.hpp"
#include "lag/dataset.hpp"
#include "lag/error.hpp"
#include "lag/random.hpp"

namespace lag {
namespace {

// Suffixes appended to the file name in a part's source; source_file() strips them again.
constexpr const char* kRowsTag = "[rows ";
constexpr const char* kPartTag = "[part ";

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

}  // namespace

namespace detail {

std::string source_file(const std::string& source) {
  if (source.empty() || source.back() != ']') return source;
  const std::size_t open = source.rfind('[');
  if (open == std::string::npos || open == 0) return source;
  if (has_tag_at(source, open, kRowsTag) || has_tag_at(source, open, kPartTag)) {
    return source.substr(0, open);
  }
  return source;
}

}  // namespace detail

Partition parse_partition(const std::string& name) {
  if (name == "contiguous") return Partition::Contiguous;
  if (name == "shuffle") return Partition::Shuffle;
  throw Error("unknown partition '" + name + "' (expected contiguous or shuffle)");
}

Dataset<double> partition_rows(const Shard<double>& all, int workers, Partition kind,
                               std::uint64_t seed) {
  if (workers < 1) {
    throw Error("the number of workers must be at least 1 (got " + std::to_string(workers) + ")");
  }
  const auto parts = static_cast<std::size_t>(workers);
  if (all.rows < parts) {
    throw Error(all.source + ": " + std::to_string(all.rows) + " rows cannot be split over " +
                std::to_string(parts) + " workers (every worker needs at least one row)");
  }
  if (all.x.size() != all.rows * all.dim || all.y.size() != all.rows) {
    throw Error(all.source + ": inconsistent shard shape (internal error)");
  }

  std::vector<std::size_t> order;
  if (kind == Partition::Shuffle) order = Random(seed).permutation(all.rows);
  const auto source_row = [&](std::size_t i) { return order.empty() ? i : order[i]; };

  const std::size_t base = all.rows / parts;
  const std::size_t extra = all.rows % parts;
  Dataset<double> out;
  out.dim = all.dim;
  out.shards.reserve(parts);
  std::size_t start = 0;
  for (std::size_t part = 0; part < parts; ++part) {
    const std::size_t rows = base + (part < extra ? 1 : 0);
    Shard<double> s;
    s.source = part_source(all.source, kind, start, rows, part, parts);
    s.rows = rows;
    s.dim = all.dim;
    s.x.resize(rows * all.dim);
    s.y.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t from = source_row(start + i);
      std::copy_n(all.row(from), all.dim, s.x.data() + i * all.dim);
      s.y[i] = all.y[from];
    }
    s.labels = part_census(all.labels, s.y);
    out.shards.push_back(std::move(s));
    start += rows;
  }
  return out;
}

}  // namespace lag
