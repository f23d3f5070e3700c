// This process as one rank of an MPI job: MPI_Init/MPI_Finalize (RAII), who we are, and waiting
// for non-blocking operations with a deadline, so that a rank that dies or stops answering ends
// the job with a message instead of a hang.
//
// Only construct a session when mpi::started_by_mpi_launcher() (launch_env.hpp): a plain run
// never initialises MPI. Only the thread that constructed it may call MPI (MPI_THREAD_FUNNELED:
// the worker threads compute, the main thread communicates).
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "mpi/mpi_check.hpp"
#include "mpi/mpi_liveness.hpp"

namespace lag {

class MpiSession {
 public:
  // A wait runs out after timeout() seconds: LAG_MPI_TIMEOUT, default kDefaultTimeout (ranks
  // other than 0 wait 1.5 s more, so that rank 0 reports first). With the second it takes to
  // find the silent rank and at most one more for the others to say that they end too
  // (Liveness::end_job), every rank has ended within 30 s of a failure. An iteration in which
  // one rank computes longer than this looks like a failure: raise LAG_MPI_TIMEOUT for such runs.
  static constexpr double kDefaultTimeout = 25.0;
  // Before training (loading data, solving for L* on rank 0) the ranks legitimately wait for
  // each other much longer than one iteration takes.
  static constexpr double kSetupFactor = 20.0;

  // Reads LAG_MPI_TIMEOUT (throws lag::Error when it is not a positive number), then initialises
  // MPI. Throws lag::Error when MPI fails to start.
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_size() const { return local_size_; }  // ranks on this machine
  double timeout() const { return timeout_; }

  enum class Phase { Training, Setup };
  // Completes every request (MPI_REQUEST_NULL entries are fine) by polling MPI_Testall, and
  // answers other ranks' liveness questions meanwhile. When the deadline passes: asks every rank,
  // prints "lag: error: rank R: no answer from rank S within T s (during WHAT)" and ends the job
  // (mpi::abort_job: every rank that still answers prints "lag: error: rank Q: rank R ends the
  // job: no answer ...", and every rank exits with status 1). When another rank ends the job
  // meanwhile, prints that and exits with status 1. `peer` names the rank waited for when the
  // operation has one (point-to-point), used when every rank still answers.
  void wait(MPI_Request* requests, int count, const char* during, int peer = -1,
            Phase phase = Phase::Training);
  void wait(std::vector<MPI_Request>& requests, const char* during, int peer = -1,
            Phase phase = Phase::Training) {
    wait(requests.data(), static_cast<int>(requests.size()), during, peer, phase);
  }
  void wait(MPI_Request& request, const char* during, int peer = -1,
            Phase phase = Phase::Training) {
    wait(&request, 1, during, peer, phase);
  }

  // MPI_Ibcast of `count` doubles from `root`, completed by wait() (`during` names it).
  void broadcast(double* values, int count, int root, const char* during);
  // Rank 0's `value` on every rank (one byte by MPI_Ibcast, completed by wait()); `value` alone.
  [[nodiscard]] bool root_decision(bool value, const char* during);

  // For waits on something other than MPI (a GPU stream running NCCL operations), which must
  // keep the promises of wait(): how long they may take on this rank (head start included);
  // answering the other ranks' liveness questions while they poll; and once they run out of
  // time, the message wait() ends the job with ("no answer from rank S within T s (during
  // WHAT)"), for the caller to raise. Only the thread that constructed the session may call them.
  double limit(Phase phase = Phase::Training) const;
  void answer_liveness() { liveness_->answer(); }
  std::string no_answer_message(const char* during, int peer, double limit);
  // Asks every other rank and names those that do not answer within a second ("rank 2",
  // "ranks 1, 3"); empty when all answer. For a failure report: a peer that died or hangs.
  std::string silent_ranks();

  // Ends MPI on this rank, as the destructor does (which then does nothing). Only for the
  // test-only fault LAG_FAULT=exit (fault_injection.hpp): a rank that leaves the job early.
  void finalize();

 private:
  [[noreturn]] void timed_out(const char* during, int peer, double limit);
  int rank_ = 0, size_ = 1, local_size_ = 1;
  double timeout_ = kDefaultTimeout;
  bool finalized_ = false;
  std::unique_ptr<mpi::Liveness> liveness_;
};

}  // namespace lag
