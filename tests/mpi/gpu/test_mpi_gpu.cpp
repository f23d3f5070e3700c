// `mpirun -np R lag train --backend cuda` end to end (one GPU per rank, NCCL bootstrapped over
// MPI) against the single-process `--backend cuda` run on one GPU. Skips without a usable GPU.
//
// What must hold: rank 0 adds the uploads one vector at a time in global worker order, with the
// kernels and order of the single-GPU run, and the same worker on the same kind of GPU computes
// the same bits (fixed-order reductions; the single-GPU run is the same rank code with one rank).
// So the trigger decisions and the ledger are identical, and so is theta, bit for bit, for the
// linear model in fp64 (the other tests allow a tolerance). Also: physical bytes are what the ranks
// hand to NCCL, and a hung rank ends the job with its name instead of leaving the others inside
// NCCL.
//
// Every rank uses device 0 (--devices 0), so that one GPU is enough: the ranks then share it,
// which NCCL allows only when each claims a host of its own (scripts/nccl-rank-hostid.sh).
//
// To run it from another folder than the build's (a machine without the sources), set
// LAG_TEST_BINARY (the lag program), LAG_TEST_MPIEXEC and LAG_TEST_SCRIPTS (the scripts folder).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "../../run_command.hpp"
#include "../../run_outputs.hpp"
#include "../../temp_dir_test.hpp"
#include "../exact_ledger.hpp"

namespace fs = std::filesystem;

namespace {

using Result = lag::test::CommandResult;

std::string from_env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
const std::string& lag_binary() {
  static const std::string b = from_env("LAG_TEST_BINARY", LAG_BINARY);
  return b;
}

Result lag(const std::string& args) { return lag::test::run_command(lag_binary() + " " + args); }

// Each rank under its own NCCL_HOSTID unless `shared_host`; root in CI containers, and more
// ranks than cores.
Result mpirun(int ranks, const std::string& args, const std::string& env = "",
              bool shared_host = false) {
  const std::string wrapper =
      shared_host ? "" : from_env("LAG_TEST_SCRIPTS", LAG_SCRIPTS) + "/nccl-rank-hostid.sh ";
  return lag::test::run_command(
      "env -u NCCL_HOSTID " + env + " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
      "OMPI_MCA_rmaps_base_oversubscribe=1 " + from_env("LAG_TEST_MPIEXEC", MPIEXEC) + " -np " +
      std::to_string(ranks) + " " + wrapper + lag_binary() + " " + args);
}

// Why this build or machine cannot run the test (CUDA, NCCL and MPI built in, device 0
// usable), or "" when it can.
std::string why_no_gpu_job() {
  static const Result info = lag("info");
  const std::string& o = info.output;
  if (info.status != 0) return "FAIL: `lag info` exited " + std::to_string(info.status) + ": " + o;
  if (o.find("NCCL: yes") == std::string::npos) return "built without NCCL";
  if (o.find("MPI: yes") == std::string::npos) return "built without MPI";
  const std::size_t at = o.find("device 0:");
  if (at == std::string::npos) {
    // Skip only without a device; a driver that is there but unusable fails.
    for (const char* absent :
         {"devices: none (no CUDA driver installed)", "devices: none (no CUDA device visible)",
          "devices: none (no CUDA-capable device is detected)"})
      if (o.find(absent) != std::string::npos) return "no CUDA device";
    return "FAIL: CUDA is unusable here: " + o;
  }
  const std::size_t end = o.find('\n', at);
  if (o.substr(at, end - at).find("cannot run kernels") != std::string::npos)
    return "FAIL: device 0 cannot run this build's kernels: " + o;
  return "";
}

double relative(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    num += (a[j] - b[j]) * (a[j] - b[j]);
    den += b[j] * b[j];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

double relative(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-300); }

class MpiGpu : public lag::test::TempDirTest {
 protected:
  void SetUp() override {
    // Only a build or a machine without a GPU skips; `lag info` failing, or a skip where
    // LAG_TEST_REQUIRE_GPU=1 (scripts/gpu-check.sh), fails.
    const std::string why = why_no_gpu_job();
    const char* required = std::getenv("LAG_TEST_REQUIRE_GPU");
    if (why.rfind("FAIL: ", 0) == 0) FAIL() << why;
    if (!why.empty() && required && std::string(required) == "1")
      FAIL() << why << ", and LAG_TEST_REQUIRE_GPU=1 forbids skipping";
    if (!why.empty()) GTEST_SKIP() << why;
    TempDirTest::SetUp();
  }

