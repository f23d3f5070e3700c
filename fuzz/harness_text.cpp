// The LIBSVM and CSV readers. Beyond the shard's own promises (check_shard), each accepted file
// is loaded again in ways whose results follow from the first load: a wider --dim or another
// label column, and as one of several shards, whose dimension they must share.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "data/data_internal.hpp"
#include "harness_util.hpp"
#include "lag/error.hpp"

namespace lag::fuzz {
namespace {

Shard<double> must_load(const std::string& path, const LoadOptions& o, const std::string& why) {
  try {
    return load_file(path, o);
  } catch (const Error& e) {
    throw InvariantFailure(why + ", but it failed: " + e.what());
  }
}

bool loads(const std::string& path, const LoadOptions& o) {
  try {
    (void)load_file(path, o);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Row i of `wide` is row i of `s` followed by zeros.
void require_widened(const Shard<double>& s, const Shard<double>& wide, const char* what) {
  require(wide.rows == s.rows && wide.dim >= s.dim, what, "shape");
  require(wide.y == s.y, what, "labels differ");
  for (std::size_t i = 0; i < s.rows; ++i) {
    const double* a = s.row(i);
    const double* b = wide.row(i);
    require(std::equal(a, a + s.dim, b), what, "features differ");
    require(std::all_of(b + s.dim, b + wide.dim, [](double v) { return v == 0.0; }), what,
            "the widened features are not zero");
  }
}

}  // namespace

int fuzz_libsvm(const std::uint8_t* data, std::size_t size) {
  init_harness();
  static const InputFile file("input.svm");
  static const InputFile other("other.svm");
  file.write(data, size);
  LoadOptions o;
  o.format = FileFormat::Libsvm;
  Shard<double> s;
  try {
    s = load_file(file.path(), o);
  } catch (const Error&) {
    return 0;
  }
  check_shard(s, true);

  // The inferred dimension is the widest index: one more widens every row with a zero, one
  // less is refused.
  LoadOptions wider = o;
  wider.dim = s.dim + 1;
  if (detail::dense_size_fits(s.rows, wider.dim)) {
    const Shard<double> wide = must_load(file.path(), wider, "the file loaded with --dim one more");
    check_shard(wide, true);
    require(wide.dim == wider.dim, "--dim not obeyed");
    require_widened(s, wide, "--dim one more");
  }
  if (s.dim >= 2) {
    LoadOptions narrower = o;
    narrower.dim = s.dim - 1;
    require(!loads(file.path(), narrower), "a feature index above --dim was accepted");
  }

  // As shard 1 of 2, beside a file of one feature: densified to the common dimension.
  other.write(std::string("1 1:2\n"));
  Dataset<double> d;
  try {
    d = load_shards({file.path(), other.path()}, o);
  } catch (const Error& e) {
    // Refused only when both shards together would not fit.
    if (detail::dense_size_fits(s.rows + 1, std::max<std::size_t>(s.dim, 1))) {
      throw InvariantFailure(std::string("the file failed as one of two shards: ") + e.what());
    }
    return 0;
  }
  require(d.shards.size() == 2 && d.dim == std::max<std::size_t>(s.dim, 1),
          "load_shards: the common dimension");
  for (const Shard<double>& t : d.shards) {
    check_shard(t, true);
    require(t.dim == d.dim, "load_shards: a shard's dim differs from the data set's");
  }
  require_widened(s, d.shards[0], "load_shards");
  return 0;
}

int fuzz_csv(const std::uint8_t* data, std::size_t size) {
  init_harness();
  static const InputFile file("input.csv");
  file.write(data, size);
  LoadOptions o;
  o.format = FileFormat::Csv;
  Shard<double> s;
  try {
    s = load_file(file.path(), o);
  } catch (const Error&) {
    return 0;
  }
  check_shard(s, true);
  require(s.dim >= 1, "a CSV shard without features");

  // The label in column 2 instead: the first two columns trade places.
  LoadOptions second = o;
  second.label_col = 2;
  const Shard<double> t = must_load(file.path(), second, "the file loaded with --label-col 2");
  check_shard(t, true);
  require(t.rows == s.rows && t.dim == s.dim, "--label-col 2: shape");
  for (std::size_t i = 0; i < s.rows; ++i) {
    require(t.y[i] == s.row(i)[0] && t.row(i)[0] == s.y[i], "--label-col 2: columns 1 and 2");
    require(std::equal(s.row(i) + 1, s.row(i) + s.dim, t.row(i) + 1),
            "--label-col 2: the other columns");
  }
  // A column past the last, and a dimension other than the file's, are refused.
  LoadOptions past = o;
  past.label_col = s.dim + 2;
  require(!loads(file.path(), past), "a label column past the last was accepted");
  LoadOptions dim = o;
  dim.dim = s.dim + 1;
  require(!loads(file.path(), dim), "a --dim other than the file's was accepted");

  // Twice, as two shards: the same dimension.
  const Dataset<double> d = [&] {
    try {
      return load_shards({file.path(), file.path()}, o);
    } catch (const Error& e) {
      throw InvariantFailure(std::string("the file failed as two shards: ") + e.what());
    }
  }();
  require(d.shards.size() == 2 && d.dim == s.dim, "load_shards: the common dimension");
  for (const Shard<double>& u : d.shards) {
    require(u.dim == d.dim && u.x == s.x && u.y == s.y, "load_shards: a shard differs");
  }
  return 0;
}

}  // namespace lag::fuzz
