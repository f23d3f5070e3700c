// Tests for lag::Random, the synthetic data generators and write_shards. The round-trip tests read
// the files back with a minimal parser of their own so that they check the writer alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "lag/error.hpp"
#include "lag/random.hpp"
#include "lag/synthetic.hpp"

namespace {

namespace fs = std::filesystem;

// ---- Random ----------------------------------------------------------------

TEST(Random, SameSeedSameSequence) {
  lag::Random a(123);
  lag::Random b(123);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(a.next_u64(), b.next_u64());
    ASSERT_EQ(a.uniform(), b.uniform());
    ASSERT_EQ(a.below(17), b.below(17));
    ASSERT_EQ(a.normal(), b.normal());
  }
  lag::Random c(124);
  lag::Random d(123);
  EXPECT_NE(c.next_u64(), d.next_u64());
}

TEST(Random, EngineIsStandardMt19937_64) {
  // The standard fixes mt19937_64's output; 5489 is its default seed.
  lag::Random r(5489);
  EXPECT_EQ(r.next_u64(), 14514284786278117030ULL);
}

// Pinned outputs: a change here changes every generated data set, so it must be deliberate.
TEST(Random, KnownFirstOutputs) {
  lag::Random r(42);
  EXPECT_EQ(r.next_u64(), 13930160852258120406ULL);
  EXPECT_EQ(r.next_u64(), 11788048577503494824ULL);

  lag::Random u(42);
  EXPECT_EQ(u.uniform(), 0x1.82a3befaddcbcp-1);
  EXPECT_EQ(u.uniform(), 0x1.472f1f73724ap-1);
  EXPECT_EQ(u.uniform(), 0x1.81192cfe1cbcfp-1);

  lag::Random b(42);
  const std::uint64_t expected_below[] = {6, 4, 0, 2, 1};
  for (std::uint64_t e : expected_below) EXPECT_EQ(b.below(10), e);

  // Box-Muller goes through libm's log/sin/cos, which may differ in the last bit between
  // platforms, hence a tolerance.
  lag::Random n(42);
  const double expected_normal[] = {-1.0771745442782885, -1.2860634502166481, 1.0945198485006107,
                                    1.2616856516484893};
  for (double e : expected_normal) EXPECT_NEAR(n.normal(), e, 1e-14);

  lag::Random p(42);
  const std::vector<std::size_t> expected_perm = {7, 0, 5, 1, 2, 4, 3, 6};
  EXPECT_EQ(p.permutation(8), expected_perm);
}

TEST(Random, BelowStaysInRange) {
  lag::Random r(7);
  std::vector<int> counts(6, 0);
  const int draws = 60000;
  for (int i = 0; i < draws; ++i) {
    const std::uint64_t v = r.below(6);
    ASSERT_LT(v, 6u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, draws / 6, 500);  // sd ~ 91
  EXPECT_EQ(r.below(1), 0u);
  // Huge n: rejection threshold is large, values still below n.
  const std::uint64_t big = (std::uint64_t{1} << 63) + 12345;
  for (int i = 0; i < 100; ++i) EXPECT_LT(r.below(big), big);
  EXPECT_THROW(r.below(0), lag::Error);
}

TEST(Random, UniformInUnitInterval) {
  lag::Random r(9);
  for (int i = 0; i < 100000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Random, NormalMomentsRoughlyRight) {
  lag::Random r(2024);
  const int n = 100000;
  double sum = 0.0;
  double sum2 = 0.0;
  double sum4 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
  }
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.015);     // sd of the mean ~ 0.0032
  EXPECT_NEAR(var, 1.0, 0.03);       // sd ~ 0.0045
  EXPECT_NEAR(sum4 / n, 3.0, 0.15);  // fourth moment of N(0,1)
}

