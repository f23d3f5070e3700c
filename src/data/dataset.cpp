// Loading data files into shards: format choice, file reading, the number parser and messages
// shared by the LIBSVM and CSV readers, and the dimension reconciliation across shards.
#include <algorithm>
#include <atomic>
#include <bitset>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "data/data_internal.hpp"
#include "lag/error.hpp"
#include "lag/huge_pages.hpp"
#include "lag/process_group.hpp"
#include "mpi/worker_blocks.hpp"

namespace lag {
namespace detail {

// ---- reading ---------------------------------------------------------------

std::string read_text(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw InputError(path, 0, 0, "is a directory, not a data file");

  notify_file_open(path);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw InputError(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);

  // Read straight into the string. The size is a hint only (pipes and /proc files have none),
  // so the buffer still grows if the file turns out longer; one spare byte lets the first
  // short read find the end without another allocation.
  const std::uintmax_t hint = fs::file_size(path, ec);
  std::string text;
  try {
    text.resize(ec ? std::size_t{1} << 16 : static_cast<std::size_t>(hint) + 1);
    std::size_t used = 0;
    for (;;) {
      const std::size_t got = std::fread(&text[used], 1, text.size() - used, file);
      used += got;
      if (used < text.size()) break;  // a short read: end of file or an error
      text.resize(text.size() * 2);
    }
    text.resize(used);
  } catch (const std::bad_alloc&) {
    throw InputError(path, 0, 0, "too large to read into memory");
  }
  if (std::ferror(file)) {
    throw InputError(path, 0, 0, std::string("read error: ") + std::strerror(errno));
  }
  return text;
}

namespace {

// Compressed or binary files would otherwise fail on line 1 with a baffling "non-numeric" byte
// soup; say what they are instead.
void check_is_text(const std::string& path, const std::string& text) {
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
      static_cast<unsigned char>(text[1]) == 0x8b) {
    throw InputError(path, 0, 0, "is gzip-compressed; decompress it first");
  }
  const std::size_t probe = std::min<std::size_t>(text.size(), 4096);
  if (std::memchr(text.data(), '\0', probe) != nullptr) {
    throw InputError(path, 0, 0, "is not a text file (it contains NUL bytes)");
  }
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

FileLines::FileLines(const std::string& path, std::size_t piece)
    : path_(path), piece_(std::max<std::size_t>(piece, 1)), file_(nullptr, &std::fclose) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw InputError(path, 0, 0, "is a directory, not a data file");
  notify_file_open(path);
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) throw InputError(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
  whole_ = !fs::is_regular_file(path, ec);
  if (!whole_) {
    const std::uintmax_t size = fs::file_size(path, ec);
    if (!ec && size < piece_) size_ = static_cast<std::size_t>(size);
  }
}

bool FileLines::fill() {
  buf_.erase(0, lines_end_);  // what was returned goes; a partial line moves to the front
  pos_ = lines_end_ = 0;
  if (eof_) {
    lines_end_ = buf_.size();
    return !buf_.empty();
  }
  try {
    for (;;) {
      const std::size_t old = buf_.size();
      // The first read takes at least what check_is_text looks at.
      // A file smaller than a piece is read at once at its size (a byte more to see its end),
      // not into a piece-sized buffer; should it have grown, the reads go on piece by piece.
      const std::size_t first = size_ != kUnknownSize ? std::max<std::size_t>(size_ + 1, 4096)
                                                      : std::max<std::size_t>(piece_, 4096);
      const std::size_t want = whole_     ? std::max<std::size_t>(old, std::size_t{1} << 16)
                               : started_ ? piece_
                                          : first;
      buf_.resize(old + want);
      const std::size_t got = std::fread(&buf_[old], 1, want, file_.get());
      buf_.resize(old + got);
      if (got < want) {  // a short read: end of file or an error
        if (std::ferror(file_.get()))
          throw InputError(path_, 0, 0, std::string("read error: ") + std::strerror(errno));
        eof_ = true;
      }
      if (!started_) {
        started_ = true;
        check_is_text(path_, buf_);
        if (buf_.size() >= 3 && std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) buf_.erase(0, 3);
      }
      if (eof_) {
        lines_end_ = buf_.size();
        return !buf_.empty();
      }
      if (whole_) continue;  // a stream is read to its end at once: it cannot be read twice
      const std::size_t last = buf_.rfind('\n');
      if (last != std::string::npos && last >= old) {
        lines_end_ = last + 1;
        return true;
      }
      // No newline in the new bytes yet: a line longer than a piece. Read on.
    }
  } catch (const std::bad_alloc&) {
    throw InputError(path_, 0, 0, "too large to read into memory");
  }
}

bool FileLines::next(const char*& begin, const char*& end) {
  if (pos_ == lines_end_ && !fill()) return false;
  const char* data = buf_.data();
  const auto* newline = static_cast<const char*>(std::memchr(data + pos_, '\n', lines_end_ - pos_));
  begin = data + pos_;
  end = newline != nullptr ? newline : data + lines_end_;
  pos_ = newline != nullptr ? static_cast<std::size_t>(newline - data) + 1 : lines_end_;
  if (end != begin && end[-1] == '\r') --end;
  ++number_;
  return true;
}

FileLines::Counts FileLines::count(char c, const PartScan& each, std::size_t parts) {
  Counts n;
  // Whole lines [p, p + size) split into `parts` runs of whole lines, counted (and shown to
  // `each`) at once, one thread per run: the counts add up and `each` keeps one state per part,
  // so the result is that of one pass whatever the split.
  parts = std::max<std::size_t>(parts, 1);
  std::vector<Counts> part_counts(parts);
  const auto add = [&](const char* p, std::size_t size) {
    // As many runs as there are kMinPartBytes in the piece, up to `parts`.
    const std::size_t k = std::clamp<std::size_t>(size / kMinPartBytes, 1, parts);
    std::vector<std::pair<const char*, std::size_t>> runs;
    const char* start = p;
    const char* const end = p + size;
    for (std::size_t i = 1; i <= k; ++i) {
      const char* stop = i == k ? end : p + size * i / k;
      if (stop < start) stop = start;
      if (i < k) {
        const void* nl = std::memchr(stop, '\n', static_cast<std::size_t>(end - stop));
        stop = nl != nullptr ? static_cast<const char*>(nl) + 1 : end;
      }
      // (A line longer than a run swallows the next split points: no empty runs.)
      if (stop > start || runs.empty())
        runs.emplace_back(start, static_cast<std::size_t>(stop - start));
      start = stop;
    }
    std::vector<std::exception_ptr> failed(runs.size());
    const auto scan = [&](std::size_t i) {
      try {
        const auto [q, m] = runs[i];
        part_counts[i].newlines += count_byte(q, m, '\n');
        part_counts[i].hits += count_byte(q, m, c);
        part_counts[i].bytes += m;
        if (each) each(i, q, m);
      } catch (...) {
        failed[i] = std::current_exception();  // rethrown below, in part order
      }
    };
    std::vector<std::thread> helpers;
    helpers.reserve(runs.size());
    for (std::size_t i = 1; i < runs.size(); ++i) {
      try {
        helpers.emplace_back(scan, i);
      } catch (...) {
        scan(i);  // no thread to be had: this one scans it
      }
    }
    scan(0);
    for (std::thread& h : helpers) h.join();
    for (const std::exception_ptr& e : failed)
      if (e) std::rethrow_exception(e);
  };
  const auto total = [&] {
    for (const Counts& k : part_counts) {
      n.newlines += k.newlines;
      n.hits += k.hits;
      n.bytes += k.bytes;
    }
    return n;
  };
  if (whole_) {                          // read it all now, and serve the lines from memory
    if (!started_ && !fill()) return n;  // empty
    add(buf_.data(), buf_.size());
    return total();
  }
  // Piece by piece as next() reads them (whole lines), then back to the start.
  while (fill()) {
    add(buf_.data(), lines_end_);
    pos_ = lines_end_;
  }
  if (std::fseek(file_.get(), 0, SEEK_SET) != 0)
    throw InputError(path_, 0, 0, std::string("read error: ") + std::strerror(errno));
  buf_.clear();
  pos_ = lines_end_ = 0;
  started_ = eof_ = false;
  return total();
}

std::size_t count_byte(const char* p, std::size_t size, char c) {
  // Eight bytes at a time: this runs over every byte of the file (twice for LIBSVM), and a
  // byte loop, or memchr once per hit when hits are dense (every feature has a ':'), costs a
  // noticeable share of the parse.
  constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  const std::uint64_t pattern = 0x0101010101010101ULL * static_cast<unsigned char>(c);
  const char* end = p + size;
  std::size_t n = 0;
  for (; end - p >= 8; p += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, 8);
    const std::uint64_t x = word ^ pattern;  // zero bytes where c was
    // High bit set exactly in the zero bytes of x; no carry crosses a byte.
    const std::uint64_t zero = ~(((x & kLow7) + kLow7) | x | kLow7);
    n += std::bitset<64>(zero).count();
  }
  for (; p != end; ++p) n += *p == c ? 1 : 0;
  return n;
}

// ---- numbers ---------------------------------------------------------------

namespace {

// strtod on a private NUL-terminated copy: the field in the file is not terminated where it
// ends, and strtod would read on.
double strtod_copy(const char* begin, const char* end, const char** stop) {
  const std::string copy(begin, end);
  char* copy_stop = nullptr;
  const double v = std::strtod(copy.c_str(), &copy_stop);
  *stop = begin + (copy_stop - copy.c_str());
  return v;
}

}  // namespace

NumberStatus parse_number_general(const char* begin, const char* end, double& out) {
  // from_chars rejects the '+' that LIBSVM labels often carry ("+1").
  if (end - begin > 1 && *begin == '+' && begin[1] != '+' && begin[1] != '-') ++begin;
  if (begin == end) return NumberStatus::NotNumber;
#if defined(__cpp_lib_to_chars)
  const std::from_chars_result r = std::from_chars(begin, end, out);
  if (r.ptr != end) return NumberStatus::NotNumber;
  if (r.ec == std::errc()) return NumberStatus::Ok;
  if (r.ec != std::errc::result_out_of_range) return NumberStatus::NotNumber;
  // Out of range covers underflow too; a tiny value is fine as 0 or a subnormal, so let strtod
  // decide which it was.
  const char* stop = nullptr;
  const double v = strtod_copy(begin, end, &stop);
  if (std::isinf(v)) return NumberStatus::OutOfRange;
  out = v;
  return NumberStatus::Ok;
#else
  // Without floating-point from_chars: strtod, rejecting the forms it accepts beyond decimal.
  if (std::isspace(static_cast<unsigned char>(*begin))) return NumberStatus::NotNumber;
  const char* stop = nullptr;
  errno = 0;
  const double v = strtod_copy(begin, end, &stop);
  if (stop != end) return NumberStatus::NotNumber;
  if (std::memchr(begin, 'x', end - begin) || std::memchr(begin, 'X', end - begin)) {
    return NumberStatus::NotNumber;
  }
  if (errno == ERANGE && std::isinf(v)) return NumberStatus::OutOfRange;
  out = v;
  return NumberStatus::Ok;
#endif
}

void throw_not_finite(double value, const std::string& path, std::size_t line, std::size_t column,
                      const std::string& what) {
  if (std::isnan(value)) throw InputError(path, line, column, "NaN " + what);
  throw InputError(path, line, column, "infinite " + what);
}

std::string quote_field(const char* begin, const char* end) {
  constexpr std::ptrdiff_t kMaxShown = 40;
  const bool cut = end - begin > kMaxShown;
  if (cut) end = begin + kMaxShown;
  std::string s = "'";
  for (const char* p = begin; p != end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    } else {
      s += *p;
    }
  }
  s += cut ? "...'" : "'";
  return s;
}

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[40];
  // Whole numbers as integers ("10", not "1e+01"), the rest in the shortest exact form.
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

