// The trainer's own liveness under `mpirun -np 4 lag train`: faults that Open MPI's mpirun does
// not report by itself (a rank that stops answering, a rank that leaves the job cleanly with
// MPI_Finalize; and a killed rank under an mpirun told not to stop the job) must end every other
// rank with the trainer's own line naming the faulty rank, and exit status 1, within the bound
// of the design (LAG_MPI_TIMEOUT + 5 s after the failure).
//
// Only what the trainer prints is asserted, never mpirun's text ("mpirun noticed that process
// rank 1 ...", "MPI_ABORT was invoked on rank 0 ..."): each rank's output and exit status are
// taken apart from mpirun's by running every rank under this same binary as a wrapper
// (--rank-wrapper, see main()), which writes them to files of its own.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../run_command.hpp"
#include "../temp_dir_test.hpp"
#include "mpirun.hpp"

namespace fs = std::filesystem;

namespace {

// ---- the per-rank wrapper ---------------------------------------------------------------------

volatile pid_t forward_to = 0;

extern "C" void forward_signal(int signal) {
  if (forward_to > 0) kill(forward_to, signal);
}

void forward_sigterm_to(pid_t pid) {
  forward_to = pid;
  struct sigaction action {};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

// `test_mpi_liveness --rank-wrapper DIR PROGRAM ARGS...`, started by mpirun as a rank: runs
// PROGRAM with its stdout and stderr in DIR/out.R and writes how it ended to DIR/status.R ("exit
// N" or "signal N"; R is the rank). The rank sees what it would see as mpirun's child: SIGTERM
// is passed on to it.
//
// When mpirun takes a job down it sends SIGTERM to its child and, 10-30 ms later, SIGKILL to the
// child's whole process group. A status written by a process of that group is lost whenever the
// machine is too busy to run it within those milliseconds; so the process that waits for the
// rank and writes its status (the reporter) lives in a session of its own, with the rank under
// it, and the wrapper that mpirun sees only waits for the reporter. If the wrapper is killed
// first, the reporter is told (PR_SET_PDEATHSIG) and stops the rank, so nothing outlives the job.
int rank_wrapper(int argc, char** argv) {
  if (argc < 4) return 2;
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = std::getenv("PMIX_RANK");
  if (!rank) return 2;
  const std::string dir = argv[2];
  const pid_t wrapper = getpid();
  const pid_t reporter = fork();
  if (reporter < 0) return 2;
  if (reporter == 0) {
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != wrapper) _exit(2);  // the wrapper is gone already
    sigset_t term, previous;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &previous);  // until forward_to is set
    const pid_t child = fork();
    if (child < 0) _exit(2);
    if (child == 0) {
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      const std::string out = dir + "/out." + rank;
      if (!std::freopen(out.c_str(), "w", stdout) || dup2(fileno(stdout), 2) < 0) _exit(126);
      execv(argv[3], argv + 3);
      _exit(127);
    }
    forward_sigterm_to(child);
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
      if (errno != EINTR) _exit(2);
    const bool exited = WIFEXITED(status);
    const int code = exited ? WEXITSTATUS(status) : WTERMSIG(status);
    std::ofstream(dir + "/status." + rank) << (exited ? "exit " : "signal ") << code << "\n";
    _exit(exited ? code : 128 + code);
  }
  forward_sigterm_to(reporter);
  int status = 0;
  while (waitpid(reporter, &status, 0) < 0)
    if (errno != EINTR) return 2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ---- the tests --------------------------------------------------------------------------------

using lag::test::CommandResult;

constexpr int kRanks = 4;
constexpr double kTimeout = 3;  // LAG_MPI_TIMEOUT: short, so that the tests are fast
// The design's bound after a failure is LAG_MPI_TIMEOUT + 5 s (30 s at the default 25 s); the
// rest is for start-up and the iterations before the fault on a loaded machine (ctest -j2 on two
// cores).
constexpr double kBound = kTimeout + 5 + 5;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) found.push_back(line);
  return found;
}

class MpiLiveness : public lag::test::TempDirTest {
 protected:
  // `mpirun -np 4 lag train` with rank `faulty` failing by LAG_FAULT=`fault` at iteration 20,
  // every rank under the wrapper.
  CommandResult run_with_fault(const std::string& fault, int faulty, const std::string& env = "") {
    const CommandResult gen =
        lag::test::run_lag("gen paper-linear --workers 4 --dim 20 --out " + path("data"));
    EXPECT_EQ(gen.status, 0) << gen.output;
    fs::create_directories(path("ranks"));
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string faults = "LAG_MPI_TIMEOUT=" + std::to_string(static_cast<int>(kTimeout)) +
                               " LAG_FAULT=" + fault + " LAG_FAULT_RANK=" + std::to_string(faulty) +
                               " LAG_FAULT_ITER=20 " + env;
    return lag::test::mpirun(kRanks,
                             "train --data " + path("data") +
                                 " --algo lag-wk --max-iters 200 --quiet --out " + path("out"),
                             faults, self + " --rank-wrapper " + path("ranks"));
  }