  // The same decisions and ledger (every count, per run and per metrics row), theta, loss and
  // gradient norm within `tolerance` relative.
  void expect_same_run(const std::string& single, const std::string& multi, int ranks,
                       double tolerance) {
    const auto a = lag::test::read_json(path(single + "/summary.json"));
    const auto b = lag::test::read_json(path(multi + "/summary.json"));
    EXPECT_EQ(b["ranks"], ranks);
    EXPECT_NE(b["backend"].get<std::string>().find("cuda, one GPU per rank"), std::string::npos)
        << b["backend"];
    ASSERT_EQ(a["runs"].size(), b["runs"].size());
    for (std::size_t i = 0; i < a["runs"].size(); ++i) {
      const auto& x = a["runs"][i];
      const auto& y = b["runs"][i];
      const std::string algo = x["algo"];
      for (const char* key : {"algo", "iterations", "uploads", "computes", "bytes_up", "bytes_down",
                              "control_bytes", "gd_equivalent_bytes_up", "stop_reason", "alpha"})
        EXPECT_EQ(x[key], y[key]) << algo << " " << key << " with " << ranks << " ranks";
      for (const char* key : {"final_loss", "grad_norm"})
        EXPECT_LE(relative(y[key].get<double>(), x[key].get<double>()), tolerance)
            << algo << " " << key << " with " << ranks << " ranks";
      const std::string w = "/weights-" + algo + ".txt";
      const auto ta = lag::test::read_numbers(path(single + w));
      const auto tb = lag::test::read_numbers(path(multi + w));
      ASSERT_FALSE(ta.empty());
      EXPECT_LE(relative(tb, ta), tolerance) << algo << " theta with " << ranks << " ranks";
    }
    // Per row: who computed and who uploaded, iteration by iteration, and the ledger's counts.
    const auto ra = lag::test::metrics_table(path(single + "/metrics.csv"));
    const auto rb = lag::test::metrics_table(path(multi + "/metrics.csv"));
    ASSERT_EQ(ra.size(), rb.size());
    for (std::size_t t = 0; t < ra.size(); ++t)
      for (const char* c :
           {"algo", "iter", "uploads", "bytes_up", "bytes_down", "control_bytes", "cum_uploads",
            "cum_bytes_up", "cum_bytes_down", "cum_control_bytes", "computes", "senders"})
        EXPECT_EQ(ra[t].at(c), rb[t].at(c))
            << "metrics row " << t << " column " << c << " with " << ranks << " ranks";
  }
};

class MpiGpuRanks : public MpiGpu, public ::testing::WithParamInterface<int> {};

// All five algorithms in fp64, L* solved on rank 0: bit-identical to the single-GPU run on 1, 2
// and 4 ranks. One rank: nothing crosses a process boundary.
TEST_P(MpiGpuRanks, LinearMatchesTheSingleGpuRun) {
  const int R = GetParam();
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const std::string args = "train --data " + path("data") +
                           " --algo gd,lag-wk,lag-ps,cyc-iag,num-iag --max-iters 80 "
                           "--optimum auto --backend cuda --devices 0 --quiet --out ";
  const Result single = lag(args + path("single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const Result multi = mpirun(R, args + path("multi"));
  ASSERT_EQ(multi.status, 0) << multi.output;
  expect_same_run("single", "multi", R, 0.0);
  for (const char* algo : {"gd", "lag-wk", "lag-ps", "cyc-iag", "num-iag"}) {
    const std::string w = std::string("/weights-") + algo + ".txt";
    EXPECT_EQ(lag::test::read_text(path("single" + w)), lag::test::read_text(path("multi" + w)))
        << algo << " with " << R << " ranks";
  }
  if (R == 1) {
    // Held by name: a range-for over read_json(...)["runs"] would read a destroyed temporary.
    const auto summary = lag::test::read_json(path("multi/summary.json"));
    for (const auto& run : summary["runs"]) {
      EXPECT_EQ(run["physical_bytes_up"], 0) << run["algo"];
      EXPECT_EQ(run["physical_bytes_down"], 0) << run["algo"];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(R, MpiGpuRanks, ::testing::Values(1, 2, 4));

// Logistic in fp32, one file split over the workers, blocks of unequal size (4 workers on 3
// ranks: 2, 1, 1), CUDA graphs off (the g/g_hat swap instead of the copy).
TEST_F(MpiGpu, LogisticFp32UnevenBlocksMatchesTheSingleGpuRun) {
  ASSERT_EQ(
      lag("gen hetero --model logistic --workers 2 --rows 60 --dim 8 --out " + path("data")).status,
      0);
  const std::string args = "train --data " + path("data/shard-01.svm") +
                           " --workers 4 --partition shuffle --model logistic --lambda 0.01 "
                           "--precision fp32 --algo gd,lag-wk,lag-ps --max-iters 60 "
                           "--backend cuda --devices 0 --cuda-graphs off --quiet --out ";
  const Result single = lag(args + path("single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const Result multi = mpirun(3, args + path("multi"));
  ASSERT_EQ(multi.status, 0) << multi.output;
  expect_same_run("single", "multi", 3, 1e-6);
}

// Softmax: cuBLAS inside the captured per-rank graph, three classes over three workers.
TEST_F(MpiGpu, SoftmaxMatchesTheSingleGpuRun) {
  fs::create_directories(path("data"));
  for (int m = 0; m < 3; ++m) {
    std::ofstream out(path("data/shard-0" + std::to_string(m + 1) + ".svm"));
    for (int i = 0; i < 40; ++i) {
      out << (i * 7 + m) % 3;
      for (int j = 1; j <= 5; ++j) out << " " << j << ":" << std::sin(0.37 * i + 1.3 * j + m);
      out << "\n";
    }
  }
  const std::string args = "train --data " + path("data") +
                           " --model softmax --lambda 0.01 --algo gd,lag-wk --max-iters 40 "
                           "--backend cuda --devices 0 --quiet --out ";
  const Result single = lag(args + path("single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const Result multi = mpirun(2, args + path("multi"));
  ASSERT_EQ(multi.status, 0) << multi.output;
  expect_same_run("single", "multi", 2, 1e-12);
}

// Every iteration's logical and physical bytes, up and down, equal their formula
// (../exact_ledger.hpp: the payload handed to NCCL, for the whole job) for all five algorithms,
// in fp32 and fp64, over 2 and 4 ranks; six workers, so that rank 0 holds several.
class MpiGpuBytes : public MpiGpu,
                    public ::testing::WithParamInterface<lag::test::RanksAndPrecision> {};

TEST_P(MpiGpuBytes, EveryIterationsBytesEqualTheFormula) {
  const auto& [R, precision] = GetParam();
  using lag::test::LedgerRun;
  ASSERT_EQ(lag(LedgerRun::gen_args(path("data"))).status, 0);
  const Result r = mpirun(R, LedgerRun::train_args(path("data"), precision, path("out")) +
                                 " --backend cuda --devices 0");
  ASSERT_EQ(r.status, 0) << r.output;
  LedgerRun::expect_exact(path("out"), R, precision);
}

INSTANTIATE_TEST_SUITE_P(RanksAndPrecision, MpiGpuBytes, lag::test::ranks_and_precisions(),
                         lag::test::ranks_and_precision_name);

// A rank that stops answering (inside its computation) while the others wait inside NCCL: the
// job ends within the deadline, naming it, instead of hanging.
TEST_F(MpiGpu, HungRankIsNamedAndEveryRankEnds) {
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const Result r = mpirun(2,
                          "train --data " + path("data") +
                              " --algo lag-wk --backend cuda --devices 0 --max-iters 200 --quiet "
                              "--out " +
                              path("out"),
                          "LAG_MPI_TIMEOUT=3 LAG_FAULT=hang LAG_FAULT_RANK=1 LAG_FAULT_ITER=20");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_LT(r.seconds, 30.0);
  EXPECT_NE(r.output.find("no answer from rank 1 within"), std::string::npos) << r.output;
}

// Two ranks on one GPU of one machine, without a host id each: refused up front, with the way
// out, instead of NCCL's "invalid usage".
TEST_F(MpiGpu, RanksSharingAGpuWithoutHostIdsIsAClearError) {
  ASSERT_EQ(lag("gen paper-linear --workers 4 --dim 20 --out " + path("data")).status, 0);
  const Result r = mpirun(
      2,
      "train --data " + path("data") + " --backend cuda --devices 0 --quiet --out " + path("out"),
      "", true);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("2 ranks on this machine share 1 GPU"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NCCL_HOSTID"), std::string::npos) << r.output;
}

}  // namespace
