// `mpirun -np R lag train` end to end: bit-identical to the single-process run for R = 1, 2, 3, 4
// and every algorithm, for least squares, logistic, softmax and the MLP, with every rank loading
// only its own workers' rows (and opening only their files, seen by strace); every iteration's
// bytes equal to their formula; a bad file on one rank that ends every rank with that rank's
// message, the one a single process prints. Rank failures: test_mpi_liveness.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../class_files.hpp"
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
using lag::test::mpirun_command;
using lag::test::read_json;
using lag::test::read_text;
using lag::test::write_class_files;

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

// The part of each "lag: error: ..." line after the prefix (and the rank, under mpirun).
std::vector<std::string> error_lines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    const std::string prefix = "lag: error: ";
    if (line.rfind(prefix, 0) != 0) continue;
    lines.push_back(line.substr(prefix.size()));
  }
  return lines;
}

class Mpi : public lag::test::TempDirTest {
 protected:
  // `args` fails alone and on 2 ranks with the same one error line, which rank `reporter`
  // prints under mpirun; every rank exits 1 and nothing is written.
  void expect_same_error(const std::string& args, int reporter) {
    const Result single = lag(args + " --quiet --out " + path("single"));
    ASSERT_EQ(single.status, 1) << single.output;
    const auto expected = error_lines(single.output);
    ASSERT_EQ(expected.size(), 1u) << single.output;
    const Result multi = mpirun(2, args + " --quiet --out " + path("multi"));
    EXPECT_EQ(multi.status, 1) << multi.output;
    EXPECT_EQ(error_lines(multi.output),
              std::vector<std::string>{"rank " + std::to_string(reporter) + ": " + expected[0]})
        << multi.output;
    EXPECT_FALSE(fs::exists(path("multi")));
  }

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

// Softmax and the MLP, all five algorithms, one file per worker: every rank reads only its own
// files, and the label set (K) and the dimension are known only from the last worker's file.
TEST_P(MpiRanks, SoftmaxAndMlpPerWorkerFilesMatchTheSingleProcessRunBitForBit) {
  const int R = GetParam();
  write_class_files(path("data"), 4, 30, 7, 5);
  for (const std::string model : {"softmax", "mlp --hidden 5"}) {
    const std::string args = "train --data " + path("data") + " --model " + model +
                             " --lambda 0.01 --algo gd,lag-wk,lag-ps,cyc-iag,num-iag "
                             "--max-iters 40 --quiet --out ";
    const std::string name = model.substr(0, model.find(' '));
    const Result single = lag(args + path(name + "-single"));
    ASSERT_EQ(single.status, 0) << single.output;
    ASSERT_EQ(read_json(path(name + "-single/summary.json"))["classes"], 4);
    const Result multi = mpirun(R, args + path(name + "-multi"));
    ASSERT_EQ(multi.status, 0) << multi.output;
    expect_identical(name + "-single", name + "-multi", R);
  }
}

// --standardize: the statistics are sums over every worker's rows added in worker order across
// the ranks, so the mapped rows, every iterate and the statistics written have the single
// process's bits; per-worker files and one file split by rank 0.
TEST_P(MpiRanks, StandardizedRunsMatchTheSingleProcessRunBitForBit) {
  const int R = GetParam();
  write_class_files(path("data"), 4, 30, 7, 5);
  ASSERT_EQ(lag("gen hetero --workers 1 --rows 120 --dim 6 --out " + path("one")).status, 0);
  struct Case {
    std::string name, args;
  };
  for (const Case& c : {Case{"files", "--data " + path("data") + " --model softmax"},
                        Case{"split", "--data " + path("one") + " --workers 4 --partition iid"}}) {
    const std::string args =
        "train " + c.args + " --standardize --bias --algo gd,lag-wk --max-iters 40 --quiet --out ";
    const Result single = lag(args + path(c.name + "-single"));
    ASSERT_EQ(single.status, 0) << single.output;
    const Result multi = mpirun(R, args + path(c.name + "-multi"));
    ASSERT_EQ(multi.status, 0) << multi.output;
    expect_identical(c.name + "-single", c.name + "-multi", R);
    EXPECT_EQ(read_text(path(c.name + "-single/standardization.json")),
              read_text(path(c.name + "-multi/standardization.json")));
  }
}

// LAQ, EF21 and CLAG: the ranks' packed payloads (codes and radius; Top-k values and indices)
// cross MPI, rank 0 decodes and adds them in worker order: the single process's bits. Rank 0's
// physical bytes up are the other ranks' uploads times the payload, as the ledger counts them.
TEST_P(MpiRanks, CompressedAlgorithmsMatchTheSingleProcessRunBitForBit) {
  const int R = GetParam();
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  for (const std::string precision : {"fp64", "fp32"}) {
    const std::string args = "train --data " + path("data") +
                             " --algo laq,ef21,clag --bits 3 --topk 4 --zeta 2 --max-iters 80 "
                             "--precision " +
                             precision + " --optimum auto --quiet --out ";
    const Result single = lag(args + path(precision + "-single"));
    ASSERT_EQ(single.status, 0) << single.output;
    const Result multi = mpirun(R, args + path(precision + "-multi"));
    ASSERT_EQ(multi.status, 0) << multi.output;
    expect_identical(precision + "-single", precision + "-multi", R);
    // Every upload of a worker off rank 0 crossed as its payload.
    const std::size_t value = precision == "fp64" ? 8 : 4;
    for (const auto& row : lag::test::metrics_table(path(precision + "-multi/metrics.csv"))) {
      if (row.at("iter") == "0") continue;
      const std::string& senders = row.at("senders");
      std::uint64_t remote = 0;
      for (int m = 0; m < 4; ++m)
        if (senders[m] == '1' && lag::mpi::rank_of_worker(4, R, m) != 0) ++remote;
      const std::string algo = row.at("algo");
      const bool first = row.at("iter") == "1";
      const std::uint64_t each = algo == "laq" ? value + (20 * 3 + 7) / 8
                                 : first       ? 20 * value
                                               : 4 * (value + 4);
      // LAQ's and CLAG's rules are agreed by a maximum over the flags after the first round.
      const std::uint64_t flags =
          algo == "ef21" || first ? 0 : static_cast<std::uint64_t>(R - 1) * 4;
      EXPECT_EQ(std::stoull(row.at("physical_bytes_up")), remote * each + flags)
          << algo << " iteration " << row.at("iter");
    }
  }
}

// Minibatches: every worker's sampler is its own (seed, global worker index), so the draws, and
// with them every row and bit, are those of one process.
TEST_P(MpiRanks, StochasticAlgorithmsMatchTheSingleProcessRunBitForBit) {
  const int R = GetParam();
  write_class_files(path("data"), 4, 30, 7, 5);
  for (const std::string precision : {"fp64", "fp32"}) {
    const std::string args = "train --data " + path("data") +
                             " --model softmax --lambda 0.01 --algo sgd,lasg-wk,lasg-ps "
                             "--batch-size 7 --lr-schedule inv-sqrt --max-skip 3 --xi 0.5 "
                             "--max-iters 40 --precision " +
                             precision + " --quiet --out ";
    const Result single = lag(args + path(precision + "-single"));
    ASSERT_EQ(single.status, 0) << single.output;
    const Result multi = mpirun(R, args + path(precision + "-multi"));
    ASSERT_EQ(multi.status, 0) << multi.output;
    expect_identical(precision + "-single", precision + "-multi", R);
  }
}

INSTANTIATE_TEST_SUITE_P(R, MpiRanks, ::testing::Values(1, 2, 4));

// Logistic over per-worker files with labels 0/1 (mapped to -1/+1 on every rank), L* by Newton's
// method over the ranks' shares, held-out rows on rank 0, blocks of 2, 1, 1.
TEST_F(Mpi, LogisticPerWorkerFilesWithOptimumAutoAndTestRowsMatchesBitForBit) {
  write_class_files(path("data"), 4, 40, 6, 9);
  // Two classes: every label above 1 becomes 1.
  for (int m = 1; m <= 4; ++m) {
    const std::string file = path("data/shard-" + std::to_string(m) + ".svm");
    std::string text = read_text(file);
    for (std::size_t at = 0; at < text.size(); at = text.find('\n', at) + 1)
      if (text[at] > '1') text[at] = '1';
    std::ofstream(file) << text;
  }
  write_class_files(path("test"), 1, 20, 3, 4);
  const std::string args = "train --data " + path("data") + " --test-data " +
                           path("test/shard-1.svm") +
                           " --model logistic --lambda 0.01 --algo gd,lag-wk,lag-ps --max-iters 60 "
                           "--optimum auto --quiet --out ";
  const Result single = lag(args + path("single"));
  ASSERT_EQ(single.status, 0) << single.output;
  EXPECT_NE(single.output.find("labels {0,1} mapped"), std::string::npos) << single.output;
  const Result multi = mpirun(3, args + path("multi"));
  ASSERT_EQ(multi.status, 0) << multi.output;
  expect_identical("single", "multi", 3);
  EXPECT_EQ(read_json(path("multi/summary.json"))["test_rows"], 20);
}

// Which data files each rank opened, from strace's record of the rank's open calls: a rank of
// the job opens only its own workers' files (and rank 0 the test rows); with one file split over
// the workers, rank 0 alone reads it. Skipped where strace is missing or may not trace.
TEST_F(Mpi, EachRankOpensOnlyItsOwnWorkersFiles) {
  if (lag::test::run_command("strace -qq -e trace=openat true").status != 0)
    GTEST_SKIP() << "strace is not available here";
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 8 --out " + path("data")).status, 0);
  { std::ofstream(path("test.svm")) << "1 1:0.5 8:1\n"; }
  // The data files (shard-NN.svm, test.svm) that rank r opened for reading.
  const auto opened_by = [&](int r) {
    std::set<std::string> files;
    std::ifstream in(path("trace." + std::to_string(r)));
    for (std::string line; std::getline(in, line);) {
      const std::size_t open = line.find("open");
      const std::size_t q = line.find('"', open);
      if (open == std::string::npos || q == std::string::npos) continue;
      const std::string file = line.substr(q + 1, line.find('"', q + 1) - q - 1);
      const std::string name = fs::path(file).filename().string();
      if (name.size() > 4 && name.substr(name.size() - 4) == ".svm" &&
          line.find("O_DIRECTORY") == std::string::npos && line.find("= -1") == std::string::npos)
        files.insert(name);
    }
    return files;
  };
  const auto run = [&](const std::string& data_args) {
    for (int r = 0; r < 2; ++r) fs::remove(path("trace." + std::to_string(r)));
    const std::string traced = "sh -c 'exec strace -f -qq -e trace=open,openat -o " +
                               path("trace.") + "$OMPI_COMM_WORLD_RANK " + LAG_BINARY +
                               " train --data " + data_args +
                               " --algo lag-wk --max-iters 3 --quiet --out " + path("out") + "'";
    const Result r = mpirun_command(2, traced);
    ASSERT_EQ(r.status, 0) << r.output;
  };
  run(path("data") + " --test-data " + path("test.svm"));
  EXPECT_EQ(opened_by(0), (std::set<std::string>{"shard-01.svm", "shard-02.svm", "test.svm"}));
  EXPECT_EQ(opened_by(1), (std::set<std::string>{"shard-03.svm", "shard-04.svm"}));
  run(path("data/shard-01.svm") + " --workers 4");
  EXPECT_EQ(opened_by(0), (std::set<std::string>{"shard-01.svm"}));
  EXPECT_EQ(opened_by(1), std::set<std::string>{});
}

// A label error in one rank's file is reported by that rank, and a conflict between two ranks'
// files by rank 0, each with the very message of a single process; every rank exits 1 and
// nothing is written.
TEST_F(Mpi, LabelErrorsAreTheSingleProcessErrorsFromTheRankThatHoldsTheFile) {
  write_class_files(path("data"), 4, 10, 5, 2);
  { std::ofstream(path("data/shard-4.svm"), std::ios::app) << "2.5 1:1\n"; }  // rank 1's
  expect_same_error("train --data " + path("data") + " --model softmax", 1);

  // Label 0 only in rank 0's first file, -1 only in rank 1's last.
  const std::vector<std::string> pm{"1 1:1\n0 1:2\n", "1 1:1\n", "1 2:3\n", "1 1:1\n-1 2:1\n"};
  fs::create_directories(path("pm"));
  for (std::size_t m = 0; m < pm.size(); ++m)
    std::ofstream(path("pm/w" + std::to_string(m) + ".svm")) << pm[m];
  expect_same_error("train --data " + path("pm") + " --model logistic", 0);
}

// L* for softmax (and the MLP) would need a full solve over every rank's data: --optimum auto is
// refused for them, as alone, before anything is computed (give --optimum VALUE).
TEST_F(Mpi, OptimumAutoForSoftmaxIsTheSingleProcessError) {
  write_class_files(path("data"), 2, 10, 4, 3);
  expect_same_error("train --data " + path("data") + " --model softmax --optimum auto", 0);
  EXPECT_NE(error_lines(lag("train --data " + path("data") +
                            " --model mlp --optimum auto --quiet --out " + path("o"))
                            .output)
                .at(0)
                .find("--optimum auto is available for linear and logistic models"),
            std::string::npos);
}

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

// SIGTERM to mpirun (which passes it on to the ranks): every rank finishes the iteration they
// agree on, rank 0 writes the outputs of the run so far, and nothing hangs.
TEST_F(Mpi, SigtermEndsEveryRankWithTheOutputsOfTheRunSoFar) {
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const std::string out = path("out");
  const std::string script =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "OMPI_MCA_rmaps_base_oversubscribe=1 " +
      std::string(MPIEXEC) + " -np 2 " + LAG_BINARY + " train --data " + path("data") +
      " --algo lag-wk,gd --max-iters 1000000000 --time-limit 60 --quiet --out " + out +
      " & pid=$!; for i in $(seq 600); do [ $(wc -l < " + out +
      "/metrics.csv 2>/dev/null || echo 0) -gt 3 ] && break; sleep 0.05; done; "
      "kill -TERM $pid; wait $pid; echo \"status $?\"";
  const Result r = lag::test::run_command("sh -c '" + script + "' 2>&1");
  EXPECT_LT(r.seconds, 30.0) << r.output;
  EXPECT_EQ(r.output.find("status 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("interrupted by SIGTERM"), std::string::npos) << r.output;
  const auto s = read_json(path("out/summary.json"));
  ASSERT_EQ(s["runs"].size(), 1u) << r.output;  // GD was never started
  EXPECT_EQ(s["runs"][0]["stop_reason"], "interrupted");
  EXPECT_EQ(s["ranks"], 2);
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
  // Held by name: a range-for over read_json(...)["runs"] would read a destroyed temporary.
  const auto summary = read_json(path("one/summary.json"));
  for (const auto& run : summary["runs"]) {
    EXPECT_EQ(run["physical_bytes_up"], 0) << run["algo"];
    EXPECT_EQ(run["physical_bytes_down"], 0) << run["algo"];
  }
}

// Only rank 1 reads the second file; every rank stops, with rank 1's message, before any output.
// A file split over the workers is rank 0's.
TEST_F(Mpi, MalformedFileOnOneRankStopsEveryRank) {
  ASSERT_EQ(lag("gen paper-linear --workers 1 --dim 4 --out " + path("data")).status, 0);
  { std::ofstream(path("bad.svm")) << "1 1:0.5 2:0.25\n-1 1:0.5 2:x\n"; }
  const Result r = mpirun(2, "train --data " + path("data/shard-01.svm") + " --data " +
                                 path("bad.svm") + " --quiet --out " + path("out"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("lag: error: rank 1: " + path("bad.svm") + ":2:"), std::string::npos)
      << r.output;
  EXPECT_EQ(error_lines(r.output).size(), 1u) << r.output;  // rank 0 only stops
  EXPECT_FALSE(fs::exists(path("out")));
  // Split over the workers, the file is rank 0's to read, and its error rank 0's to report.
  expect_same_error("train --data " + path("bad.svm") + " --workers 2", 0);
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