void count_label(LabelCensus& census, double y, std::size_t line) {
  if (y == 0.0) {
    if (census.first_zero == 0) census.first_zero = line;
  } else if (y == 1.0) {
    if (census.first_plus_one == 0) census.first_plus_one = line;
  } else if (y == -1.0) {
    if (census.first_minus_one == 0) census.first_minus_one = line;
  } else if (census.first_other == 0) {
    census.first_other = line;
    census.other_value = y;
  }
}

namespace {

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  return buf;
}

std::atomic<double> memory_limit_for_tests{0.0};

// Physical memory in bytes (or the limit set for tests), 0 when unknown.
double physical_memory() {
  const double limit = memory_limit_for_tests.load(std::memory_order_relaxed);
  if (limit > 0.0) return limit;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    return static_cast<double>(pages) * static_cast<double>(page_size);
  }
#endif
  return 0.0;
}

}  // namespace

void set_memory_limit_for_tests(double bytes) {
  memory_limit_for_tests.store(bytes, std::memory_order_relaxed);
}

bool dense_size_fits(std::size_t rows, std::size_t dim) {
  const std::size_t max_elements = std::numeric_limits<std::size_t>::max() / sizeof(double);
  if (dim != 0 && rows > max_elements / dim) return false;
  const double bytes = static_cast<double>(rows) * static_cast<double>(dim) * sizeof(double);
  const double memory = physical_memory();
  return !(memory > 0.0 && bytes > memory);
}