TEST(Random, PermutationIsAPermutation) {
  lag::Random r(5);
  for (std::size_t n : {0u, 1u, 2u, 10u, 1000u}) {
    std::vector<std::size_t> p = r.permutation(n);
    ASSERT_EQ(p.size(), n);
    std::sort(p.begin(), p.end());
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(p[i], i);
  }
  // Each of the 6 permutations of 3 elements about equally often.
  std::vector<int> counts(6, 0);
  const int draws = 60000;
  for (int i = 0; i < draws; ++i) {
    const auto p = r.permutation(3);
    ++counts[p[0] * 2 + (p[1] > p[2] ? 1 : 0)];
  }
  for (int c : counts) EXPECT_NEAR(c, draws / 6, 500);
}

TEST(Random, WeightedFrequenciesProportional) {
  lag::Random r(11);
  const std::vector<double> w = {1.0, 0.0, 3.0, 6.0, 0.0};
  std::vector<int> counts(w.size(), 0);
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) ++counts[r.weighted(w)];
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[4], 0);
  EXPECT_NEAR(counts[0], 10000, 500);  // sd ~ 95
  EXPECT_NEAR(counts[2], 30000, 700);  // sd ~ 145
  EXPECT_NEAR(counts[3], 60000, 800);  // sd ~ 155
  EXPECT_EQ(r.weighted({0.0, 2.5, 0.0}), 1u);
}

TEST(Random, WeightedRejectsBadWeights) {
  lag::Random r(1);
  EXPECT_THROW(r.weighted({}), lag::Error);
  EXPECT_THROW(r.weighted({0.0, 0.0}), lag::Error);
  EXPECT_THROW(r.weighted({1.0, -0.5}), lag::Error);
  EXPECT_THROW(r.weighted({1.0, std::nan("")}), lag::Error);
}

// ---- paper-linear ----------------------------------------------------------

double frobenius_distance(const lag::Shard<double>& a, const lag::Shard<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.x.size(); ++i) s += (a.x[i] - b.x[i]) * (a.x[i] - b.x[i]);
  return std::sqrt(s);
}

TEST(PaperLinear, ShapesAndSources) {
  lag::PaperLinearSpec spec;  // defaults: 9 workers, d = 50
  const auto data = lag::make_paper_linear(spec);
  EXPECT_EQ(data.dim, 50u);
  ASSERT_EQ(data.workers(), 9);
  EXPECT_EQ(data.total_rows(), 9u * 50u);
  for (int m = 0; m < 9; ++m) {
    const auto& s = data.shards[m];
    EXPECT_EQ(s.rows, 50u);
    EXPECT_EQ(s.dim, 50u);
    EXPECT_EQ(s.x.size(), 50u * 50u);
    EXPECT_EQ(s.y.size(), 50u);
    EXPECT_EQ(s.source, "paper-linear[" + std::to_string(m + 1) + "]");
  }
}

TEST(PaperLinear, RankOneStructure) {
  lag::PaperLinearSpec spec;
  spec.workers = 6;
  spec.dim = 20;
  const auto data = lag::make_paper_linear(spec);
  const std::size_t d = spec.dim;
  // A_m = X_m - I = a_m q_m q_m^T with a_m = 1.3^(m-1) and |q_m| = 1.
  std::vector<std::vector<double>> a_mats;
  for (int m = 0; m < spec.workers; ++m) {
    const auto& s = data.shards[m];
    std::vector<double> a(s.x);
    for (std::size_t i = 0; i < d; ++i) a[i * d + i] -= 1.0;
    const double expected = std::pow(1.3, m);
    double trace = 0.0;
    double fro2 = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
      trace += a[i * d + i];
      for (std::size_t j = 0; j < d; ++j) {
        // Exactly symmetric, not just to rounding.
        EXPECT_EQ(s.x[i * d + j], s.x[j * d + i]);
        fro2 += a[i * d + j] * a[i * d + j];
      }
    }
    // Rank one and PSD: trace = sum of eigenvalues = a, Frobenius norm = largest = a. So
    // X_m's top eigenvalue is 1 + a and that of X_m^T X_m is (1 + a)^2.
    EXPECT_NEAR(trace, expected, 1e-13 * expected);
    EXPECT_NEAR(std::sqrt(fro2), expected, 1e-13 * expected);
    a_mats.push_back(std::move(a));
  }
  // Orthogonal directions: A_m A_k = a_m a_k (q_m . q_k) q_m q_k^T ~ 0 for m != k.
  for (int m = 0; m < spec.workers; ++m) {
    for (int k = m + 1; k < spec.workers; ++k) {
      double fro2 = 0.0;
      for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
          double v = 0.0;
          for (std::size_t l = 0; l < d; ++l) v += a_mats[m][i * d + l] * a_mats[k][l * d + j];
          fro2 += v * v;
        }
      }
      EXPECT_LT(std::sqrt(fro2), 1e-14) << "shards " << m + 1 << " and " << k + 1;
    }
  }
}

