// Checkpoints end to end: `lag train` killed (SIGKILL, as a pre-empted job dies) at chosen
// points and resumed with `lag train --resume DIR` writes the metrics.csv, weights and
// summary.json of the run that was never stopped, bit for bit (only the wall-clock columns may
// differ); SIGTERM writes a checkpoint too; a checkpoint that does not match the run, or is
// damaged, is refused with one line saying why, before anything in the output folder changes.
//
// The kill points are the program's test hooks (src/common/test_signal.hpp): after the n-th
// metrics row, or inside the n-th checkpoint write.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../class_files.hpp"
#include "../run_command.hpp"
#include "../run_outputs.hpp"
#include "../same_outputs.hpp"
#include "../temp_dir_test.hpp"

namespace fs = std::filesystem;

namespace {

using lag::test::CommandResult;
using lag::test::expect_same_outputs;
using lag::test::read_json;
using lag::test::read_text;
using lag::test::run_lag;

class Checkpoint : public lag::test::TempDirTest {
 protected:
  // The run, to completion, into `out`.
  void run_whole(const std::string& args, const std::string& out) {
    const CommandResult r = run_lag("train " + args + " --quiet --out " + path(out));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // The run into `out`, killed by the test hook `hook`=`at`; it must have died by SIGKILL.
  void run_killed(const std::string& args, const std::string& out, const std::string& hook,
                  int at) {
    const CommandResult r =
        lag::test::run_command(hook + "=" + std::to_string(at) + " " + LAG_BINARY + " train " +
                               args + " --quiet --out " + path(out) + " 2>&1");
    ASSERT_EQ(r.status, 128 + 9) << "not killed at " << hook << "=" << at << ":\n" << r.output;
  }
  CommandResult resume(const std::string& out, const std::string& more = "") {
    return run_lag("train --resume " + path(out + "/checkpoint") + " " + more);
  }
  // Kills a run at each of `rows` (a new run each time), resumes it and compares.
  void expect_kills_resume_exactly(const std::string& args, const std::vector<int>& rows) {
    run_whole(args, "whole");
    for (int row : rows) {
      SCOPED_TRACE("killed after metrics row " + std::to_string(row));
      fs::remove_all(path("cut"));
      run_killed(args, "cut", "LAG_TEST_KILL_AT_ROW", row);
      const CommandResult r = resume("cut", "--quiet");
      ASSERT_EQ(r.status, 0) << r.output;
      expect_same_outputs(path("whole"), path("cut"));
    }
  }
};

// The five algorithms one after another (61 rows each: iterations 0..60), killed inside the
// first run, inside the second, just after the second finished, and inside the last.
constexpr const char* kAllAlgorithms =
    " --algo gd,lag-wk,lag-ps,cyc-iag,num-iag --max-iters 60 --eval-every 7 --checkpoint-every 9";

TEST_F(Checkpoint, LinearFp64AndFp32ResumeBitForBit) {
  ASSERT_EQ(run_lag("gen paper-linear --workers 4 --dim 12 --out " + path("data")).status, 0);
  for (const std::string precision : {"fp64", "fp32"}) {
    SCOPED_TRACE(precision);
    expect_kills_resume_exactly(
        "--data " + path("data") + " --precision " + precision + " --optimum auto" + kAllAlgorithms,
        {20, 100, 123, 290});
  }
}

// LAQ, EF21 and CLAG keep more state per worker (LAQ's error and skip count, CLAG's previous
// gradient): killed in each of them, resumed to the same bits.
TEST_F(Checkpoint, CompressedAlgorithmsResumeBitForBit) {
  ASSERT_EQ(run_lag("gen paper-linear --workers 4 --dim 12 --out " + path("data")).status, 0);
  expect_kills_resume_exactly("--data " + path("data") +
                                  " --algo laq,ef21,clag --bits 3 --max-skip 5 --topk 3"
                                  " --zeta 2 --max-iters 60 --eval-every 7 --checkpoint-every 9",
                              {30, 75, 140});
}

// On minibatches: the samplers' positions, LASG-WK's theta_hat, LASG-PS's skip counts and the
// epochs so far come back; killed in each of the three, resumed to the same bits (summary.json's
// per-epoch rows included).
TEST_F(Checkpoint, StochasticAlgorithmsResumeBitForBit) {
  lag::test::write_class_files(path("data"), 4, 30, 7, 5);
  expect_kills_resume_exactly("--data " + path("data") +
                                  " --model softmax --lambda 0.01 --algo sgd,lasg-wk,lasg-ps"
                                  " --batch-size 7 --lr-schedule inv-sqrt --max-skip 3 --xi 0.5"
                                  " --max-iters 60 --checkpoint-every 9",
                              {25, 80, 150});
}

TEST_F(Checkpoint, LogisticFp64AndFp32ResumeBitForBit) {
  ASSERT_EQ(
      run_lag("gen hetero --model logistic --workers 4 --dim 8 --rows 40 --out " + path("data"))
          .status,
      0);
  for (const std::string precision : {"fp64", "fp32"}) {
    SCOPED_TRACE(precision);
    expect_kills_resume_exactly("--data " + path("data") + " --model logistic --lambda 0.01" +
                                    " --precision " + precision + kAllAlgorithms,
                                {30, 150});
  }
}

TEST_F(Checkpoint, SoftmaxAndMlpFp64AndFp32ResumeBitForBit) {
  lag::test::write_class_files(path("data"), 4, 30, 7, 5);
  for (const std::string model : {"softmax", "mlp --hidden 5"})
    for (const std::string precision : {"fp64", "fp32"}) {
      SCOPED_TRACE(model + " " + precision);
      expect_kills_resume_exactly("--data " + path("data") + " --model " + model +
                                      " --lambda 0.01 --precision " + precision + kAllAlgorithms,
                                  {40, 200});
    }
}

// Killed while writing its third checkpoint: the second is intact and LATEST names it; the
// half-written one is never read.
TEST_F(Checkpoint, AKillDuringACheckpointWriteLeavesThePreviousOne) {
  ASSERT_EQ(run_lag("gen paper-linear --workers 4 --dim 12 --out " + path("data")).status, 0);
  const std::string args = "--data " + path("data") + kAllAlgorithms;
  run_whole(args, "whole");
  run_killed(args, "cut", "LAG_TEST_KILL_IN_CHECKPOINT", 3);
  EXPECT_EQ(read_text(path("cut/checkpoint/LATEST")), "2 1\n");
  EXPECT_TRUE(fs::exists(path("cut/checkpoint/checkpoint-2.rank-0")));
  EXPECT_TRUE(fs::exists(path("cut/checkpoint/checkpoint-3.rank-0.tmp")));
  const CommandResult r = resume("cut", "--quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_outputs(path("whole"), path("cut"));
  // The resumed run's checkpoints replaced the old ones, the temporary file included.
  EXPECT_FALSE(fs::exists(path("cut/checkpoint/checkpoint-3.rank-0.tmp")));
  EXPECT_FALSE(fs::exists(path("cut/checkpoint/checkpoint-2.rank-0")));
}

// Killed, resumed, killed again in the resumed run, resumed again.
TEST_F(Checkpoint, ARunKilledTwiceResumesTwice) {
  ASSERT_EQ(run_lag("gen paper-linear --workers 4 --dim 12 --out " + path("data")).status, 0);
  const std::string args = "--data " + path("data") + kAllAlgorithms;
  run_whole(args, "whole");
  run_killed(args, "cut", "LAG_TEST_KILL_AT_ROW", 50);
  const CommandResult again =
      lag::test::run_command("LAG_TEST_KILL_AT_ROW=100 " + std::string(LAG_BINARY) +
                             " train --resume " + path("cut/checkpoint") + " --quiet 2>&1");
  ASSERT_EQ(again.status, 137) << again.output;
  const CommandResult r = resume("cut", "--quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_outputs(path("whole"), path("cut"));
}

// SIGTERM (at a row the hook picks; the run stops at its next check) writes the outputs with
// stop_reason interrupted and a checkpoint, exits 143; the resumed run ends as the whole one.
// No --checkpoint-every: the signal's checkpoint is the only one.
TEST_F(Checkpoint, SigtermWritesACheckpointThatResumesExactly) {
  ASSERT_EQ(run_lag("gen paper-linear --workers 4 --dim 12 --out " + path("data")).status, 0);
  const std::string args =
      "--data " + path("data") + " --algo lag-wk,lag-ps --max-iters 40000 --eval-every 100";
  run_whole(args, "whole");
  const CommandResult cut =
      lag::test::run_command("LAG_TEST_TERM_AT_ROW=30 " + std::string(LAG_BINARY) + " train " +
                             args + " --quiet --out " + path("cut") + " 2>&1");
  ASSERT_EQ(cut.status, 143) << cut.output;
  const auto summary = read_json(path("cut/summary.json"));
  ASSERT_EQ(summary["runs"].size(), 1u);
  EXPECT_EQ(summary["runs"][0]["stop_reason"], "interrupted");
  ASSERT_EQ(read_text(path("cut/checkpoint/LATEST")), "1 1\n");
  const CommandResult r = resume("cut", "--quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_outputs(path("whole"), path("cut"));
}

class CheckpointErrors : public Checkpoint {
 protected:
  void SetUp() override {
    Checkpoint::SetUp();
    ASSERT_EQ(run_lag("gen paper-linear --workers 4 --dim 12 --out " + path("data")).status, 0);
    run_killed("--data " + path("data") + kAllAlgorithms, "cut", "LAG_TEST_KILL_AT_ROW", 100);
    metrics_ = read_text(path("cut/metrics.csv"));
  }
  // The resume fails with exit status 1 and an error line holding `expected`, and leaves the
  // output folder as it was.
  void expect_refused(const std::string& more, const std::string& expected) {
    const CommandResult r = resume("cut", more + " --quiet");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("lag: error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
    EXPECT_EQ(read_text(path("cut/metrics.csv")), metrics_);
    EXPECT_FALSE(fs::exists(path("cut/summary.json")));
  }
  std::string checkpoint_file() const { return path("cut/checkpoint/checkpoint-11.rank-0"); }
  void rewrite_byte(std::size_t at, char value) {
    std::string bytes = read_text(checkpoint_file());
    ASSERT_LT(at, bytes.size());
    bytes[at] = value;
    std::ofstream(checkpoint_file(), std::ios::binary) << bytes;
  }
  std::string metrics_;
};

TEST_F(CheckpointErrors, OptionsThatChangeTheResultsMustNotDiffer) {
  ASSERT_EQ(read_text(path("cut/checkpoint/LATEST")), "11 1\n");
  expect_refused("--precision fp32", "--precision is fp64 there and fp32 here");
  expect_refused("--algo gd,lag-wk", "--algo is gd,lag-wk,lag-ps,cyc-iag,num-iag there");
  expect_refused("--max-iters 61", "--max-iters is 60 there and 61 here");
  expect_refused("--alpha 0.001", "the step size (--alpha, default 1/L) is");
  expect_refused("--seed 2", "--seed is 1 there and 2 here");
}

TEST_F(CheckpointErrors, OtherDataIsRefused) {
  std::string shard = read_text(path("data/shard-02.svm"));
  shard[shard.find('.') + 1] = shard[shard.find('.') + 1] == '1' ? '2' : '1';
  std::ofstream(path("data/shard-02.svm"), std::ios::binary) << shard;
  expect_refused("", "the checksum of this process's data is");
}

TEST_F(CheckpointErrors, ATruncatedCheckpointIsRefused) {
  const std::string bytes = read_text(checkpoint_file());
  std::ofstream(checkpoint_file(), std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  expect_refused("", "is truncated: " + std::to_string(bytes.size() - 132) +
                         " bytes of contents where the header says " +
                         std::to_string(bytes.size() - 32));
}

TEST_F(CheckpointErrors, ACorruptCheckpointIsRefused) {
  const std::size_t middle = read_text(checkpoint_file()).size() / 2;
  rewrite_byte(middle, static_cast<char>(read_text(checkpoint_file())[middle] ^ 0x10));
  expect_refused("", "is corrupt: its checksum does not match its contents");
}

TEST_F(CheckpointErrors, ADamagedHeaderIsRefused) {
  rewrite_byte(0, 'X');
  expect_refused("", "is not a checkpoint of this program");
}

TEST_F(CheckpointErrors, AnotherFormatVersionIsRefused) {
  rewrite_byte(8, 7);
  expect_refused("", "has format version 7; this build reads version 2");
}

TEST_F(CheckpointErrors, AMissingCheckpointIsRefused) {
  fs::remove(checkpoint_file());
  expect_refused("", "checkpoint-11.rank-0 does not exist");
  fs::remove(path("cut/checkpoint/LATEST"));
  expect_refused("", "no checkpoint in");
}

TEST_F(CheckpointErrors, AChangedMetricsFileIsRefused) {
  std::string changed = metrics_;
  changed[changed.size() / 3] = changed[changed.size() / 3] == '1' ? '2' : '1';
  std::ofstream(path("cut/metrics.csv"), std::ios::binary) << changed;
  metrics_ = changed;
  expect_refused("", "is not the one the checkpoint was written with");
}

// A run that does not resume removes the checkpoints an earlier run left in its folder: none of
// them could continue it.
TEST_F(CheckpointErrors, AFreshRunClearsTheFolder) {
  const CommandResult r = run_lag("train --data " + path("data") +
                                  " --algo gd --max-iters 5 --quiet --out " + path("cut"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(path("cut/checkpoint/LATEST")));
  EXPECT_FALSE(fs::exists(checkpoint_file()));
}

}  // namespace
