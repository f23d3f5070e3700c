// A batch of the whole shard is the full batch (rows in shard order, scale 1), so LASG-WK with
// c = xi / D and no skip limit is LAG-WK, and LASG-PS is LAG-PS, bit for bit (D a power of two:
// xi / (D a) and (xi / D) / a round alike). Shared by the CPU and GPU tests; `make()` returns a new
// cluster of the backend under test (a unique_ptr<Cluster<double>>) over shards of `shard_rows`.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <utility>

#include "lag/engine.hpp"
#include "test_helpers.hpp"

namespace lag::test {

template <class MakeCluster>
void expect_whole_shard_batch_is_full_batch_lag(const ProblemConstants& constants,
                                                std::size_t shard_rows, const MakeCluster& make) {
  const std::pair<Algorithm, Algorithm> pairs[] = {{Algorithm::LagWK, Algorithm::LasgWK},
                                                   {Algorithm::LagPS, Algorithm::LasgPS}};
  for (const auto& [lag_algo, lasg_algo] : pairs) {
    SCOPED_TRACE(algorithm_name(lasg_algo));
    const double xi = lag_algo == Algorithm::LagWK ? 1.0 : 8.0;
    TrainOptions lag;
    lag.algorithm = lag_algo;
    lag.max_iters = 80;
    lag.depth = 8;
    lag.xi = xi;
    TrainOptions lasg = lag;
    lasg.algorithm = lasg_algo;
    lasg.xi = xi / 8;
    lasg.batch_size = shard_rows;
    lasg.max_skip = 0;
    const auto a = make(), b = make();
    CountingCluster<double> ca(*a), cb(*b);
    const RunResult ra = train(ca, constants, lag);
    const RunResult rb = train(cb, constants, lasg);
    ASSERT_EQ(ca.uploads.size(), cb.uploads.size());
    std::uint64_t skips = 0;
    for (std::size_t k = 0; k < ca.uploads.size(); ++k) {
      EXPECT_EQ(ca.uploads[k], cb.uploads[k]) << "iteration " << k + 1;
      for (auto f : ca.uploads[k]) skips += f == 0;
    }
    EXPECT_GT(skips, 0u) << "LAG never skipped: a weak test";
    EXPECT_EQ(ra.total.uploads, rb.total.uploads);
    EXPECT_EQ(ra.total.bytes_up, rb.total.bytes_up);
    ASSERT_EQ(ra.theta.size(), rb.theta.size());
    EXPECT_EQ(std::memcmp(ra.theta.data(), rb.theta.data(), ra.theta.size() * sizeof(double)), 0);
  }
}

}  // namespace lag::test
