// Partition by label (non-IID shards): which worker gets which classes, that every row is used
// once, seeded determinism and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "data/data_internal.hpp"
#include "lag/dataset.hpp"
#include "lag/error.hpp"

namespace {

using lag::Dataset;
using lag::Shard;

constexpr int kClasses = 10;

// `rows` rows whose classes cycle through 0..classes-1 but not evenly (row i has class
// (i * 7 + i / 13) % classes), so that class sizes differ. Row i is (i, class), y = class.
Shard<double> labeled_rows(std::size_t rows, int classes = kClasses) {
  Shard<double> s;
  s.source = "all.idx";
  s.rows = rows;
  s.dim = 2;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto c = static_cast<double>((i * 7 + i / 13) % static_cast<std::size_t>(classes));
    s.x.push_back(static_cast<double>(i));
    s.x.push_back(c);
    s.y.push_back(c);
  }
  return s;
}

std::set<int> classes_of(const Shard<double>& s) {
  std::set<int> c;
  for (const double y : s.y) c.insert(static_cast<int>(y));
  return c;
}

std::set<int> intended(int m, int k, int classes = kClasses) {
  std::set<int> c;
  for (int j = 0; j < k; ++j) c.insert((m * k + j) % classes);
  return c;
}

std::vector<double> row_ids(const Shard<double>& s) {
  std::vector<double> ids;
  for (std::size_t i = 0; i < s.rows; ++i) ids.push_back(s.row(i)[0]);
  return ids;
}

// Every row of `all` appears in exactly one shard, whole (features and label together), and
// within a shard rows keep their original order.
void expect_each_row_once(const Shard<double>& all, const Dataset<double>& data) {
  EXPECT_EQ(data.dim, all.dim);
  EXPECT_EQ(data.total_rows(), all.rows);
  std::vector<double> every;
  for (const Shard<double>& s : data.shards) {
    EXPECT_EQ(s.dim, all.dim);
    EXPECT_EQ(s.x.size(), s.rows * s.dim);
    EXPECT_EQ(s.y.size(), s.rows);
    const std::vector<double> ids = row_ids(s);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << s.source;
    for (std::size_t i = 0; i < s.rows; ++i) EXPECT_EQ(s.row(i)[1], s.y[i]);
    every.insert(every.end(), ids.begin(), ids.end());
  }
  std::sort(every.begin(), every.end());
  EXPECT_EQ(every, row_ids(all));
}

