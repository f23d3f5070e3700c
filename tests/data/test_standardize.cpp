// --standardize: the column statistics against a direct computation written here (a constant
// column stays centred and unscaled, a bias column after the features is left alone), the mapped
// rows' mean 0 and deviation 1, and the same bits over 1, 2 and 4 ranks (played by threads).
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>

#include "../test_helpers.hpp"
#include "../thread_ranks.hpp"
#include "lag/error.hpp"
#include "lag/standardize.hpp"

namespace lag {
namespace {

// Five workers of Gaussian rows with column j scaled by (1 + j) and shifted by 3 j; column 2
// constant; a bias column of ones last.
Dataset<double> data_with_bias() {
  Dataset<double> d = test::gaussian_data(5, 17, 5, false, 0.1, 8);
  for (auto& s : d.shards)
    for (std::size_t i = 0; i < s.rows; ++i) {
      double* x = s.x.data() + i * s.dim;
      for (std::size_t j = 0; j < s.dim; ++j) {
        const auto c = static_cast<double>(j);
        x[j] = x[j] * (1.0 + c) + 3.0 * c;
      }
      x[2] = 7.25;
      x[4] = 1.0;  // the bias
    }
  return d;
}

TEST(Standardize, StatisticsAreTheColumnsMeanAndDeviation) {
  const Dataset<double> d = data_with_bias();
  const Standardization s = standardization_of(d, 4, single_process());
  ASSERT_EQ(s.mean.size(), 4u);
  for (std::size_t j = 0; j < 4; ++j) {
    long double sum = 0, squares = 0, n = 0;
    for (const auto& shard : d.shards)
      for (std::size_t i = 0; i < shard.rows; ++i) sum += shard.row(i)[j], n += 1;
    const long double mean = sum / n;
    for (const auto& shard : d.shards)
      for (std::size_t i = 0; i < shard.rows; ++i)
        squares += (shard.row(i)[j] - mean) * (shard.row(i)[j] - mean);
    EXPECT_NEAR(s.mean[j], static_cast<double>(mean), 1e-13 * (1 + std::fabs(s.mean[j])));
    if (j == 2) {
      EXPECT_EQ(s.scale[j], 1.0) << "a constant column is not divided by its rounding error";
    } else {
      EXPECT_NEAR(s.scale[j], static_cast<double>(std::sqrt(squares / n)), 1e-12 * s.scale[j]);
    }
  }
}

TEST(Standardize, MappedRowsHaveMeanZeroAndDeviationOneAndKeepTheBias) {
  Dataset<double> d = data_with_bias();
  const Standardization s = standardization_of(d, 4, single_process());
  for (auto& shard : d.shards) standardize(shard, s);
  const Standardization after = standardization_of(d, 5, single_process());
  for (std::size_t j = 0; j < 4; ++j) {
    EXPECT_NEAR(after.mean[j], 0.0, 1e-14);
    if (j != 2) {
      EXPECT_NEAR(after.scale[j], 1.0, 1e-13);
    }
  }
  for (const auto& shard : d.shards)
    for (std::size_t i = 0; i < shard.rows; ++i) {
      EXPECT_EQ(shard.row(i)[2], 0.0);  // centred
      EXPECT_EQ(shard.row(i)[4], 1.0);  // the bias, untouched
    }
}

// Each rank holds only its own workers' rows (the others' shards empty), as in an MPI job.
TEST(Standardize, TheSameBitsOverOneTwoAndFourRanks) {
  const Dataset<double> full = data_with_bias();
  const Standardization alone = standardization_of(full, 4, single_process());
  for (int R : {2, 4}) {
    std::mutex lock;
    std::vector<Standardization> got(static_cast<std::size_t>(R));
    const auto errors = test::ThreadRanks::run(R, [&](ProcessGroup& g) {
      Dataset<double> mine = full;
      const WorkerRange own = own_workers(g, mine.workers());
      for (int m = 0; m < mine.workers(); ++m)
        if (!own.holds(m)) {
          auto& s = mine.shards[static_cast<std::size_t>(m)];
          s.rows = 0;
          s.x.clear();
          s.y.clear();
        }
      Standardization s = standardization_of(mine, 4, g);
      const std::lock_guard<std::mutex> hold(lock);
      got[static_cast<std::size_t>(g.rank())] = std::move(s);
    });
    for (const auto& e : errors) EXPECT_FALSE(e);
    for (const Standardization& s : got) {
      EXPECT_EQ(s.mean, alone.mean) << R << " ranks";
      EXPECT_EQ(s.scale, alone.scale) << R << " ranks";
    }
  }
}

TEST(Standardize, NoRowsIsAnError) {
  Dataset<double> d = data_with_bias();
  for (auto& s : d.shards) {
    s.rows = 0;
    s.x.clear();
    s.y.clear();
  }
  EXPECT_THROW(standardization_of(d, 4, single_process()), Error);
}

}  // namespace
}  // namespace lag
