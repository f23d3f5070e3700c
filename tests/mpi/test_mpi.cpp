// `mpirun -np R lag train` end to end: bit-identical to the single-process run for R = 1, 2, 3, 4
// and every algorithm, every iteration's bytes equal to their formula, and a bad file on one rank
// that ends every rank with that rank's message. Rank failures: test_mpi_liveness.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../run_command.hpp"
#include "../run_outputs.hpp"
#include "../temp_dir_test.hpp"
#include "exact_ledger.hpp"
#include "mpi/rank_device.hpp"
#include "mpi/worker_blocks.hpp"
#include "mpirun.hpp"

namespace fs = std::filesystem;

namespace {

using Result = lag::test::CommandResult;
Result lag(const std::string& args) { return lag::test::run_lag(args); }

using lag::test::mpirun;
using lag::test::read_json;
using lag::test::read_text;

// metrics.csv without the columns that may differ from the single-process run: the time, and the
// physical bytes (none in one process).
std::vector<std::string> metrics_rows(const fs::path& p) {
  std::vector<std::string> rows;
  for (auto fields : lag::test::metrics_table(p)) {
    for (const char* name : {"wall_seconds", "physical_bytes_up", "physical_bytes_down"})
      fields.erase(name);
    std::string joined;
    for (const auto& [name, value] : fields) joined += name + "=" + value + ",";
    rows.push_back(joined);
  }
  return rows;
}

class Mpi : public lag::test::TempDirTest {
 protected:
  // The single-process run and the R-rank run must agree bit for bit: weights, the ledger's
  // counts and every metrics row but the time.
  void expect_identical(const std::string& single, const std::string& multi, int ranks) {
    const auto a = read_json(path(single + "/summary.json"));
    const auto b = read_json(path(multi + "/summary.json"));
    EXPECT_EQ(b["ranks"], ranks);
    EXPECT_EQ(a["smoothness"], b["smoothness"]);
    EXPECT_EQ(a["worker_smoothness"], b["worker_smoothness"]);
    EXPECT_EQ(a["optimum"], b["optimum"]);
    ASSERT_EQ(a["runs"].size(), b["runs"].size());
    for (std::size_t i = 0; i < a["runs"].size(); ++i) {
      const auto& x = a["runs"][i];
      const auto& y = b["runs"][i];
      const std::string algo = x["algo"];
      for (const char* key : {"algo", "iterations", "uploads", "computes", "bytes_up", "bytes_down",
                              "control_bytes", "gd_equivalent_bytes_up", "final_loss", "grad_norm",
                              "objective_error", "stop_reason", "alpha"})
        EXPECT_EQ(x[key], y[key]) << algo << " " << key << " with " << ranks << " ranks";
      const std::string w = "/weights-" + algo + ".txt";
      EXPECT_EQ(read_text(path(single + w)), read_text(path(multi + w)))
          << algo << " with " << ranks << " ranks";
    }
    EXPECT_EQ(metrics_rows(path(single + "/metrics.csv")),
              metrics_rows(path(multi + "/metrics.csv")))
        << ranks << " ranks";
  }
};

TEST(WorkerBlocks, ContiguousBlocksCoverEveryWorkerOnce) {
  for (int M = 1; M <= 17; ++M)
    for (int R = 1; R <= M; ++R) {
      int next = 0;
      for (int r = 0; r < R; ++r) {
        const lag::mpi::WorkerBlock b = lag::mpi::worker_block(M, R, r);
        EXPECT_EQ(b.first, next) << M << " " << R << " " << r;
        EXPECT_EQ(b.count, M / R + (r < M % R ? 1 : 0));
        for (int m = b.first; m < b.end(); ++m) EXPECT_EQ(lag::mpi::rank_of_worker(M, R, m), r);
        next = b.end();
      }
      EXPECT_EQ(next, M);
    }
}

class MpiRanks : public Mpi, public ::testing::WithParamInterface<int> {};

// All five algorithms, with L* solved on rank 0 (the objective error column compares it too).
TEST_P(MpiRanks, LinearMatchesTheSingleProcessRunBitForBit) {
  const int R = GetParam();
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const std::string args = "train --data " + path("data") +
                           " --algo gd,lag-wk,lag-ps,cyc-iag,num-iag --max-iters 80 "
                           "--optimum auto --quiet --out ";
  const Result single = lag(args + path("single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const Result multi = mpirun(R, args + path("multi"));
  ASSERT_EQ(multi.status, 0) << multi.output;
  expect_identical("single", "multi", R);
}

INSTANTIATE_TEST_SUITE_P(R, MpiRanks, ::testing::Values(1, 2, 4));

// Logistic, fp32, one file split over the workers (every rank partitions it alike), and blocks
// of unequal size (4 workers on 3 ranks: 2, 1, 1).
TEST_F(Mpi, LogisticSplitFileUnevenBlocksMatchesBitForBit) {
  ASSERT_EQ(
      lag("gen hetero --model logistic --workers 2 --rows 60 --dim 8 --out " + path("data")).status,
      0);
  const std::string args = "train --data " + path("data/shard-01.svm") +
                           " --workers 4 --partition shuffle --model logistic --lambda 0.01 "
                           "--precision fp32 --algo gd,lag-wk,lag-ps --max-iters 60 --quiet --out ";
  const Result single = lag(args + path("single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const Result multi = mpirun(3, args + path("multi"));
  ASSERT_EQ(multi.status, 0) << multi.output;
  expect_identical("single", "multi", 3);
}

TEST_F(Mpi, OnlyRankZeroPrints) {
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const Result r =
      mpirun(2, "train --data " + path("data") + " --algo gd --max-iters 5 --out " + path("out"));
  ASSERT_EQ(r.status, 0) << r.output;
  std::size_t headers = 0;
  for (std::size_t at = r.output.find("smoothness L ="); at != std::string::npos;
       at = r.output.find("smoothness L =", at + 1))
    ++headers;
  EXPECT_EQ(headers, 1u) << r.output;
  EXPECT_NE(r.output.find("MPI over 2 ranks"), std::string::npos) << r.output;
}

// The time limit is the one decision that depends on a rank's own clock: rank 0's decides.
TEST_F(Mpi, TimeLimitIsDecidedByRankZero) {
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const Result r = mpirun(2, "train --data " + path("data") +
                                 " --algo lag-wk --max-iters 100000000 --eval-every 1000 "
                                 "--time-limit 0.2 --quiet --out " +
                                 path("out"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto s = read_json(path("out/summary.json"));
  EXPECT_EQ(s["runs"][0]["stop_reason"], "time_limit");
  EXPECT_GT(s["runs"][0]["iterations"].get<std::int64_t>(), 0);
}

// Every iteration's logical and physical bytes, up and down, equal their formula
// (exact_ledger.hpp) for all five algorithms, in fp32 and fp64, over 2 and 4 ranks; six workers,
// so that rank 0 holds several (whose uploads cross no boundary) and blocks are uneven on 4.
class MpiBytes : public Mpi, public ::testing::WithParamInterface<lag::test::RanksAndPrecision> {};

TEST_P(MpiBytes, EveryIterationsBytesEqualTheFormula) {
  const auto& [R, precision] = GetParam();
  using lag::test::LedgerRun;
  ASSERT_EQ(lag(LedgerRun::gen_args(path("data"))).status, 0);
  const Result r = mpirun(R, LedgerRun::train_args(path("data"), precision, path("out")));
  ASSERT_EQ(r.status, 0) << r.output;
  LedgerRun::expect_exact(path("out"), R, precision);
}

INSTANTIATE_TEST_SUITE_P(RanksAndPrecision, MpiBytes, lag::test::ranks_and_precisions(),
                         lag::test::ranks_and_precision_name);

// One rank: nothing crosses a process boundary.
TEST_F(Mpi, OneRankMovesNoPhysicalBytes) {
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const Result one =
      mpirun(1, "train --data " + path("data") +
                    " --algo gd,lag-wk,lag-ps --quiet --max-iters 3 --out " + path("one"));
  ASSERT_EQ(one.status, 0) << one.output;
  for (const auto& run : read_json(path("one/summary.json"))["runs"]) {
    EXPECT_EQ(run["physical_bytes_up"], 0) << run["algo"];
    EXPECT_EQ(run["physical_bytes_down"], 0) << run["algo"];
  }
}

// Only rank 1 reads the second file; every rank stops, with rank 1's message, before any output.
TEST_F(Mpi, MalformedFileOnOneRankStopsEveryRank) {
  ASSERT_EQ(lag("gen paper-linear --workers 1 --dim 4 --out " + path("data")).status, 0);
  { std::ofstream(path("bad.svm")) << "1 1:0.5 2:0.25\n-1 1:0.5 2:x\n"; }
  const Result r = mpirun(2, "train --data " + path("data/shard-01.svm") + " --data " +
                                 path("bad.svm") + " --quiet --out " + path("out"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("lag: error: rank 1: " + path("bad.svm") + ":2:"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(path("out")));
}

TEST_F(Mpi, FewerWorkersThanRanksIsAnError) {
  ASSERT_EQ(lag("gen paper-linear --workers 2 --dim 4 --out " + path("data")).status, 0);
  const Result r = mpirun(4, "train --data " + path("data") + " --quiet --out " + path("out"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("2 workers for 4 MPI ranks"), std::string::npos) << r.output;
}

// Without a GPU (hidden here, so that this holds on every machine), --backend cuda under
// mpirun stops every rank at once with a message that says why, instead of hanging in NCCL.
TEST_F(Mpi, CudaBackendUnderMpirunWithoutAGpuIsAClearError) {
  ASSERT_EQ(lag("gen paper-linear --workers 2 --dim 4 --out " + path("data")).status, 0);
  const Result r =
      mpirun(2, "train --data " + path("data") + " --backend cuda --quiet --out " + path("out"),
             "CUDA_VISIBLE_DEVICES=");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  const bool no_device =
      r.output.find("lag: error: rank 0: --backend cuda: no CUDA device") != std::string::npos;
  const bool no_support = r.output.find("no CUDA/NCCL support") != std::string::npos;
  EXPECT_TRUE(no_device || no_support) << r.output;
  EXPECT_FALSE(fs::exists(path("out")));
  // auto falls back to the CPU, on every rank alike.
  const Result a =
      mpirun(2, "train --data " + path("data") + " --max-iters 3 --out " + path("auto"),
             "CUDA_VISIBLE_DEVICES=");
  EXPECT_EQ(a.status, 0) << a.output;
  EXPECT_NE(a.output.find("backend cpu, MPI over 2 ranks"), std::string::npos) << a.output;
}

TEST(RankDevice, LocalRankIndexesTheDeviceListRoundRobin) {
  EXPECT_EQ(lag::mpi::device_of_local_rank({0}, 0), 0);
  EXPECT_EQ(lag::mpi::device_of_local_rank({0}, 3), 0);
  EXPECT_EQ(lag::mpi::device_of_local_rank({2, 5}, 0), 2);
  EXPECT_EQ(lag::mpi::device_of_local_rank({2, 5}, 1), 5);
  EXPECT_EQ(lag::mpi::device_of_local_rank({2, 5}, 2), 2);
  EXPECT_FALSE(lag::mpi::ranks_share_a_gpu(1, 1));
  EXPECT_FALSE(lag::mpi::ranks_share_a_gpu(4, 8));
  EXPECT_TRUE(lag::mpi::ranks_share_a_gpu(2, 1));
}

}  // namespace
