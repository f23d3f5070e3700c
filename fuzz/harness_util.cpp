#include "harness_util.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "data/data_internal.hpp"

namespace lag::fuzz {

void init_harness() {
  static const bool done = [] {
    detail::set_memory_limit_for_tests(256.0 * (1 << 20));
    return true;
  }();
  (void)done;
}

InputFile::InputFile(const std::string& name) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = ".";
  path_ = (dir / ("lag-fuzz-" + std::to_string(::getpid()) + "-" + name)).string();
}

InputFile::~InputFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void InputFile::write(const void* data, std::size_t size) const {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path_.c_str(), "wb"), &std::fclose);
  if (!f || (size > 0 && std::fwrite(data, 1, size, f.get()) != size)) {
    throw std::runtime_error("cannot write the fuzz input to " + path_);
  }
}

void require(bool ok, const char* what) {
  if (!ok) throw InvariantFailure(what);
}

void require(bool ok, const char* context, const char* what) {
  if (!ok) throw InvariantFailure(std::string(context) + ": " + what);
}

void check_shard(const Shard<double>& s, bool lines) {
  require(s.rows > 0, "a shard with no rows was accepted");
  require(s.y.size() == s.rows, "y.size() != rows");
  require(s.dim == 0 || s.rows <= s.x.max_size() / s.dim, "rows * dim overflows");
  require(s.x.size() == s.rows * s.dim, "x.size() != rows * dim");
  for (const double v : s.x) require(std::isfinite(v), "a non-finite feature value was accepted");
  for (const double v : s.y) require(std::isfinite(v), "a non-finite label was accepted");
  if (!lines) return;
  // Every label is counted under its kind, at a line; the kinds absent have no line.
  bool zero = false, minus_one = false, plus_one = false, other = false;
  for (const double v : s.y) {
    zero = zero || v == 0.0;
    plus_one = plus_one || v == 1.0;
    minus_one = minus_one || v == -1.0;
    other = other || (v != 0.0 && v != 1.0 && v != -1.0);
  }
  require(zero == (s.labels.first_zero != 0), "label census: zero labels");
  require(plus_one == (s.labels.first_plus_one != 0), "label census: +1 labels");
  require(minus_one == (s.labels.first_minus_one != 0), "label census: -1 labels");
  require(other == (s.labels.first_other != 0), "label census: other labels");
}

}  // namespace lag::fuzz