std::string error_of(const Shard<double>& all, int workers, int k, int classes = kClasses) {
  try {
    lag::partition_by_label(all, workers, k, classes, 1);
  } catch (const lag::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for workers " << workers << ", k " << k;
  return "";
}

TEST(PartitionLabel, ParseName) {
  EXPECT_EQ(lag::parse_partition("label"), lag::Partition::Label);
  try {
    lag::parse_partition("labels");
    FAIL() << "no error";
  } catch (const lag::Error& e) {
    EXPECT_NE(std::string(e.what()).find("contiguous, shuffle or label"), std::string::npos);
  }
}

TEST(PartitionLabel, PartitionRowsPointsToPartitionByLabel) {
  try {
    lag::partition_rows(labeled_rows(100), 4, lag::Partition::Label, 1);
    FAIL() << "no error";
  } catch (const lag::Error& e) {
    EXPECT_NE(std::string(e.what()).find("partition_by_label"), std::string::npos) << e.what();
  }
}

TEST(PartitionLabel, OneClassPerWorker) {
  const Shard<double> all = labeled_rows(1000);
  const Dataset<double> data = lag::partition_by_label(all, 10, 1, kClasses, 5);
  ASSERT_EQ(data.workers(), 10);
  for (int m = 0; m < 10; ++m) {
    const Shard<double>& s = data.shards[static_cast<std::size_t>(m)];
    EXPECT_EQ(classes_of(s), std::set<int>{m});
    EXPECT_EQ(s.rows, static_cast<std::size_t>(std::count(all.y.begin(), all.y.end(), m)));
  }
  EXPECT_EQ(data.shards[3].source, "all.idx[label part 4 of 10: classes 3]");
  expect_each_row_once(all, data);
}

TEST(PartitionLabel, TwoClassesPerWorker) {
  const Shard<double> all = labeled_rows(1000);
  const Dataset<double> data = lag::partition_by_label(all, 5, 2, kClasses, 5);
  ASSERT_EQ(data.workers(), 5);
  for (int m = 0; m < 5; ++m) {
    EXPECT_EQ(classes_of(data.shards[static_cast<std::size_t>(m)]), intended(m, 2)) << m;
  }
  EXPECT_EQ(intended(2, 2), (std::set<int>{4, 5}));
  EXPECT_EQ(data.shards[2].source, "all.idx[label part 3 of 5: classes 4,5]");
  expect_each_row_once(all, data);
}

TEST(PartitionLabel, ThreeClassesPerWorkerShareEachClass) {
  const Shard<double> all = labeled_rows(1003);
  const Dataset<double> data = lag::partition_by_label(all, 10, 3, kClasses, 5);
  ASSERT_EQ(data.workers(), 10);
  for (int m = 0; m < 10; ++m) {
    EXPECT_EQ(classes_of(data.shards[static_cast<std::size_t>(m)]), intended(m, 3)) << m;
  }
  // Worker 3 wraps around: 9, 0, 1; the source lists them in order.
  EXPECT_EQ(data.shards[3].source, "all.idx[label part 4 of 10: classes 0,1,9]");
  // Each class is held by 3 workers, which get near-equal parts of it.
  for (int c = 0; c < kClasses; ++c) {
    std::vector<std::size_t> parts;
    for (const Shard<double>& s : data.shards) {
      const auto n = static_cast<std::size_t>(std::count(s.y.begin(), s.y.end(), c));
      if (n > 0) parts.push_back(n);
    }
    ASSERT_EQ(parts.size(), 3u) << "class " << c;
    const auto [lo, hi] = std::minmax_element(parts.begin(), parts.end());
    EXPECT_LE(*hi - *lo, 1u) << "class " << c;
  }
  expect_each_row_once(all, data);
}

TEST(PartitionLabel, MoreWorkersThanClassesSplitEachClass) {
  const Shard<double> all = labeled_rows(500);
  const Dataset<double> data = lag::partition_by_label(all, 20, 1, kClasses, 5);
  for (int m = 0; m < 20; ++m) {
    EXPECT_EQ(classes_of(data.shards[static_cast<std::size_t>(m)]), std::set<int>{m % 10}) << m;
  }
  expect_each_row_once(all, data);
}

TEST(PartitionLabel, SeededAndDeterministic) {
  const Shard<double> all = labeled_rows(1003);
  const auto split = [&](std::uint64_t seed) {
    std::vector<std::vector<double>> ids;
    for (const Shard<double>& s : lag::partition_by_label(all, 10, 3, kClasses, seed).shards) {
      ids.push_back(row_ids(s));
    }
    return ids;
  };
  const auto a = split(7);
  EXPECT_EQ(a, split(7));
  EXPECT_NE(a, split(8));
  // The shuffle matters: a worker's part of a class is not simply the first rows of the class.
  const auto unshuffled = [&] {
    std::vector<double> first;
    for (std::size_t i = 0; i < all.rows && first.size() < 3; ++i) {
      if (all.y[i] == 0.0) first.push_back(static_cast<double>(i));
    }
    return first;
  }();
  EXPECT_NE(std::vector<double>(a[0].begin(), a[0].begin() + 3), unshuffled);
}

TEST(PartitionLabel, SourceFileStripsTheLabelTag) {
  EXPECT_EQ(lag::detail::source_file("dir/train.gz[label part 2 of 5: classes 2,3]"),
            "dir/train.gz");
}

TEST(PartitionLabel, TooManyClassesPerWorker) {
  const Shard<double> all = labeled_rows(100);
  const std::string e = error_of(all, 4, 11);
  EXPECT_NE(e.find("between 1 and the number of classes, 10 (got 11)"), std::string::npos) << e;
  EXPECT_NE(error_of(all, 4, 0).find("(got 0)"), std::string::npos);
}

TEST(PartitionLabel, ClassesHeldByNobody) {
  const Shard<double> all = labeled_rows(100);
  const std::string e = error_of(all, 4, 2);
  EXPECT_NE(e.find("4 workers with 2 classes each hold only 8 of the 10 classes"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("classes 8..9 would be held by nobody"), std::string::npos) << e;
  EXPECT_NE(e.find("use at least 3 classes per worker or at least 5 workers"), std::string::npos)
      << e;
}

TEST(PartitionLabel, WorkerWithNoRows) {
  // Class 9 has 2 rows, shared by workers 9, 19 and 29 (k = 1, 30 workers): one gets none.
  Shard<double> all = labeled_rows(100);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < all.rows; ++i) {
    if (all.y[i] == 9.0 && ++kept > 2) {
      all.y[i] = 8.0;
      all.x[2 * i + 1] = 8.0;
    }
  }
  const std::string e = error_of(all, 30, 1);
  EXPECT_NE(e.find("leaves part 30 of 30 (classes 9) with no rows"), std::string::npos) << e;
  EXPECT_NE(e.find("class 9 has 2 rows over 3 workers"), std::string::npos) << e;
}

TEST(PartitionLabel, LabelsMustBeClassIndices) {
  Shard<double> all = labeled_rows(20);
  all.y[5] = 10.0;
  EXPECT_NE(error_of(all, 10, 1).find("label 10 is not a class index in 0..9 (row 6)"),
            std::string::npos);
  all.y[5] = 1.5;
  EXPECT_NE(error_of(all, 10, 1).find("label 1.5"), std::string::npos);
  all.y[5] = -1.0;
  EXPECT_NE(error_of(all, 10, 1).find("label -1"), std::string::npos);
}

}  // namespace