void check_dense_size(const std::string& path, std::size_t rows, std::size_t dim, std::size_t line,
                      std::size_t column, const std::string& cause) {
  const std::string shape = std::to_string(rows) + " x " + std::to_string(dim);
  const std::size_t max_elements = std::numeric_limits<std::size_t>::max() / sizeof(double);
  if (dim != 0 && rows > max_elements / dim) {
    throw InputError(path, line, column,
                     cause + " makes the dense matrix " + shape + ", too large to address");
  }
  const double bytes = static_cast<double>(rows) * static_cast<double>(dim) * sizeof(double);
  const double memory = physical_memory();
  if (memory > 0.0 && bytes > memory) {
    throw InputError(path, line, column,
                     cause + " makes the dense matrix " + shape + " (" + gigabytes(bytes) +
                         "), more than this machine's memory (" + gigabytes(memory) + ")");
  }
}

// ---- loading ---------------------------------------------------------------

LoadedFile load_one(const std::string& path, const LoadOptions& options) {
  FileFormat format = options.format;
  if (format == FileFormat::Auto) {
    format = lower_extension(path) == ".csv" ? FileFormat::Csv : FileFormat::Libsvm;
  }
  FileLines lines(path);
  try {
    if (format == FileFormat::Csv) return read_csv(path, lines, options);
    return read_libsvm(path, lines, options);
  } catch (const std::bad_alloc&) {
    throw InputError(path, 0, 0, "not enough memory to load it");
  }
}

}  // namespace detail

