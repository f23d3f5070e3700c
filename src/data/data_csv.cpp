// CSV reader: comma-separated numbers, one row per line, the label in column `label_col` and the
// features in the other columns, in order. The first non-empty line is a header (and skipped)
// when any of its fields is not a number. Rows are written densely as they are read.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "data/data_internal.hpp"
#include "lag/error.hpp"
#include "lag/huge_pages.hpp"

namespace lag::detail {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

void trim(const char*& begin, const char*& end) {
  while (begin != end && is_blank(*begin)) ++begin;
  while (end != begin && is_blank(end[-1])) --end;
}

std::size_t count_fields(const char* begin, const char* end) {
  return static_cast<std::size_t>(std::count(begin, end, ',')) + 1;
}

const char* field_end(const char* begin, const char* end) {
  const void* comma = std::memchr(begin, ',', end - begin);
  return comma != nullptr ? static_cast<const char*>(comma) : end;
}

// Header lines have a field that is not a number. "nan" and "1e999" count as numbers here, so
// that a first data row holding them is reported rather than skipped as a header.
bool is_header(const char* begin, const char* end) {
  for (const char* p = begin;; ++p) {
    const char* stop = field_end(p, end);
    const char* b = p;
    const char* e = stop;
    trim(b, e);
    double ignored = 0.0;
    if (b != e && parse_number(b, e, ignored) == NumberStatus::NotNumber) return true;
    if (stop == end) return false;
    p = stop;
  }
}

// The usual reasons a field is not a number, named.
std::string non_numeric_hint(const char* begin, const char* end) {
  if (*begin == '"' || *begin == '\'') return " (quoted numbers are not supported)";
  for (const char* p = begin; p != end; ++p) {
    if (*p == ';' || is_blank(*p)) return " (fields must be separated by commas)";
  }
  return "";
}

class CsvParser {
 public:
  CsvParser(const std::string& path, const LoadOptions& options, std::size_t lines)
      : path_(path), options_(options), lines_(lines) {}

  void parse_line(const char* begin, const char* end, std::size_t line) {
    line_ = line;
    line_begin_ = begin;
    const char* b = begin;
    const char* e = end;
    trim(b, e);
    if (b == e) return;  // blank line
    if (fields_ == 0) {
      set_shape(begin, end);
      if (is_header(begin, end)) {
        header_line_ = line;
        return;
      }
    }
    parse_row(begin, end);
  }

  std::size_t header_line() const { return header_line_; }
  std::size_t first_row_line() const { return first_row_line_; }
  std::size_t dim() const { return fields_ - 1; }
  std::vector<double>& x() { return x_; }
  std::vector<double>& y() { return y_; }
  const LabelCensus& census() const { return census_; }

 private:
  std::size_t column(const char* p) const { return static_cast<std::size_t>(p - line_begin_) + 1; }

  // The first non-empty line fixes the number of fields every line must have.
  void set_shape(const char* begin, const char* end) {
    fields_ = count_fields(begin, end);
    fields_line_ = line_;
    if (fields_ < 2) {
      throw InputError(path_, line_, 0,
                       "only one field on the line, so no features (fields must be separated "
                       "by commas)");
    }
    if (options_.label_col > fields_) {
      throw InputError(path_, line_, 0,
                       "label column " + std::to_string(options_.label_col) +
                           " does not exist: the line has " + std::to_string(fields_) + " fields");
    }
    if (options_.dim > 0 && dim() != options_.dim) {
      throw InputError(path_, line_, 0,
                       "rows have " + std::to_string(dim()) + " features (fields besides the " +
                           "label), but the dimension is set to " + std::to_string(options_.dim) +
                           " (--dim)");
    }
    check_dense_size(path_, lines_, dim(), line_, 0,
                     "the file's " + std::to_string(lines_) + " lines of " + std::to_string(dim()) +
                         " features");
    reserve_huge(x_, lines_ * dim());
    y_.reserve(lines_);
  }

  [[noreturn]] void ragged(const char* begin, const char* end) const {
    throw InputError(path_, line_, 0,
                     "row has " + std::to_string(count_fields(begin, end)) + " fields, expected " +
                         std::to_string(fields_) + " (as on line " + std::to_string(fields_line_) +
                         ")");
  }

  void parse_row(const char* begin, const char* end) {
    const std::size_t old_size = x_.size();
    x_.resize(old_size + dim());
    double* feature = x_.data() + old_size;
    const std::size_t label_index = options_.label_col - 1;
    std::size_t k = 0;
    for (const char* p = begin;; ++k) {
      if (k == fields_) ragged(begin, end);
      const char* stop = field_end(p, end);
      const double v = parse_field(p, stop, k, k == label_index);
      if (k == label_index) {
        y_.push_back(v);
        count_label(census_, v, line_);
      } else {
        *feature++ = v;
      }
      if (stop == end) break;
      p = stop + 1;
    }
    if (k + 1 != fields_) ragged(begin, end);
    if (first_row_line_ == 0) first_row_line_ = line_;
  }

  // Field k (0-based) spanning [begin, end) before trimming.
  double parse_field(const char* begin, const char* end, std::size_t k, bool is_label) const {
    const char* b = begin;
    const char* e = end;
    trim(b, e);
    double v = 0.0;
    const NumberStatus status = b == e ? NumberStatus::NotNumber : parse_number(b, e, v);
    if (status == NumberStatus::Ok && std::isfinite(v)) return v;

    const std::string where = " (field " + std::to_string(k + 1) + ")";
    if (b == e) throw InputError(path_, line_, column(begin), "empty field" + where);
    if (status == NumberStatus::NotNumber) {
      throw InputError(path_, line_, column(b),
                       "non-numeric field " + quote_field(b, e) + non_numeric_hint(b, e) + where);
    }
    if (status == NumberStatus::OutOfRange) {
      throw InputError(path_, line_, column(b),
                       "value " + quote_field(b, e) + " is out of range for a double" + where);
    }
    throw_not_finite(v, path_, line_, column(b), (is_label ? "label" : "value") + where);
  }

  const std::string& path_;
  const LoadOptions& options_;
  std::size_t lines_;
  std::size_t line_ = 0;
  const char* line_begin_ = nullptr;
  std::size_t fields_ = 0;  // 0 until the first non-empty line
  std::size_t fields_line_ = 0;
  std::size_t header_line_ = 0;
  std::size_t first_row_line_ = 0;
  std::vector<double> x_;
  std::vector<double> y_;
  LabelCensus census_;
};

}  // namespace

LoadedFile read_csv(const std::string& path, FileLines& lines, const LoadOptions& options) {
  if (options.label_col == 0) throw Error("--label-col is 1-based; 0 is not a column");
  CsvParser parser(path, options, lines.count('\n').newlines + 1);
  const char* begin = nullptr;
  const char* end = nullptr;
  while (lines.next(begin, end)) parser.parse_line(begin, end, lines.number());

  const std::size_t rows = parser.y().size();
  if (rows == 0) {
    throw InputError(
        path, 0, 0,
        parser.header_line() != 0 ? "no data rows (only a header line)" : "no data rows");
  }
  LoadedFile out;
  out.info.format = FileFormat::Csv;
  out.info.first_row_line = parser.first_row_line();
  Shard<double>& s = out.shard;
  s.source = path;
  s.rows = rows;
  s.dim = parser.dim();
  s.x = std::move(parser.x());
  s.y = std::move(parser.y());
  s.labels = parser.census();
  return out;
}

}  // namespace lag::detail
