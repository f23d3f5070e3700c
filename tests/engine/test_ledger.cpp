// The ledger is exact: every count and byte is checked against what the cluster was actually
// asked to move (counted by a wrapper, independently of the ledger).
#include <gtest/gtest.h>

#include "../test_helpers.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/engine.hpp"
#include "lag/error.hpp"
#include "lag/smoothness.hpp"
#include "lag/synthetic.hpp"

namespace lag {
namespace {

struct Recorded {
  RunResult result;
  std::vector<IterationRow> rows;
  std::vector<Flags> uploads, computes;
};

template <class T>
Recorded record(Algorithm a, const Dataset<double>& data, std::int64_t iters) {
  Dataset<T> d = convert_precision<T>(data);
  ThreadPool pool(2);
  CpuCluster<T> cpu(d, ModelSpec{}, pool);
  test::CountingCluster<T> counting(cpu);
  const Smoothness s = smoothness_constants(data, ModelSpec{});
  TrainOptions o;
  o.algorithm = a;
  o.max_iters = iters;
  Recorded rec;
  rec.result = train(counting, ProblemConstants{s.global, s.worker, {}, {}}, o,
                     [&](const IterationRow& r) { rec.rows.push_back(r); });
  rec.uploads = counting.uploads;
  rec.computes = counting.computes;
  return rec;
}

template <class T>
void expect_exact(Algorithm a) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  const int M = data.workers();
  const std::uint64_t vec = data.dim * sizeof(T);
  const std::int64_t iters = 60;
  const Recorded rec = record<T>(a, data, iters);
  ASSERT_EQ(rec.rows.size(), static_cast<std::size_t>(iters + 1));
  ASSERT_EQ(rec.uploads.size(), static_cast<std::size_t>(iters));
  // Row 0 is the starting point: nothing spent.
  EXPECT_EQ(rec.rows[0].spent.uploads, 0u);
  EXPECT_EQ(rec.rows[0].cumulative.bytes_up, 0u);
  Traffic sum;
  for (std::int64_t t = 1; t <= iters; ++t) {
    const Traffic& s = rec.rows[t].spent;
    const std::uint64_t senders = test::count_flags(rec.uploads[t - 1]);
    const std::uint64_t computed = test::count_flags(rec.computes[t - 1]);
    EXPECT_EQ(s.uploads, senders) << "iteration " << t;
    EXPECT_EQ(s.computes, computed) << "iteration " << t;
    EXPECT_EQ(s.bytes_up, senders * vec);
    EXPECT_EQ(s.gd_equivalent_bytes_up, M * vec);
    const bool broadcast = a == Algorithm::GD || a == Algorithm::LagWK;
    EXPECT_EQ(s.bytes_down, (broadcast ? M : computed) * vec);
    EXPECT_EQ(s.control_bytes, a == Algorithm::LagWK ? M * (sizeof(T) + 1) : 0u);
    EXPECT_EQ(s.physical_bytes_up, 0u);  // in-process: nothing crosses a boundary
    EXPECT_EQ(s.physical_bytes_down, 0u);
    EXPECT_EQ(s.receivers, broadcast ? M : computed);
    if (t == 1) {
      EXPECT_EQ(senders, static_cast<std::uint64_t>(M)) << "iteration 1 is a full round";
    }
    switch (a) {
      case Algorithm::GD:
        EXPECT_EQ(senders, static_cast<std::uint64_t>(M));
        break;
      case Algorithm::LagWK:
        EXPECT_EQ(computed, static_cast<std::uint64_t>(M));
        break;
      case Algorithm::LagPS:
        EXPECT_EQ(senders, computed);
        break;
      default:
        if (t > 1) {
          EXPECT_EQ(senders, 1u);
        }
        break;
    }
    sum += s;
    EXPECT_EQ(rec.rows[t].cumulative.uploads, sum.uploads);
    EXPECT_EQ(rec.rows[t].cumulative.bytes_up, sum.bytes_up);
    EXPECT_EQ(rec.rows[t].cumulative.bytes_down, sum.bytes_down);
  }
  EXPECT_EQ(rec.result.total.uploads, sum.uploads);
  EXPECT_EQ(rec.result.total.bytes_up, sum.bytes_up);
  EXPECT_DOUBLE_EQ(rec.result.total.bytes_saved_fraction(),
                   1.0 - static_cast<double>(sum.bytes_up) / static_cast<double>(iters * M * vec));
}

// Uploads that cost more than GD's (Top-k with k near d sends indices too) save a negative
// number of bytes, not 2^64 minus a little.
TEST(Ledger, BytesSavedCanBeNegative) {
  Ledger ledger(Algorithm::Ef21, 2, 10, sizeof(float));
  ledger.record(2, 2, 9 * (sizeof(float) + 4), 0, 0);  // k = 9 of d = 10: 72 bytes each
  EXPECT_EQ(ledger.total().gd_equivalent_bytes_up, 2u * 10u * 4u);
  EXPECT_EQ(ledger.total().bytes_saved(), 80 - 144);
  EXPECT_DOUBLE_EQ(ledger.total().bytes_saved_fraction(), 1.0 - 144.0 / 80.0);
}

TEST(Ledger, GdExactFp64) { expect_exact<double>(Algorithm::GD); }
TEST(Ledger, LagWkExactFp64) { expect_exact<double>(Algorithm::LagWK); }
TEST(Ledger, LagPsExactFp64) { expect_exact<double>(Algorithm::LagPS); }
TEST(Ledger, CycIagExactFp64) { expect_exact<double>(Algorithm::CycIAG); }
TEST(Ledger, NumIagExactFp64) { expect_exact<double>(Algorithm::NumIAG); }
TEST(Ledger, GdExactFp32) { expect_exact<float>(Algorithm::GD); }
TEST(Ledger, LagWkExactFp32) { expect_exact<float>(Algorithm::LagWK); }
TEST(Ledger, LagPsExactFp32) { expect_exact<float>(Algorithm::LagPS); }
TEST(Ledger, CycIagExactFp32) { expect_exact<float>(Algorithm::CycIAG); }
TEST(Ledger, NumIagExactFp32) { expect_exact<float>(Algorithm::NumIAG); }

TEST(Ledger, CycIagVisitsWorkersInOrder) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  const Recorded rec = record<double>(Algorithm::CycIAG, data, 20);
  for (std::size_t k = 1; k < rec.uploads.size(); ++k)  // iteration k+1 uses worker (k-1) mod M
    EXPECT_EQ(rec.uploads[k][(k - 1) % 9], 1) << "iteration " << k + 1;
}

