// LIBSVM / svmlight reader: "LABEL [qid:N] INDEX:VALUE ..." per line, 1-based increasing
// indices, '#' to the end of the line a comment. A first pass over the file counts the lines and
// finds the largest number before a ':', a bound on the feature indices; rows are then written
// densely at that width as they are read (and narrowed at the end if the bound was above the
// widest index, as a comment can make it), so that loading holds little more than the dense
// rows. Where the bound's matrix would not fit (a stray huge number), rows are collected sparse
// and densified afterwards, which reports the huge index as before.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "data/data_internal.hpp"
#include "lag/error.hpp"
#include "lag/huge_pages.hpp"

namespace lag::detail {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Indices are stored in 32 bits (see SparseRows).
constexpr std::size_t kMaxIndex = std::numeric_limits<std::uint32_t>::max();

// The file's rows before densifying. 32-bit indices halve the index memory; a larger index
// could not be densified anyway.
struct SparseRows {
  std::vector<std::uint32_t> index;  // 1-based, increasing within a row
  std::vector<double> value;
  std::vector<std::size_t> row_end;  // one past each row's last entry
  std::vector<double> y;
  LabelCensus census;
};

// The largest feature index a file can hold, from its raw bytes: the largest INDEX of a token
// " INDEX:" (after a blank, outside '#' comments). Every valid feature is such a token; a token
// that is not a valid feature makes the parse fail anyway. Fed the file a piece of whole lines at
// a time. It runs over every byte of the file, so it looks for the ':' eight bytes at a time
// (as count_byte does) and reads back from each; a piece with a comment is read byte by byte.
class IndexBound {
 public:
  void scan(const char* p, std::size_t size) {
    if (std::memchr(p, '#', size) != nullptr) return scan_with_comments(p, size);
    constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
    constexpr std::uint64_t kColons = 0x0101010101010101ULL * ':';
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p + i, 8);
      const std::uint64_t x = word ^ kColons;  // zero bytes where a ':' is
      if ((~(((x & kLow7) + kLow7) | x | kLow7)) == 0) continue;
      for (std::size_t k = i; k < i + 8; ++k)
        if (p[k] == ':') colon(p, k);
    }
    for (; i < size; ++i)
      if (p[i] == ':') colon(p, i);
  }
  std::uint64_t largest() const { return largest_; }
  void merge(const IndexBound& other) { largest_ = std::max(largest_, other.largest_); }

 private:
  static bool is_digit(char c) { return static_cast<unsigned>(c - '0') < 10; }

  // A ':' at p[i] (p starts a line): the digits right before it, if a blank precedes them.
  void colon(const char* p, std::size_t i) {
    std::size_t start = i;
    while (start > 0 && is_digit(p[start - 1])) --start;
    if (start == i || start == 0 || !is_blank(p[start - 1])) return;
    if (i - start > 18) {  // far above any index a dense matrix could have
      largest_ = std::numeric_limits<std::uint64_t>::max();
      return;
    }
    std::uint64_t v = 0;
    for (std::size_t k = start; k < i; ++k) v = v * 10 + static_cast<unsigned>(p[k] - '0');
    largest_ = std::max(largest_, v);
  }

  // Line by line, each cut at its '#'.
  void scan_with_comments(const char* p, std::size_t size) {
    const char* end = p + size;
    while (p != end) {
      const auto* newline = static_cast<const char*>(std::memchr(p, '\n', end - p));
      const char* line_end = newline != nullptr ? newline : end;
      const auto* hash = static_cast<const char*>(std::memchr(p, '#', line_end - p));
      const char* stop = hash != nullptr ? hash : line_end;
      for (const char* q = p; q != stop; ++q)
        if (*q == ':') colon(p, static_cast<std::size_t>(q - p));
      p = newline != nullptr ? newline + 1 : end;
    }
  }

  std::uint64_t largest_ = 0;
};