TEST(PaperLinear, SameTargetOnEveryShard) {
  const auto data = lag::make_paper_linear({});
  for (const auto& s : data.shards) EXPECT_EQ(s.y, data.shards[0].y);
  // A real-valued target: the census records the first label outside {-1, 0, +1}.
  EXPECT_EQ(data.shards[0].labels.first_other, 1u);
  EXPECT_EQ(data.shards[0].labels.other_value, data.shards[0].y[0]);
}

TEST(PaperLinear, DeterministicBySeed) {
  lag::PaperLinearSpec spec;
  spec.workers = 3;
  spec.dim = 8;
  spec.seed = 77;
  const auto a = lag::make_paper_linear(spec);
  const auto b = lag::make_paper_linear(spec);
  for (int m = 0; m < 3; ++m) {
    EXPECT_EQ(a.shards[m].x, b.shards[m].x);
    EXPECT_EQ(a.shards[m].y, b.shards[m].y);
  }
  spec.seed = 78;
  const auto c = lag::make_paper_linear(spec);
  EXPECT_GT(frobenius_distance(a.shards[0], c.shards[0]), 1e-3);
  EXPECT_NE(a.shards[0].y, c.shards[0].y);
}

TEST(PaperLinear, GrowthParameter) {
  lag::PaperLinearSpec spec;
  spec.workers = 3;
  spec.dim = 5;
  spec.growth = 2.0;
  const auto data = lag::make_paper_linear(spec);
  double trace = 0.0;
  for (std::size_t i = 0; i < 5; ++i) trace += data.shards[2].x[i * 5 + i] - 1.0;
  EXPECT_NEAR(trace, 4.0, 1e-13);
}

void expect_error_mentions(const std::function<void()>& f, const std::string& option) {
  try {
    f();
    ADD_FAILURE() << "no lag::Error thrown; expected one naming " << option;
  } catch (const lag::Error& e) {
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
  }
}

TEST(PaperLinear, ValidatesSpec) {
  lag::PaperLinearSpec spec;
  spec.workers = 0;
  expect_error_mentions([&] { lag::make_paper_linear(spec); }, "--workers");
  spec.workers = 10;
  spec.dim = 9;
  expect_error_mentions([&] { lag::make_paper_linear(spec); }, "--dim");
  spec.dim = 10;
  EXPECT_NO_THROW(lag::make_paper_linear(spec));
  spec.growth = 0.0;
  expect_error_mentions([&] { lag::make_paper_linear(spec); }, "--growth");
  spec.growth = std::nan("");
  expect_error_mentions([&] { lag::make_paper_linear(spec); }, "--growth");
}

// ---- hetero ----------------------------------------------------------------

TEST(Hetero, Shapes) {
  lag::HeteroSpec spec;
  spec.workers = 4;
  spec.rows = 30;
  spec.dim = 7;
  const auto data = lag::make_hetero(spec);
  EXPECT_EQ(data.dim, 7u);
  ASSERT_EQ(data.workers(), 4);
  for (int m = 0; m < 4; ++m) {
    const auto& s = data.shards[m];
    EXPECT_EQ(s.rows, 30u);
    EXPECT_EQ(s.dim, 7u);
    EXPECT_EQ(s.x.size(), 30u * 7u);
    EXPECT_EQ(s.y.size(), 30u);
    EXPECT_EQ(s.source, "hetero-linear[" + std::to_string(m + 1) + "]");
  }
}

