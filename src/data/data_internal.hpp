// Pieces shared by the data readers (dataset.cpp, data_libsvm.cpp, data_csv.cpp, partition.cpp,
// labels.cpp). Not part of the public API: include/lag/dataset.hpp is.
#pragma once

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "lag/dataset.hpp"

namespace lag::detail {

// What a reader learned besides the rows, kept for messages that can only be made once every
// file is loaded (dimension reconciliation in load_shards).
struct FileInfo {
  FileFormat format = FileFormat::Libsvm;
  std::size_t first_row_line = 0;  // line of the first data row
  // LIBSVM: the largest feature index and where it first appears (0 when no row has features).
  std::size_t widest_index = 0;
  std::size_t widest_line = 0;
  std::size_t widest_column = 0;
};

struct LoadedFile {
  Shard<double> shard;
  FileInfo info;
};

// Calls the hook of set_file_open_hook (dataset.hpp), if any, with `path`.
void notify_file_open(const std::string& path);

// The whole file as bytes (after notify_file_open). Throws InputError (no line) when it cannot
// be read.
std::string read_text(const std::string& path);

// A data file's lines, read a piece (kPiece bytes, whole lines) at a time, so that a reader
// holds at most one piece of the text besides what it builds from it: a rank that reads its
// workers' files then holds about its share of the data. Lines are numbered from 1, come without
// the '\n' and a trailing '\r', after a UTF-8 byte-order mark is skipped; a line longer than a
// piece is read whole. A stream that is not a regular file (a pipe) is read whole at once, since
// it cannot be read twice. Opening: notify_file_open, then the errors of read_text; gzip and
// binary files are refused by their first bytes (InputError, no line).
class FileLines {
 public:
  static constexpr std::size_t kPiece = std::size_t{16} << 20;

  explicit FileLines(const std::string& path, std::size_t piece = kPiece);
  // The next line; valid until the next call.
  [[nodiscard]] bool next(const char*& begin, const char*& end);
  std::size_t number() const { return number_; }

  // Before the first next(): the newlines and the occurrences of `c` in the whole file, and its
  // size (after a byte-order mark), for reserving: one pass over it, which also shows `each`
  // all of its lines (whole lines, as next() reads them); the lines are then read from the start.
  // With `parts` > 1, each piece of the file is split into up to that many runs of whole lines
  // (one per kMinPartBytes), scanned at once by as many threads: each(part, p, size) is then
  // called concurrently for different parts (never for one part at a time twice), each part's
  // runs in file order.
  struct Counts {
    std::size_t newlines = 0;
    std::size_t hits = 0;
    std::size_t bytes = 0;
  };
  using PartScan = std::function<void(std::size_t part, const char* p, std::size_t size)>;
  Counts count(char c, const PartScan& each = nullptr, std::size_t parts = 1);
  // The smallest run a thread is given.
  static constexpr std::size_t kMinPartBytes = std::size_t{1} << 20;

 private:
  [[nodiscard]] bool fill();