TEST(Ledger, LagSkipsWorkersOnHeterogeneousShards) {
  const auto data = make_paper_linear(PaperLinearSpec{});
  const Recorded wk = record<double>(Algorithm::LagWK, data, 100);
  const Recorded ps = record<double>(Algorithm::LagPS, data, 100);
  EXPECT_LT(wk.result.total.uploads, 9u * 100u / 2);
  EXPECT_LT(ps.result.total.uploads, 9u * 100u / 2);
  EXPECT_GT(wk.result.total.bytes_saved_fraction(), 0.5);
}

TEST(StepHistory, ThresholdSumsWhatExists) {
  StepHistory h(3);
  EXPECT_EQ(h.threshold(1, 1, 1), 0.0);
  h.push(1);
  h.push(2);
  EXPECT_DOUBLE_EQ(h.threshold(6, 0.5, 2), 6.0 / (3 * 0.25 * 4) * 3);
  h.push(3);
  h.push(4);  // drops the 1
  EXPECT_DOUBLE_EQ(h.sum(), 9.0);
}

TEST(Algorithm, ParsesListsAndRejectsUnknown) {
  const auto list = parse_algorithm_list("gd, lag-wk,lag-ps,cyc-iag,num-iag");
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[1], Algorithm::LagWK);
  EXPECT_THROW(parse_algorithm_list("gd,lag"), Error);
  EXPECT_THROW(parse_algorithm_list("gd,,lag-wk"), Error);
  EXPECT_THROW(parse_algorithm_list("gd,gd"), Error);
}

}  // namespace
}  // namespace lag