TEST(Hetero, RowScalesGrowGeometrically) {
  lag::HeteroSpec spec;
  spec.workers = 5;
  spec.rows = 2000;
  spec.dim = 20;
  spec.spread = 100.0;
  const auto data = lag::make_hetero(spec);
  for (int m = 0; m < spec.workers; ++m) {
    const auto& s = data.shards[m];
    double sum = 0.0;
    for (double v : s.x) sum += v * v;
    const double mean_sq_norm = sum / static_cast<double>(s.rows);
    // E|x|^2 = d s_m^2 with s_m^2 = spread^((m-1)/(M-1)); relative sd here ~ 0.7%.
    const double expected = 20.0 * std::pow(100.0, m / 4.0);
    EXPECT_NEAR(mean_sq_norm / expected, 1.0, 0.04) << "shard " << m + 1;
  }
}

TEST(Hetero, SingleWorkerHasUnitScale) {
  lag::HeteroSpec spec;
  spec.workers = 1;
  spec.rows = 5000;
  spec.dim = 10;
  const auto data = lag::make_hetero(spec);
  double sum = 0.0;
  for (double v : data.shards[0].x) sum += v * v;
  EXPECT_NEAR(sum / 5000.0 / 10.0, 1.0, 0.04);
}

// Solve the normal equations X^T X t = X^T y of one shard (small d, Gaussian elimination).
std::vector<double> least_squares(const lag::Shard<double>& s) {
  const std::size_t d = s.dim;
  std::vector<double> a(d * (d + 1), 0.0);  // augmented [X^T X | X^T y]
  for (std::size_t r = 0; r < s.rows; ++r) {
    const double* x = s.row(r);
    for (std::size_t i = 0; i < d; ++i) {
      for (std::size_t j = 0; j < d; ++j) a[i * (d + 1) + j] += x[i] * x[j];
      a[i * (d + 1) + d] += x[i] * s.y[r];
    }
  }
  for (std::size_t c = 0; c < d; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < d; ++r) {
      if (std::abs(a[r * (d + 1) + c]) > std::abs(a[piv * (d + 1) + c])) piv = r;
    }
    for (std::size_t j = 0; j <= d; ++j) std::swap(a[c * (d + 1) + j], a[piv * (d + 1) + j]);
    for (std::size_t r = 0; r < d; ++r) {
      if (r == c) continue;
      const double f = a[r * (d + 1) + c] / a[c * (d + 1) + c];
      for (std::size_t j = c; j <= d; ++j) a[r * (d + 1) + j] -= f * a[c * (d + 1) + j];
    }
  }
  std::vector<double> t(d);
  for (std::size_t i = 0; i < d; ++i) t[i] = a[i * (d + 1) + d] / a[i * (d + 1) + i];
  return t;
}

TEST(Hetero, LinearTargetsFollowOnePlantedModel) {
  lag::HeteroSpec spec;
  spec.workers = 3;
  spec.rows = 40;
  spec.dim = 4;
  spec.spread = 10.0;
  spec.noise = 0.0;
  const auto data = lag::make_hetero(spec);
  const std::vector<double> theta = least_squares(data.shards[0]);
  for (const auto& s : data.shards) {
    const std::vector<double> t = least_squares(s);
    for (std::size_t j = 0; j < spec.dim; ++j) EXPECT_NEAR(t[j], theta[j], 1e-10);
    for (std::size_t r = 0; r < s.rows; ++r) {
      double pred = 0.0;
      for (std::size_t j = 0; j < spec.dim; ++j) pred += s.row(r)[j] * theta[j];
      EXPECT_NEAR(s.y[r], pred, 1e-10 * (1.0 + std::abs(pred)));
    }
  }
  // Noise only perturbs the targets: the rows are the same draws.
  spec.noise = 0.5;
  const auto noisy = lag::make_hetero(spec);
  EXPECT_EQ(noisy.shards[2].x, data.shards[2].x);
  EXPECT_NE(noisy.shards[2].y, data.shards[2].y);
}