class LibsvmParser {
 public:
  LibsvmParser(const std::string& path, std::size_t dim) : path_(path), dim_(dim) {}

  // `threads` scan the text at once (the widest index is the largest of theirs).
  void reserve(FileLines& text, std::size_t threads) {
    std::vector<IndexBound> bounds(threads);
    const FileLines::Counts counts = text.count(
        ':', [&](std::size_t part, const char* p, std::size_t n) { bounds[part].scan(p, n); },
        threads);
    IndexBound bound;
    for (const IndexBound& b : bounds) bound.merge(b);
    const std::size_t lines = counts.newlines + 1;
    rows_.y.reserve(lines);
    // Dense at once, unless the rows would be far larger than the text (sparse data, whose
    // sparse form, about the text's size, is then small next to the dense rows) or too large
    // for the machine.
    const std::uint64_t width = dim_ > 0 ? dim_ : bound.largest();
    const double dense_bytes =
        static_cast<double>(lines) * static_cast<double>(width) * sizeof(double);
    if (width <= kMaxIndex && dense_size_fits(lines, static_cast<std::size_t>(width)) &&
        dense_bytes <= 4.0 * static_cast<double>(counts.bytes) + (1 << 20)) {
      width_ = static_cast<std::size_t>(width);
      dense_ = true;
      reserve_huge(x_, lines * width_);  // address space: only the rows written take memory
      return;
    }
    rows_.row_end.reserve(lines);
    rows_.index.reserve(counts.hits);
    rows_.value.reserve(counts.hits);
  }

  // Parses one line (already without its newline).
  void parse_line(const char* begin, const char* end, std::size_t line) {
    line_ = line;
    line_begin_ = begin;
    if (const void* hash = std::memchr(begin, '#', end - begin)) {
      end = static_cast<const char*>(hash);
    }
    const char* p = skip_blanks(begin, end);
    if (p == end) return;  // blank or comment-only

    const char* token_end = token_stop(p, end);
    parse_label(p, token_end);
    if (dense_) {
      row_ = x_.size();
      x_.resize(row_ + width_);
    }
    std::size_t previous = 0;
    for (p = skip_blanks(token_end, end); p != end; p = skip_blanks(token_end, end)) {
      token_end = parse_plain_feature(p, end, previous);
      if (token_end == nullptr) {
        token_end = token_stop(p, end);
        parse_feature(p, token_end, previous);
      }
    }
    if (!dense_) rows_.row_end.push_back(rows_.index.size());
    if (first_row_line_ == 0) first_row_line_ = line;
  }

  // A parser for a run of the file's lines, writing dense rows of `width` as `whole`, the
  // parser of the whole file, does (parse_dense_in_parallel); append() then adds its rows.
  void start_piece(std::size_t width) {
    dense_ = true;
    width_ = width;
  }
  // Adds a piece's rows and findings after this parser's, as if its lines had come next.
  void append(LibsvmParser& piece) {
    x_.insert(x_.end(), piece.x_.begin(), piece.x_.end());
    rows_.y.insert(rows_.y.end(), piece.rows_.y.begin(), piece.rows_.y.end());
    LabelCensus& c = rows_.census;
    const LabelCensus& p = piece.rows_.census;
    if (c.first_zero == 0) c.first_zero = p.first_zero;
    if (c.first_minus_one == 0) c.first_minus_one = p.first_minus_one;
    if (c.first_plus_one == 0) c.first_plus_one = p.first_plus_one;
    if (c.first_other == 0) {
      c.first_other = p.first_other;
      c.other_value = p.other_value;
    }
    if (first_row_line_ == 0) first_row_line_ = piece.first_row_line_;
    if (piece.widest_index_ > widest_index_) {  // the first line with the widest index wins
      widest_index_ = piece.widest_index_;
      widest_line_ = piece.widest_line_;
      widest_column_ = piece.widest_column_;
    }
  }

