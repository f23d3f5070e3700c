// Checkpoints under mpirun: every rank writes its own workers' state, LATEST moves only when all
// have; a job whose rank dies (SIGKILL, LAG_FAULT) or that is told to stop (SIGTERM) and is
// resumed with `mpirun -np R lag train --resume DIR` writes the outputs of the job that never
// stopped, bit for bit but the time; a resume with another number of ranks is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../run_command.hpp"
#include "../run_outputs.hpp"
#include "../same_outputs.hpp"
#include "../temp_dir_test.hpp"
#include "mpirun.hpp"

namespace fs = std::filesystem;

namespace {

using lag::test::CommandResult;
using lag::test::expect_same_outputs;
using lag::test::mpirun;
using lag::test::read_text;

class MpiCheckpoint : public lag::test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    const CommandResult gen =
        lag::test::run_lag("gen paper-linear --workers 5 --dim 12 --out " + path("data"));
    ASSERT_EQ(gen.status, 0) << gen.output;
    args_ = "train --data " + path("data") +
            " --algo gd,lag-wk,lag-ps,cyc-iag,num-iag --max-iters 60 --eval-every 7"
            " --checkpoint-every 9 --quiet --out ";
    const CommandResult whole = mpirun(2, args_ + path("whole"));
    ASSERT_EQ(whole.status, 0) << whole.output;
  }
  CommandResult resume(int ranks) {
    return mpirun(ranks, "train --resume " + path("cut/checkpoint") + " --quiet");
  }
  std::string args_;
};

// Rank 1 dies at its 100th iteration (in the second run): mpirun ends the job; both ranks'
// files of the last generation are there, and the resumed job ends as the whole one.
TEST_F(MpiCheckpoint, ARankKilledMidRunResumesBitForBit) {
  const CommandResult cut =
      mpirun(2, args_ + path("cut"), "LAG_FAULT_RANK=1 LAG_FAULT_ITER=100 LAG_FAULT=kill");
  ASSERT_NE(cut.status, 0) << cut.output;
  const std::string latest = read_text(path("cut/checkpoint/LATEST"));
  ASSERT_EQ(latest, "11 2\n");  // iteration 100 is run 2's 39th: 6 + 1 + 4 checkpoints
  EXPECT_TRUE(fs::exists(path("cut/checkpoint/checkpoint-11.rank-0")));
  EXPECT_TRUE(fs::exists(path("cut/checkpoint/checkpoint-11.rank-1")));
  // Each rank holds only its own workers' state: rank 1's file is the smaller (no server).
  EXPECT_LT(fs::file_size(path("cut/checkpoint/checkpoint-11.rank-1")),
            fs::file_size(path("cut/checkpoint/checkpoint-11.rank-0")));
  const CommandResult r = resume(2);
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_outputs(path("whole"), path("cut"));
}

// Every rank killed inside its third checkpoint write: LATEST still names the second.
TEST_F(MpiCheckpoint, AKillDuringTheCheckpointWriteResumesFromThePreviousOne) {
  const CommandResult cut = mpirun(2, args_ + path("cut"), "LAG_TEST_KILL_IN_CHECKPOINT=3");
  ASSERT_NE(cut.status, 0) << cut.output;
  EXPECT_EQ(read_text(path("cut/checkpoint/LATEST")), "2 2\n");
  const CommandResult r = resume(2);
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_outputs(path("whole"), path("cut"));
}

// SIGTERM on every rank (as mpirun forwards it): each finishes the iteration, the job writes a
// checkpoint and its outputs, exits 143, and resumes to the whole job's outputs.
TEST_F(MpiCheckpoint, SigtermCheckpointsEveryRankAndResumes) {
  const CommandResult cut = mpirun(2, args_ + path("cut"), "LAG_TEST_TERM_AT_ROW=100");
  EXPECT_EQ(cut.status, 143) << cut.output;
  EXPECT_EQ(lag::test::read_json(path("cut/summary.json"))["runs"].back()["stop_reason"],
            "interrupted");
  const CommandResult r = resume(2);
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_outputs(path("whole"), path("cut"));
}

TEST_F(MpiCheckpoint, ResumingWithAnotherNumberOfRanksIsRefused) {
  const CommandResult cut =
      mpirun(2, args_ + path("cut"), "LAG_FAULT_RANK=0 LAG_FAULT_ITER=50 LAG_FAULT=kill");
  ASSERT_NE(cut.status, 0) << cut.output;
  for (int ranks : {1, 3}) {
    const CommandResult r = resume(ranks);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("was written by 2 process(es); this run has " + std::to_string(ranks) +
                            " (resume with the same mpirun -np)"),
              std::string::npos)
        << r.output;
  }
}

}  // namespace