TEST(Hetero, LogisticLabelsArePlusMinusOne) {
  lag::HeteroSpec spec;
  spec.workers = 3;
  spec.rows = 500;
  spec.dim = 5;
  spec.logistic = true;
  const auto data = lag::make_hetero(spec);
  for (const auto& s : data.shards) {
    EXPECT_EQ(s.source.rfind("hetero-logistic[", 0), 0u);
    int plus = 0;
    for (std::size_t i = 0; i < s.rows; ++i) {
      ASSERT_TRUE(s.y[i] == 1.0 || s.y[i] == -1.0) << s.y[i];
      if (s.y[i] == 1.0) ++plus;
    }
    EXPECT_GT(plus, 0);
    EXPECT_LT(plus, 500);
    // The census points at the first row of each label, as line numbers (row + 1).
    EXPECT_EQ(s.labels.first_other, 0u);
    EXPECT_EQ(s.labels.first_zero, 0u);
    ASSERT_GT(s.labels.first_plus_one, 0u);
    ASSERT_GT(s.labels.first_minus_one, 0u);
    EXPECT_EQ(s.y[s.labels.first_plus_one - 1], 1.0);
    EXPECT_EQ(s.y[s.labels.first_minus_one - 1], -1.0);
    const std::size_t first = std::min(s.labels.first_plus_one, s.labels.first_minus_one);
    EXPECT_EQ(first, 1u);
  }
}

TEST(Hetero, DeterministicBySeed) {
  lag::HeteroSpec spec;
  spec.workers = 2;
  spec.rows = 10;
  spec.dim = 3;
  const auto a = lag::make_hetero(spec);
  const auto b = lag::make_hetero(spec);
  for (int m = 0; m < 2; ++m) {
    EXPECT_EQ(a.shards[m].x, b.shards[m].x);
    EXPECT_EQ(a.shards[m].y, b.shards[m].y);
  }
  spec.seed = 2;
  const auto c = lag::make_hetero(spec);
  EXPECT_NE(a.shards[0].x, c.shards[0].x);
}

TEST(Hetero, ValidatesSpec) {
  lag::HeteroSpec spec;
  spec.workers = 0;
  expect_error_mentions([&] { lag::make_hetero(spec); }, "--workers");
  spec.workers = 2;
  spec.rows = 0;
  expect_error_mentions([&] { lag::make_hetero(spec); }, "--rows");
  spec.rows = 5;
  spec.dim = 0;
  expect_error_mentions([&] { lag::make_hetero(spec); }, "--dim");
  spec.dim = 3;
  spec.spread = 0.5;
  expect_error_mentions([&] { lag::make_hetero(spec); }, "--spread");
  spec.spread = INFINITY;
  expect_error_mentions([&] { lag::make_hetero(spec); }, "--spread");
  spec.spread = 1.0;
  spec.noise = -1.0;
  expect_error_mentions([&] { lag::make_hetero(spec); }, "--noise");
}

// ---- write_shards ----------------------------------------------------------

// A fresh directory under the test temp dir, removed at the end of the test.
class ShardWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("lag_test_synthetic_" + std::string(info->name()) +
                                             "_" + std::to_string(std::random_device{}()));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

double parse_double(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  EXPECT_EQ(*end, '\0') << "bad number '" << s << "'";
  return v;
}

