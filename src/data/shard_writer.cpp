// Writing a data set as one file per worker (`lag gen`). Numbers are printed with 17 significant
// digits, enough for every double to read back bit-for-bit, and without the locale (to_chars),
// so a generated file loads to exactly the data that was generated.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "lag/error.hpp"
#include "lag/synthetic.hpp"

namespace lag {
namespace {

// Append v as "%.17g" would print it (in the C locale).
void append_double(std::string& out, double v) {
  char buf[40];
#if defined(__cpp_lib_to_chars)
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
  out.append(buf, res.ptr);
#else
  // Fallback for standard libraries without floating-point to_chars; the program never calls
  // setlocale, so the decimal point is '.'.
  const int len = std::snprintf(buf, sizeof buf, "%.17g", v);
  out.append(buf, static_cast<std::size_t>(len));
#endif
}

void append_size(std::string& out, std::size_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Buffered writer over stdio: one fwrite per ~1 MiB instead of one stream call per number.
class FileWriter {
 public:
  explicit FileWriter(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr) fail("cannot open for writing");
    buf_.reserve(kFlushAt + 4096);
  }
  ~FileWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  std::string& buffer() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= kFlushAt) flush();
  }
  void close() {
    flush();
    std::FILE* f = file_;
    file_ = nullptr;
    // fclose reports write errors that the kernel deferred (a full disk, for instance).
    if (std::fclose(f) != 0) fail("cannot write");
  }

 private:
  static constexpr std::size_t kFlushAt = std::size_t{1} << 20;

  void flush() {
    if (buf_.empty()) return;
    if (std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) fail("cannot write");
    buf_.clear();
  }
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    throw Error(std::string(what) + " '" + path_ + "': " + std::strerror(err));
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buf_;
};

// The loaders reject NaN and infinities, so writing one would produce a file that cannot be read.
void check_finite(double v, const Shard<double>& s, std::size_t row) {
  if (!std::isfinite(v)) {
    throw Error("cannot write " + s.source + ": row " + std::to_string(row + 1) +
                " holds a non-finite value");
  }
}

}  // namespace

std::vector<std::string> write_shards(const Dataset<double>& data, const std::string& dir,
                                      FileFormat format) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create directory '" + dir + "': " + ec.message());

  const bool csv = format == FileFormat::Csv;
  const char* ext = csv ? ".csv" : ".svm";
  // Zero-pad to the width of the worker count (at least 2), so that sorting by name, which is
  // how a directory given to --data is expanded, keeps worker order.
  const std::size_t width = std::max<std::size_t>(2, std::to_string(data.shards.size()).size());

  std::vector<std::string> paths;
  paths.reserve(data.shards.size());
  for (std::size_t m = 0; m < data.shards.size(); ++m) {
    const Shard<double>& s = data.shards[m];
    if (s.x.size() != s.rows * s.dim || s.y.size() != s.rows) {
      throw Error("cannot write " + s.source + ": inconsistent shard shape");
    }
    std::string number = std::to_string(m + 1);
    number.insert(0, width - number.size(), '0');
    const std::string path = (fs::path(dir) / ("shard-" + number + ext)).string();

    FileWriter out(path);
    std::string& buf = out.buffer();
    for (std::size_t i = 0; i < s.rows; ++i) {
      const double* row = s.row(i);
      check_finite(s.y[i], s, i);
      append_double(buf, s.y[i]);
      for (std::size_t j = 0; j < s.dim; ++j) {
        const double v = row[j];
        check_finite(v, s, i);
        if (csv) {
          buf.push_back(',');
          append_double(buf, v);
        } else if (v != 0.0 || j + 1 == s.dim) {
          // Sparse rows, except that the last feature is always written: a reader that infers
          // the dimension from the largest index then gets it right even when trailing
          // features are zero.
          buf.push_back(' ');
          append_size(buf, j + 1);
          buf.push_back(':');
          append_double(buf, v);
        }
      }
      buf.push_back('\n');
      out.maybe_flush();
    }
    out.close();
    paths.push_back(path);
  }
  return paths;
}

}  // namespace lag
