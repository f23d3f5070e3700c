// Pieces shared by the data readers (dataset.cpp, data_libsvm.cpp, data_csv.cpp, partition.cpp,
// labels.cpp). Not part of the public API: include/lag/dataset.hpp is.
#pragma once

#include <cstddef>
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

// The whole file as bytes. Throws InputError (no line) when it cannot be read.
std::string read_text(const std::string& path);

// Readers: `text` is the file's content, `path` only names it in messages. The LIBSVM reader
// densifies to options.dim when set, else to the file's largest index; it takes the text by
// value so that it can free it before allocating the dense matrix.
LoadedFile read_libsvm(const std::string& path, std::string text, const LoadOptions& options);
LoadedFile read_csv(const std::string& path, const std::string& text, const LoadOptions& options);

// load_file, keeping the FileInfo.
LoadedFile load_one(const std::string& path, const LoadOptions& options);

// Walks a text line by line (1-based numbers), without the '\n' and a trailing '\r', after
// skipping a UTF-8 byte-order mark.
class LineReader {
 public:
  explicit LineReader(const std::string& text);
  bool next(const char*& begin, const char*& end);
  std::size_t number() const { return number_; }

 private:
  const char* pos_;
  const char* end_;
  std::size_t number_ = 0;
};

// Number of lines, an upper bound on the rows, for reserving.
std::size_t count_lines(const std::string& text);

enum class NumberStatus { Ok, NotNumber, OutOfRange };

// Parses [begin, end) as a decimal floating-point number (a leading '+' allowed, "nan"/"inf"
// accepted so that the caller can name them), requiring the whole range to be consumed.
// Independent of the locale. A value too small for a double reads as 0 (or a subnormal).
NumberStatus parse_number(const char* begin, const char* end, double& out);

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
void check_dense_size(const std::string& path, std::size_t rows, std::size_t dim,
                      std::size_t line, std::size_t column, const std::string& cause);

// The file named by a shard's source, without the "[rows a-b]" / "[part m of M, shuffled]"
// suffix that partition_rows appends (label checks point at the file, not the part).
std::string source_file(const std::string& source);

}  // namespace lag::detail