  std::string output(int rank) const {
    return read_file(path("ranks/out." + std::to_string(rank)));
  }
  std::string status(int rank) const {
    const fs::path p = path("ranks/status." + std::to_string(rank));
    return fs::exists(p) ? read_file(p) : "(none: the reporter did not write it)\n";
  }

  // Every rank but `faulty` printed exactly one line of its own, "lag: error: rank R: ...",
  // that names the faulty rank, and exited with status 1; the faulty rank did fail (its
  // LAG_FAULT line, `what`); the job as a whole failed, and ended within the bound.
  void expect_every_other_rank_names(int faulty, const std::string& what, const CommandResult& r) {
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_LT(r.seconds, kBound) << r.output;
    EXPECT_NE(output(faulty).find("lag: LAG_FAULT: this rank " + what), std::string::npos)
        << output(faulty);
    const std::string named = "no answer from rank " + std::to_string(faulty) + " within";
    for (int rank = 0; rank < kRanks; ++rank) {
      if (rank == faulty) continue;
      const std::string out = output(rank);
      const auto own = lines_starting(out, "lag: error: rank " + std::to_string(rank) + ": ");
      ASSERT_EQ(own.size(), 1u) << "rank " << rank << ":\n" << out << "mpirun:\n" << r.output;
      EXPECT_NE(own[0].find(named), std::string::npos) << own[0];
      EXPECT_EQ(lines_starting(out, "lag: error:").size(), 1u) << out;
      EXPECT_EQ(status(rank), "exit 1\n") << "rank " << rank << ":\n" << out;
    }
    EXPECT_FALSE(fs::exists(path("out/summary.json")));
  }
};

// Sleeps forever without answering: mpirun says nothing. Rank 0 finds it; the others follow.
TEST_F(MpiLiveness, HungRankIsNamedByEveryOtherRankWhichExitsOne) {
  const CommandResult r = run_with_fault("hang", 2);
  expect_every_other_rank_names(2, "hangs", r);
  // Rank 0 found it (the others wait 1.5 s longer), after LAG_MPI_TIMEOUT seconds.
  EXPECT_EQ(
      lines_starting(output(0), "lag: error: rank 0: no answer from rank 2 within 3 s ").size(), 1u)
      << output(0);
}

// Leaves cleanly in the middle of the run, as a rank whose program ends early would:
// MPI_Finalize, then exit status 0. mpirun says nothing (Open MPI 4.1's MPI_Finalize waits for
// every rank, so the rank never gets to exit); the others name it as silent.
TEST_F(MpiLiveness, RankThatLeavesCleanlyIsNamedByEveryOtherRankWhichExitsOne) {
  const CommandResult r = run_with_fault("exit", 1);
  expect_every_other_rank_names(1, "leaves the job", r);
}

// Rank 0 silent: ranks 1-3 all time out together, each finds rank 0 silent and ends the job; the
// lowest of them leads, and still every rank prints one line and exits with status 1.
TEST_F(MpiLiveness, SilentRankZeroIsNamedByEveryOtherRankWhichExitsOne) {
  const CommandResult r = run_with_fault("hang", 0);
  expect_every_other_rank_names(0, "hangs", r);
}

// A killed rank: mpirun stops the job by itself ("mpirun noticed that process rank 1 ... exited
// on signal 9") unless told not to, so that only then does the trainer's liveness end the other
// ranks. Told so (orte_abort_on_non_zero_status=0; srun by default behaves alike), the
// trainer must end them by itself: messages, status 1, and MPI_Abort for the job (mpirun would
// not stop the job for their exits).
TEST_F(MpiLiveness, KilledRankUnderAnMpirunThatLetsTheOthersRunIsNamedByEveryOtherRank) {
  const CommandResult r = run_with_fault("kill", 1, "OMPI_MCA_orte_abort_on_non_zero_status=0");
  expect_every_other_rank_names(1, "dies", r);
  EXPECT_EQ(status(1), "signal 9\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--rank-wrapper") == 0) return rank_wrapper(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