namespace {

using detail::LoadedFile;

// Re-lays a shard's rows out with a wider stride, zero-filling the new trailing features. Rows
// move from the last to the first, so no row is overwritten before it has moved: row i's new
// place starts at or after its old one and ends before row i+1's new place.
void widen(Shard<double>& s, std::size_t dim) {
  if (s.dim == dim) return;
  const std::size_t old_dim = s.dim;
  reserve_huge(s.x, s.rows * dim);
  s.x.resize(s.rows * dim);
  double* x = s.x.data();
  for (std::size_t i = s.rows; i-- > 0;) {
    double* to = x + i * dim;
    if (old_dim > 0) std::memmove(to, x + i * old_dim, old_dim * sizeof(double));
    std::fill(to + old_dim, to + dim, 0.0);
  }
  s.dim = dim;
}

// What reconcile_dim needs to know of one file: its shape and where its widest row is. Every
// process of a group gets these for all files, also those that other processes read.
struct FileShape {
  std::string source;
  std::size_t rows = 0;
  std::size_t dim = 0;  // the file's own: CSV columns - 1, LIBSVM largest index (or --dim)
  detail::FileInfo info;
};

FileShape shape_of(const LoadedFile& f) {
  return {f.shard.source, f.shard.rows, f.shard.dim, f.info};
}

// The common dimension. --dim has already been enforced by the readers. Otherwise CSV shards
// fix it (they must agree), and LIBSVM shards, which only say which features they use, are
// padded to it or, with no CSV shard, to the largest index anywhere. The dense size is checked
// against the machine's memory for `rows_here`, the rows this process will hold.
std::size_t reconcile_dim(const std::vector<FileShape>& files, const LoadOptions& options,
                          std::size_t rows_here) {
  if (options.dim > 0) return options.dim;

  const FileShape* csv = nullptr;
  for (const FileShape& f : files) {
    if (f.info.format != FileFormat::Csv) continue;
    if (csv == nullptr) {
      csv = &f;
    } else if (f.dim != csv->dim) {
      throw InputError(f.source, f.info.first_row_line, 0,
                       "rows have " + std::to_string(f.dim) + " features, but " + csv->source +
                           " has " + std::to_string(csv->dim) +
                           " (all shards need the same dimension)");
    }
  }

  std::size_t dim = 0;
  const FileShape* widest = nullptr;
  for (const FileShape& f : files) {
    if (f.info.format == FileFormat::Csv) continue;
    if (csv != nullptr && f.dim > csv->dim) {
      throw InputError(f.source, f.info.widest_line, f.info.widest_column,
                       "feature index " + std::to_string(f.info.widest_index) +
                           " is above the dimension " + std::to_string(csv->dim) +
                           " of the CSV shard " + csv->source);
    }
    if (widest == nullptr || f.dim > dim) {
      widest = &f;
      dim = f.dim;
    }
  }
  if (csv != nullptr) return csv->dim;

  if (dim == 0) {
    throw InputError(files.front().source, 0, 0,
                     files.size() == 1 ? "no features: every row holds only a label"
                                       : "no features in any file: every row holds only a label");
  }
  detail::check_dense_size(widest->source, rows_here, dim, widest->info.widest_line,
                           widest->info.widest_column,
                           "feature index " + std::to_string(dim) + " (over all files)");
  return dim;
}

// Every file's shape on every process, in worker order: each process sends those of its own.
std::vector<FileShape> exchange_shapes(ProcessGroup& group, const std::vector<LoadedFile>& own) {
  MessageWriter out;
  for (const LoadedFile& f : own) {
    const FileShape s = shape_of(f);
    out.put(s.source);
    out.put(static_cast<std::uint64_t>(s.rows));
    out.put(static_cast<std::uint64_t>(s.dim));
    out.put(static_cast<std::uint64_t>(s.info.format));
    out.put(static_cast<std::uint64_t>(s.info.first_row_line));
    out.put(static_cast<std::uint64_t>(s.info.widest_index));
    out.put(static_cast<std::uint64_t>(s.info.widest_line));
    out.put(static_cast<std::uint64_t>(s.info.widest_column));
  }
  std::vector<FileShape> shapes;
  for (const std::string& part : all_gather(group, out.bytes())) {
    MessageReader in(part);
    while (!in.done()) {
      FileShape s;
      s.source = in.str();
      s.rows = in.size();
      s.dim = in.size();
      s.info.format = static_cast<FileFormat>(in.u64());
      s.info.first_row_line = in.size();
      s.info.widest_index = in.size();
      s.info.widest_line = in.size();
      s.info.widest_column = in.size();
      shapes.push_back(std::move(s));
    }
  }
  return shapes;
}

}  // namespace