// Tiny LIBSVM reader: "label i:v i:v ...", 1-based increasing indices, densified to dim.
lag::Shard<double> read_libsvm(const std::string& path, std::size_t dim) {
  lag::Shard<double> s;
  s.dim = dim;
  std::size_t max_index = 0;
  for (const std::string& line : read_lines(path)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string tok;
    in >> tok;
    s.y.push_back(parse_double(tok));
    s.x.resize(s.x.size() + dim, 0.0);
    std::size_t prev = 0;
    while (in >> tok) {
      const auto colon = tok.find(':');
      EXPECT_NE(colon, std::string::npos) << tok;
      const std::size_t index = std::stoul(tok.substr(0, colon));
      EXPECT_GT(index, prev) << "indices not increasing in " << path;
      EXPECT_LE(index, dim);
      prev = index;
      max_index = std::max(max_index, index);
      s.x[s.rows * dim + index - 1] = parse_double(tok.substr(colon + 1));
    }
    EXPECT_EQ(prev, dim) << "last feature not written in " << path;
    ++s.rows;
  }
  EXPECT_EQ(max_index, dim);
  return s;
}

lag::Shard<double> read_csv(const std::string& path) {
  lag::Shard<double> s;
  for (const std::string& line : read_lines(path)) {
    std::vector<double> fields;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, ',')) fields.push_back(parse_double(field));
    EXPECT_GE(fields.size(), 2u);
    if (s.rows == 0) s.dim = fields.size() - 1;
    EXPECT_EQ(fields.size(), s.dim + 1) << "ragged row in " << path;
    s.y.push_back(fields[0]);
    s.x.insert(s.x.end(), fields.begin() + 1, fields.end());
    ++s.rows;
  }
  return s;
}

// Bit-exact comparison (== on doubles, so -0 == 0 is allowed for omitted LIBSVM zeros).
void expect_same_shard(const lag::Shard<double>& got, const lag::Shard<double>& want) {
  ASSERT_EQ(got.rows, want.rows);
  ASSERT_EQ(got.dim, want.dim);
  ASSERT_EQ(got.x.size(), want.x.size());
  for (std::size_t i = 0; i < want.x.size(); ++i)
    ASSERT_EQ(got.x[i], want.x[i]) << "x[" << i << "]";
  for (std::size_t i = 0; i < want.y.size(); ++i)
    ASSERT_EQ(got.y[i], want.y[i]) << "y[" << i << "]";
}

// Values that stress 17-digit printing: tiny, huge, subnormal, negative, exact zeros, and a
// trailing zero feature (which LIBSVM must still write).
lag::Dataset<double> awkward_data() {
  lag::Dataset<double> data;
  data.dim = 4;
  lag::Shard<double> s;
  s.source = "awkward";
  s.rows = 3;
  s.dim = 4;
  s.x = {0.1,
         -1e-300,
         4.9e-324,
         0.0,  //
         1.7976931348623157e308,
         0.0,
         0.0,
         0.0,  //
         1.0 / 3.0,
         -2.0 / 3.0,
         123456789.123456789,
         5e-7};
  s.y = {1.0, -1.0, 0.30000000000000004};
  data.shards.push_back(s);
  return data;
}

TEST_F(ShardWriterTest, LibsvmRoundTripIsExact) {
  lag::HeteroSpec spec;
  spec.workers = 3;
  spec.rows = 25;
  spec.dim = 6;
  auto data = lag::make_hetero(spec);
  data.shards.push_back(awkward_data().shards[0]);
  // The awkward shard has only 4 features; give it the common width.
  auto& aw = data.shards.back();
  std::vector<double> wide;
  for (std::size_t r = 0; r < aw.rows; ++r) {
    wide.insert(wide.end(), aw.row(r), aw.row(r) + 4);
    wide.push_back(0.0);
    wide.push_back(0.0);
  }
  aw.x = wide;
  aw.dim = 6;

  const auto paths = lag::write_shards(data, dir_.string(), lag::FileFormat::Libsvm);
  ASSERT_EQ(paths.size(), 4u);
  for (std::size_t m = 0; m < 4; ++m) {
    EXPECT_EQ(fs::path(paths[m]).filename().string(), "shard-0" + std::to_string(m + 1) + ".svm");
    expect_same_shard(read_libsvm(paths[m], 6), data.shards[m]);
  }
}