  std::string path_;
  std::size_t piece_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  bool whole_ = false;  // not a regular file: read whole
  static constexpr std::size_t kUnknownSize = static_cast<std::size_t>(-1);
  std::size_t size_ = kUnknownSize;  // a regular file smaller than a piece: its size
  bool started_ = false, eof_ = false;
  std::string buf_;
  std::size_t pos_ = 0;        // the next line starts here
  std::size_t lines_end_ = 0;  // end of the whole lines in buf_ (a partial line may follow)
  std::size_t number_ = 0;
};

// Readers: the lines of `path`. The LIBSVM reader densifies to options.dim when set, else to the
// file's largest index.
LoadedFile read_libsvm(const std::string& path, FileLines& lines, const LoadOptions& options);
LoadedFile read_csv(const std::string& path, FileLines& lines, const LoadOptions& options);

// load_file, keeping the FileInfo.
LoadedFile load_one(const std::string& path, const LoadOptions& options);

// Occurrences of byte `c` in [p, p + size).
std::size_t count_byte(const char* p, std::size_t size, char c);

enum class NumberStatus { Ok, NotNumber, OutOfRange };

// Plain decimals ("-0.125", "3e-5") whose digits fit in 53 bits and whose power of ten is at
// most 22 in size: both are then exact doubles, so one multiplication or division rounds
// correctly, giving the very value from_chars would (Clinger's fast path). Data files are
// almost all such numbers, and this is several times quicker than the general parser.
// Reads the longest such number at p and returns the position after it, or nullptr (leaving
// `out` alone) when p does not start one; the caller checks what follows.
inline const char* scan_plain_decimal(const char* p, const char* end, double& out) {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0  // no excess precision (x87) to round twice
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const auto is_digit = [](char c) { return static_cast<unsigned>(c - '0') < 10; };
  const bool negative = p != end && *p == '-';
  if (p != end && (*p == '-' || *p == '+')) ++p;
  std::uint64_t mantissa = 0;
  const char* digits_begin = p;
  while (p != end && is_digit(*p)) mantissa = mantissa * 10 + static_cast<unsigned>(*p++ - '0');
  std::ptrdiff_t digits = p - digits_begin;
  std::ptrdiff_t exponent = 0;
  if (p != end && *p == '.') {
    const char* fraction_begin = ++p;
    while (p != end && is_digit(*p)) mantissa = mantissa * 10 + static_cast<unsigned>(*p++ - '0');
    digits += p - fraction_begin;
    exponent = -(p - fraction_begin);
  }
  // 19 digits cannot overflow the 64-bit mantissa (leading zeros count; rare enough).
  if (digits == 0 || digits > 19) return nullptr;
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative_exponent = p != end && *p == '-';
    if (p != end && (*p == '-' || *p == '+')) ++p;
    const char* exponent_begin = p;
    std::ptrdiff_t e = 0;
    while (p != end && is_digit(*p)) {
      if (p - exponent_begin == 4) return nullptr;
      e = e * 10 + (*p++ - '0');
    }
    if (p == exponent_begin) return nullptr;
    exponent += negative_exponent ? -e : e;
  }
  if (mantissa > (std::uint64_t{1} << 53) || exponent < -22 || exponent > 22) return nullptr;
  double v = static_cast<double>(mantissa);
  v = exponent < 0 ? v / kPow10[-exponent] : v * kPow10[exponent];
  out = negative ? -v : v;
  return p;
#else
  (void)p;
  (void)end;
  (void)out;
  return nullptr;
#endif
}

// parse_number for the cases the fast path leaves (from_chars; see parse_number).
NumberStatus parse_number_general(const char* begin, const char* end, double& out);

// Parses [begin, end) as a decimal floating-point number (a leading '+' allowed, "nan"/"inf"
// accepted so that the caller can name them), requiring the whole range to be consumed.
// Independent of the locale. A value too small for a double reads as 0 (or a subnormal).
inline NumberStatus parse_number(const char* begin, const char* end, double& out) {
  double v = 0.0;
  const char* stop = scan_plain_decimal(begin, end, v);
  if (stop != nullptr && stop == end) {
    out = v;
    return NumberStatus::Ok;
  }
  return parse_number_general(begin, end, out);
}

// Throws InputError at (line, column) saying that `value` (NaN or infinite) is not allowed;
// `what` names it ("value", "label"). Callers test std::isfinite first, so that the message is
// only built for the bad value.
[[noreturn]] void throw_not_finite(double value, const std::string& path, std::size_t line,
                                   std::size_t column, const std::string& what);

// A field for a message: quoted, control bytes escaped, long fields cut short.
std::string quote_field(const char* begin, const char* end);

// Shortest text that reads back as `value` ("2", "0.5", "-1e-07").
std::string format_number(double value);

// Records that label `y` occurs on `line` (first occurrence of each kind only).
void count_label(LabelCensus& census, double y, std::size_t line);

// Throws InputError at (line, column) when a rows x dim matrix of doubles cannot reasonably be
// held: overflow, or more bytes than the machine's physical memory. Densifying a LIBSVM file
// with a stray huge index would otherwise end in the out-of-memory killer, not a message.
void check_dense_size(const std::string& path, std::size_t rows, std::size_t dim, std::size_t line,
                      std::size_t column, const std::string& cause);
// Whether check_dense_size would pass.
bool dense_size_fits(std::size_t rows, std::size_t dim);

// FOR TESTS (the fuzz harnesses): the memory, in bytes, that check_dense_size and
// dense_size_fits weigh a dense matrix against instead of the machine's physical memory, so that
// a tiny file naming a huge index is refused at a size a fuzzer can afford; 0 (the default): the
// physical memory.
void set_memory_limit_for_tests(double bytes);

// The file named by a shard's source, without the "[rows a-b]" / "[part m of M, shuffled]" /
// "[label part m of M: classes ...]" suffix that the partitions append (label checks point at
// the file, not the part).
std::string source_file(const std::string& source);

}  // namespace lag::detail