FileFormat parse_file_format(const std::string& name) {
  if (name == "auto") return FileFormat::Auto;
  if (name == "libsvm" || name == "svmlight") return FileFormat::Libsvm;
  if (name == "csv") return FileFormat::Csv;
  throw Error("unknown data format '" + name + "' (expected auto, libsvm, svmlight or csv)");
}

Shard<double> load_file(const std::string& path, const LoadOptions& options) {
  return detail::load_one(path, options).shard;
}

namespace {

// The files, parsed up to options.threads at a time (each by one thread, start to end); the
// first failure in file order is thrown, after every thread has stopped, so the outcome does not
// depend on the thread count or on which thread failed first.
std::vector<LoadedFile> load_in_parallel(const std::vector<std::string>& paths,
                                         const LoadOptions& options) {
  const std::size_t n = paths.size();
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t total =
      options.threads > 0 ? static_cast<std::size_t>(options.threads) : hardware;
  const std::size_t threads = std::min<std::size_t>(n, total);
  // The threads left over go to the files' own pieces (one large file: all of them).
  LoadOptions each = options;
  each.threads = static_cast<int>(std::max<std::size_t>(1, total / std::max<std::size_t>(n, 1)));
  std::vector<std::optional<LoadedFile>> loaded(n);
  std::vector<std::exception_ptr> failed(n);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        loaded[i] = detail::load_one(paths[i], each);
      } catch (...) {
        failed[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running take the rest
    }
  }
  work();
  for (std::thread& h : helpers) h.join();
  std::vector<LoadedFile> files;
  files.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (failed[i]) std::rethrow_exception(failed[i]);
    files.push_back(std::move(*loaded[i]));
  }
  return files;
}

}  // namespace

Dataset<double> load_shards(const std::vector<std::string>& paths, const LoadOptions& options) {
  return load_shards(paths, options, single_process());
}