  SparseRows& rows() { return rows_; }
  // Dense rows (of width()) when dense(); else rows() holds them sparse.
  bool dense() const { return dense_; }
  std::size_t width() const { return width_; }
  std::vector<double>& x() { return x_; }
  std::size_t first_row_line() const { return first_row_line_; }
  std::size_t widest_index() const { return widest_index_; }
  std::size_t widest_line() const { return widest_line_; }
  std::size_t widest_column() const { return widest_column_; }

 private:
  static const char* skip_blanks(const char* p, const char* end) {
    while (p != end && is_blank(*p)) ++p;
    return p;
  }
  static const char* token_stop(const char* p, const char* end) {
    while (p != end && !is_blank(*p)) ++p;
    return p;
  }
  std::size_t column(const char* p) const { return static_cast<std::size_t>(p - line_begin_) + 1; }

  [[noreturn]] void fail(const char* at, const std::string& message) const {
    throw InputError(path_, line_, column(at), message);
  }

  void parse_label(const char* begin, const char* end) {
    double y = 0.0;
    switch (parse_number(begin, end, y)) {
      case NumberStatus::Ok:
        break;
      case NumberStatus::OutOfRange:
        fail(begin, "label " + quote_field(begin, end) + " is out of range for a double");
      case NumberStatus::NotNumber:
        fail(begin,
             "label " + quote_field(begin, end) + " is not a number" + label_hint(begin, end));
    }
    if (!std::isfinite(y)) throw_not_finite(y, path_, line_, column(begin), "label");
    rows_.y.push_back(y);
    count_label(rows_.census, y, line_);
  }

  // Why a first field might not be a number: the usual mistakes, named.
  static std::string label_hint(const char* begin, const char* end) {
    if (std::memchr(begin, ',', end - begin) != nullptr) {
      return " (is this a CSV file? use --format csv)";
    }
    if (std::memchr(begin, ':', end - begin) != nullptr) {
      return " (every line must start with its label)";
    }
    return "";
  }

  // The common case, a valid INDEX:VALUE with a plain decimal value, read in a single pass.
  // Returns the end of the token, or nullptr for anything else (qid, odd numbers, mistakes),
  // which parse_feature then reads or reports.
  const char* parse_plain_feature(const char* begin, const char* end, std::size_t& previous) {
    const char* p = begin;
    std::size_t index = 0;
    while (p != end && static_cast<unsigned>(*p - '0') < 10 && p - begin < 10) {
      index = index * 10 + static_cast<unsigned>(*p++ - '0');
    }
    if (p == begin || p == end || *p != ':') return nullptr;
    if (index == 0 || index <= previous || index > kMaxIndex || (dim_ > 0 && index > dim_)) {
      return nullptr;
    }
    double value = 0.0;
    const char* stop = scan_plain_decimal(p + 1, end, value);
    if (stop == nullptr || (stop != end && !is_blank(*stop))) return nullptr;
    previous = index;
    add_feature(begin, index, value);
    return stop;
  }

  void add_feature(const char* at, std::size_t index, double value) {
    if (index > widest_index_) {
      widest_index_ = index;
      widest_line_ = line_;
      widest_column_ = column(at);
    }
    if (dense_) {
      if (index > width_) throw Error("internal: a feature index above the file's bound");
      x_[row_ + index - 1] = value;
      return;
    }
    rows_.index.push_back(static_cast<std::uint32_t>(index));
    rows_.value.push_back(value);
  }