TEST_F(ShardWriterTest, CsvRoundTripIsExact) {
  lag::PaperLinearSpec spec;
  spec.workers = 3;
  spec.dim = 7;
  auto data = lag::make_paper_linear(spec);
  const auto paths = lag::write_shards(data, dir_.string(), lag::FileFormat::Csv);
  ASSERT_EQ(paths.size(), 3u);
  for (std::size_t m = 0; m < 3; ++m) {
    EXPECT_EQ(fs::path(paths[m]).filename().string(), "shard-0" + std::to_string(m + 1) + ".csv");
    expect_same_shard(read_csv(paths[m]), data.shards[m]);
  }
  const auto awkward =
      lag::write_shards(awkward_data(), (dir_ / "awk").string(), lag::FileFormat::Csv);
  expect_same_shard(read_csv(awkward[0]), awkward_data().shards[0]);
}

TEST_F(ShardWriterTest, AutoMeansLibsvmAndZerosAreSparse) {
  const auto paths = lag::write_shards(awkward_data(), dir_.string(), lag::FileFormat::Auto);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(fs::path(paths[0]).extension().string(), ".svm");
  const auto lines = read_lines(paths[0]);
  ASSERT_EQ(lines.size(), 3u);
  // Zero features are left out except the last one, which pins the dimension.
  EXPECT_EQ(lines[1], "-1 1:1.7976931348623157e+308 4:0");
  // 17 significant digits, so 0.1 shows its binary value; subnormals survive.
  EXPECT_EQ(lines[0], "1 1:0.10000000000000001 2:-1e-300 3:4.9406564584124654e-324 4:0");
  expect_same_shard(read_libsvm(paths[0], 4), awkward_data().shards[0]);
}

TEST_F(ShardWriterTest, FileNamesPadToWorkerCount) {
  lag::HeteroSpec spec;
  spec.workers = 100;
  spec.rows = 1;
  spec.dim = 1;
  const auto paths = lag::write_shards(lag::make_hetero(spec), dir_.string(), lag::FileFormat::Csv);
  ASSERT_EQ(paths.size(), 100u);
  EXPECT_EQ(fs::path(paths[0]).filename().string(), "shard-001.csv");
  EXPECT_EQ(fs::path(paths[99]).filename().string(), "shard-100.csv");
  // Names sort in worker order, as a directory passed to --data is expanded.
  std::vector<std::string> sorted = paths;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, paths);
  for (const auto& p : paths) EXPECT_TRUE(fs::is_regular_file(p)) << p;
}

TEST_F(ShardWriterTest, CreatesNestedDirectory) {
  const fs::path nested = dir_ / "a" / "b";
  const auto paths = lag::write_shards(awkward_data(), nested.string(), lag::FileFormat::Csv);
  EXPECT_TRUE(fs::is_directory(nested));
  EXPECT_EQ(fs::path(paths[0]).parent_path().string(), nested.string());
}

TEST_F(ShardWriterTest, ErrorsNameThePath) {
  fs::create_directories(dir_);
  const fs::path file = dir_ / "plain-file";
  std::ofstream(file) << "x\n";
  // A directory cannot be created under a regular file.
  const std::string bad = (file / "sub").string();
  try {
    lag::write_shards(awkward_data(), bad, lag::FileFormat::Libsvm);
    ADD_FAILURE() << "expected lag::Error";
  } catch (const lag::Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  // A shard file that cannot be opened (a directory is in the way).
  fs::create_directories(dir_ / "out" / "shard-01.svm");
  try {
    lag::write_shards(awkward_data(), (dir_ / "out").string(), lag::FileFormat::Libsvm);
    ADD_FAILURE() << "expected lag::Error";
  } catch (const lag::Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard-01.svm"), std::string::npos) << e.what();
  }
}

TEST_F(ShardWriterTest, RejectsNonFiniteValues) {
  auto data = awkward_data();
  data.shards[0].x[5] = std::nan("");
  EXPECT_THROW(lag::write_shards(data, dir_.string(), lag::FileFormat::Csv), lag::Error);
}

}  // namespace