Dataset<double> load_shards(const std::vector<std::string>& paths, const LoadOptions& options,
                            ProcessGroup& group, std::vector<std::size_t>* rows) {
  if (paths.empty()) throw Error("no data files to load");
  const int M = static_cast<int>(paths.size());
  const WorkerRange own = own_workers(group, M);
  std::vector<LoadedFile> files;
  agree(group, [&] {
    files = load_in_parallel(
        std::vector<std::string>(paths.begin() + own.first, paths.begin() + own.end), options);
  });
  const std::vector<FileShape> shapes = exchange_shapes(group, files);
  std::size_t rows_here = 0;
  for (const LoadedFile& f : files) rows_here += f.shard.rows;

  Dataset<double> data;
  data.shards.resize(static_cast<std::size_t>(M));
  agree(group, [&] {
    data.dim = reconcile_dim(shapes, options, rows_here);
    for (std::size_t i = 0; i < files.size(); ++i) {
      Shard<double>& s = files[i].shard;
      try {
        widen(s, data.dim);
      } catch (const std::bad_alloc&) {
        throw InputError(
            s.source, 0, 0,
            "not enough memory to pad its rows to " + std::to_string(data.dim) + " features");
      }
      data.shards[static_cast<std::size_t>(own.first) + i] = std::move(s);
    }
  });
  for (int m = 0; m < M; ++m) {
    if (own.holds(m)) continue;
    Shard<double>& s = data.shards[static_cast<std::size_t>(m)];
    s.source = shapes[static_cast<std::size_t>(m)].source;
    s.dim = data.dim;
  }
  if (rows) {
    rows->clear();
    for (const FileShape& s : shapes) rows->push_back(s.rows);
  }
  return data;
}

void scatter_shards(ProcessGroup& group, Dataset<double>& data, std::vector<std::size_t>* rows) {
  const int R = group.size();
  if (R == 1) {
    if (rows) {
      rows->clear();
      for (const auto& s : data.shards) rows->push_back(s.rows);
    }
    return;
  }
  // What every process learns of every shard, from rank 0.
  MessageWriter out;
  if (group.root()) {
    out.put(static_cast<std::uint64_t>(data.workers()));
    out.put(static_cast<std::uint64_t>(data.dim));
    for (const Shard<double>& s : data.shards) {
      out.put(s.source);
      out.put(static_cast<std::uint64_t>(s.rows));
      out.put(static_cast<std::uint64_t>(s.labels.first_zero));
      out.put(static_cast<std::uint64_t>(s.labels.first_minus_one));
      out.put(static_cast<std::uint64_t>(s.labels.first_plus_one));
      out.put(static_cast<std::uint64_t>(s.labels.first_other));
      out.put(s.labels.other_value);
    }
  }
  std::string header = out.bytes();
  broadcast_string(group, header);

  MessageReader in(header);
  const int M = static_cast<int>(in.u64());
  const std::size_t dim = in.size();
  std::vector<std::size_t> counts;
  if (!group.root()) {
    data = Dataset<double>{};
    data.dim = dim;
    data.shards.resize(static_cast<std::size_t>(M));
  }
  for (Shard<double>& s : data.shards) {
    s.source = in.str();
    counts.push_back(in.size());
    s.dim = dim;
    s.labels.first_zero = in.size();
    s.labels.first_minus_one = in.size();
    s.labels.first_plus_one = in.size();
    s.labels.first_other = in.size();
    s.labels.other_value = in.f64();
  }

  const auto shard = [&](int m) -> Shard<double>& {
    return data.shards[static_cast<std::size_t>(m)];
  };
  if (group.root()) {
    for (int r = 1; r < R; ++r) {
      const mpi::WorkerBlock b = mpi::worker_block(M, R, r);
      for (int m = b.first; m < b.end(); ++m) {
        Shard<double>& s = shard(m);
        group.send(s.x.data(), s.x.size() * sizeof(double), r);
        group.send(s.y.data(), s.y.size() * sizeof(double), r);
        s = Shard<double>{s.source, 0, dim, {}, {}, {}};  // sent: free its rows here
      }
    }
  } else {
    const WorkerRange own = own_workers(group, M);
    for (int m = own.first; m < own.end; ++m) {
      Shard<double>& s = shard(m);
      s.rows = counts[static_cast<std::size_t>(m)];
      reserve_huge(s.x, s.rows * dim);
      s.x.resize(s.rows * dim);
      s.y.resize(s.rows);
      group.receive(s.x.data(), s.x.size() * sizeof(double), 0);
      group.receive(s.y.data(), s.y.size() * sizeof(double), 0);
    }
  }
  if (rows) *rows = counts;
}

namespace {
std::atomic<FileOpenHook> file_open_hook{nullptr};
}  // namespace

FileOpenHook set_file_open_hook(FileOpenHook hook) { return file_open_hook.exchange(hook); }

namespace detail {
void notify_file_open(const std::string& path) {
  if (const FileOpenHook hook = file_open_hook.load()) hook(path);
}
}  // namespace detail

}  // namespace lag