  void parse_feature(const char* begin, const char* end, std::size_t& previous) {
    const auto* colon = static_cast<const char*>(std::memchr(begin, ':', end - begin));
    // Quoted only on failure: building it for every feature would dominate the parse.
    auto token = [&] { return quote_field(begin, end); };
    if (colon == nullptr) fail(begin, "malformed feature " + token() + " (expected INDEX:VALUE)");
    if (colon - begin == 3 && std::memcmp(begin, "qid", 3) == 0) return;  // query ids: unused

    const std::size_t index = parse_index(begin, colon, end);
    if (index == 0) fail(begin, "feature index 0 (indices are 1-based)");
    if (dim_ > 0 && index > dim_) {
      fail(begin, "feature index " + std::to_string(index) + " is above the dimension " +
                      std::to_string(dim_) + " (--dim)");
    }
    if (index <= previous) {
      fail(begin,
           index == previous
               ? "feature index " + std::to_string(index) + " repeated (indices must be increasing)"
               : "feature index " + std::to_string(index) + " after " + std::to_string(previous) +
                     " (indices must be increasing)");
    }
    previous = index;

    const char* value_begin = colon + 1;
    double value = 0.0;
    if (value_begin == end) fail(begin, "missing value in feature " + token());
    switch (parse_number(value_begin, end, value)) {
      case NumberStatus::Ok:
        break;
      case NumberStatus::OutOfRange:
        fail(value_begin, "value " + quote_field(value_begin, end) + " in feature " + token() +
                              " is out of range for a double");
      case NumberStatus::NotNumber:
        fail(value_begin, "value " + quote_field(value_begin, end) + " in feature " + token() +
                              " is not a number");
    }
    if (!std::isfinite(value)) throw_not_finite(value, path_, line_, column(value_begin), "value");
    add_feature(begin, index, value);
  }

  // [begin, colon) is the index of the feature [begin, end).
  std::size_t parse_index(const char* begin, const char* colon, const char* end) const {
    if (begin == colon) {
      fail(begin,
           "missing feature index in " + quote_field(begin, end) + " (expected INDEX:VALUE)");
    }
    std::uint64_t index = 0;
    const std::from_chars_result r = std::from_chars(begin, colon, index);
    if (r.ptr == colon && (r.ec == std::errc::result_out_of_range || index > kMaxIndex)) {
      fail(begin, "feature index " + quote_field(begin, colon) + " is too large");
    }
    if (r.ec != std::errc() || r.ptr != colon) {
      fail(begin, "feature index " + quote_field(begin, colon) + " in " + quote_field(begin, end) +
                      " is not a positive integer");
    }
    return static_cast<std::size_t>(index);
  }

  const std::string& path_;
  std::size_t dim_;
  SparseRows rows_;
  bool dense_ = false;
  std::size_t width_ = 0;  // dense rows: the width they are written at
  std::size_t row_ = 0;    // dense rows: where the current row starts in x_
  std::vector<double> x_;
  std::size_t line_ = 0;
  const char* line_begin_ = nullptr;
  std::size_t first_row_line_ = 0;
  std::size_t widest_index_ = 0;
  std::size_t widest_line_ = 0;
  std::size_t widest_column_ = 0;
};

}  // namespace

