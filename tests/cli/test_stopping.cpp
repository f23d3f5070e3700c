// How `lag train` ends when it is told to (SIGINT, SIGTERM) or cannot write: the outputs say
// what happened, the exit status is the conventional one, and a summary.json that claims a
// finished run never exists when the run did not finish.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../run_command.hpp"
#include "../run_outputs.hpp"
#include "../temp_dir_test.hpp"

namespace fs = std::filesystem;

namespace {

using lag::test::run_command;
using lag::test::run_lag;

class Stopping : public lag::test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ASSERT_EQ(run_lag("gen paper-linear --out " + path("data")).status, 0);
  }

  // Starts a run that would take hours, waits until it has written a few metrics rows (it is
  // training), sends `signal`, and returns the program's exit status and output.
  lag::test::CommandResult interrupt(const std::string& signal, const std::string& algos) {
    const std::string out = path("out");
    const std::string script =
        std::string(LAG_BINARY) + " train --data " + path("data") + " --algo " + algos +
        " --max-iters 1000000000 --time-limit 30 --quiet --out " + out + " & pid=$!; " +
        "for i in $(seq 600); do [ $(wc -l < " + out +
        "/metrics.csv 2>/dev/null || echo 0) -gt 3 ] && break; sleep 0.05; done; " + "kill -" +
        signal + " $pid; wait $pid; echo \"status $?\"";
    return run_command("sh -c '" + script + "' 2>&1");
  }
};

int status_of(const lag::test::CommandResult& r) {
  const auto at = r.output.rfind("status ");
  return at == std::string::npos ? -1 : std::stoi(r.output.substr(at + 7));
}

TEST_F(Stopping, SigtermFinishesTheIterationWritesTheOutputsAndExits143) {
  const auto r = interrupt("TERM", "lag-wk,gd");
  EXPECT_EQ(status_of(r), 143) << r.output;
  EXPECT_NE(r.output.find("interrupted by SIGTERM"), std::string::npos) << r.output;
  const auto summary = lag::test::read_json(path("out/summary.json"));
  ASSERT_EQ(summary["runs"].size(), 1u);  // GD, after LAG-WK, was never started
  const auto& run = summary["runs"][0];
  EXPECT_EQ(run["stop_reason"], "interrupted");
  EXPECT_GT(run["iterations"].get<long long>(), 0);
  // The last metrics row is the final iterate, evaluated, and the weights are that iterate.
  const auto rows = lag::test::metrics_table(path("out/metrics.csv"));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(std::stoll(rows.back().at("iter")), run["iterations"].get<long long>());
  EXPECT_FALSE(rows.back().at("loss").empty());
  EXPECT_EQ(lag::test::read_numbers(path("out/weights-lag-wk.txt")).size(), 50u);
}

TEST_F(Stopping, SigintExits130) {
  const auto r = interrupt("INT", "gd");
  EXPECT_EQ(status_of(r), 130) << r.output;
  EXPECT_EQ(lag::test::read_json(path("out/summary.json"))["runs"][0]["stop_reason"],
            "interrupted");
}

// /dev/full behind an output's name: every write fails with ENOSPC, as on a full disk (and
// unlike a read-only folder, also when the tests run as root).
TEST_F(Stopping, FullDiskForTheMetricsEndsTheRunWithoutASummary) {
  fs::create_directories(path("out"));
  fs::create_symlink("/dev/full", path("out/metrics.csv"));
  // An earlier run's summary must not survive to claim that this one finished.
  ASSERT_EQ(run_command("echo '{\"runs\": []}' > " + path("out/summary.json")).status, 0);
  // Hours of iterations: the run must end at the first failed write, not at its end.
  const auto r =
      run_lag("train --data " + path("data") +
              " --algo gd --max-iters 1000000000 --time-limit 20 --quiet --out " + path("out"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_LT(r.seconds, 10.0);
  EXPECT_NE(r.output.find("cannot write " + path("out/metrics.csv") + ": No space left on device"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(path("out/summary.json")));
  EXPECT_FALSE(fs::exists(path("out/summary.json.tmp")));
}

TEST_F(Stopping, FullDiskForTheWeightsEndsTheRunWithoutASummary) {
  fs::create_directories(path("out"));
  fs::create_symlink("/dev/full", path("out/weights-gd.txt"));
  const auto r = run_lag("train --data " + path("data") +
                         " --algo gd --max-iters 20 --quiet --out " + path("out"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("cannot write " + path("out/weights-gd.txt")), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(path("out/summary.json")));
}

TEST_F(Stopping, OutputFolderThatIsAFileIsAClearError) {
  ASSERT_EQ(run_command("echo x > " + path("out")).status, 0);
  const auto r = run_lag("train --data " + path("data") +
                         " --algo gd --max-iters 5 --quiet --out " + path("out"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("cannot create output folder " + path("out")), std::string::npos)
      << r.output;
}

}  // namespace