namespace {

// Text of this many bytes or more (whole lines) goes to one thread at a time.
constexpr std::size_t kParallelBatch = std::size_t{8} << 20;

// One thread's share of a wave: consecutive lines, '\n'-separated, the first numbered `first`.
struct Batch {
  std::string text;
  std::size_t first = 0;
  std::optional<LibsvmParser> parser;
  std::exception_ptr failed;
};

// Dense rows parsed by `threads` threads: the main thread reads the lines into batches of about
// kParallelBatch bytes, a wave of one batch per thread is parsed at once, each by a parser of
// its own, and the batches are appended to `whole` in file order. The rows, labels and findings
// are those of parsing line after line; the error reported is the first in line order (a wave's
// batches are checked in order, and every earlier wave parsed whole).
void parse_dense_in_parallel(const std::string& path, std::size_t dim, LibsvmParser& whole,
                             FileLines& lines, std::size_t threads) {
  std::vector<Batch> wave(threads);
  const char* begin = nullptr;
  const char* end = nullptr;
  bool more = true;
  while (more) {
    std::size_t filled = 0;
    for (; filled < threads && more; ++filled) {
      Batch& b = wave[filled];
      b.text.clear();
      b.first = 0;
      b.failed = nullptr;
      while (b.text.size() < kParallelBatch) {
        if (!lines.next(begin, end)) {
          more = false;
          break;
        }
        if (b.first == 0) b.first = lines.number();
        b.text.append(begin, end);
        b.text.push_back('\n');
      }
      if (b.first == 0) break;  // no lines left for this batch
    }
    const auto parse = [&](std::size_t i) {
      Batch& b = wave[i];
      try {
        b.parser.emplace(path, dim);
        b.parser->start_piece(whole.width());
        std::size_t line = b.first;
        const char* p = b.text.data();
        const char* stop = p + b.text.size();
        while (p != stop) {
          const auto* newline = static_cast<const char*>(std::memchr(p, '\n', stop - p));
          b.parser->parse_line(p, newline, line++);
          p = newline + 1;
        }
      } catch (...) {
        b.failed = std::current_exception();
      }
    };
    std::vector<std::thread> helpers;
    helpers.reserve(filled);
    for (std::size_t i = 1; i < filled; ++i) {
      try {
        helpers.emplace_back(parse, i);
      } catch (...) {
        parse(i);  // no thread to be had: this one parses it
      }
    }
    if (filled > 0) parse(0);
    for (std::thread& h : helpers) h.join();
    for (std::size_t i = 0; i < filled; ++i) {
      if (wave[i].failed) std::rethrow_exception(wave[i].failed);
      whole.append(*wave[i].parser);
      wave[i].parser.reset();
    }
  }
}

}  // namespace

LoadedFile read_libsvm(const std::string& path, FileLines& lines, const LoadOptions& options) {
  LibsvmParser parser(path, options.dim);
  const std::size_t threads = options.threads > 0
                                  ? static_cast<std::size_t>(options.threads)
                                  : std::max(1u, std::thread::hardware_concurrency());
  parser.reserve(lines, threads);
  if (parser.dense() && threads > 1) {
    parse_dense_in_parallel(path, options.dim, parser, lines, threads);
  } else {
    const char* begin = nullptr;
    const char* end = nullptr;
    while (lines.next(begin, end)) parser.parse_line(begin, end, lines.number());
  }

  SparseRows& rows = parser.rows();
  const std::size_t n = rows.y.size();
  if (n == 0) throw InputError(path, 0, 0, "no data rows");

  LoadedFile out;
  out.info.format = FileFormat::Libsvm;
  out.info.first_row_line = parser.first_row_line();
  out.info.widest_index = parser.widest_index();
  out.info.widest_line = parser.widest_line();
  out.info.widest_column = parser.widest_column();

  const std::size_t dim = options.dim > 0 ? options.dim : parser.widest_index();
  check_dense_size(path, n, dim, out.info.widest_line, out.info.widest_column,
                   options.dim > 0 ? "the dimension " + std::to_string(dim) + " (--dim)"
                                   : "feature index " + std::to_string(dim));

  Shard<double>& s = out.shard;
  s.source = path;
  s.rows = n;
  s.dim = dim;
  if (parser.dense()) {
    // The bound is the widest index for every file that parses; narrowed in place should it
    // ever be above it (rows move to the front).
    s.x = std::move(parser.x());
    const std::size_t width = parser.width();
    if (dim < width) {
      for (std::size_t i = 1; i < n; ++i)
        std::memmove(s.x.data() + i * dim, s.x.data() + i * width, dim * sizeof(double));
      s.x.resize(n * dim);
    }
  } else {
    reserve_huge(s.x, n * dim);
    s.x.assign(n * dim, 0.0);
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double* row = s.x.data() + i * dim;
      for (; k < rows.row_end[i]; ++k) row[rows.index[k] - 1] = rows.value[k];
    }
  }
  s.y = std::move(rows.y);
  s.labels = rows.census;
  return out;
}

}  // namespace lag::detail
