// FOR TESTING ONLY: make one rank of an MPI job fail on purpose, so that the failure handling
// (every rank ends non-zero, the message names the rank) can be tested end to end
// (tests/mpi/test_mpi_liveness.cpp).
//
//   LAG_FAULT_RANK=r  LAG_FAULT_ITER=k  LAG_FAULT=kill|hang|exit
//
// makes rank r fail when it starts its k-th iteration (counted over the whole process: a second
// --algo run counts on):
//   kill  raises SIGKILL: the rank dies (Open MPI's mpirun notices and stops the job by itself).
//   hang  sleeps forever without answering anyone: mpirun notices nothing.
//   exit  leaves the job cleanly, as a rank whose program ends early would: it ends MPI on this
//         rank (MPI_Finalize, after withdrawing its liveness receive) and exits with status 0.
//         A rank that exits without MPI_Finalize is not the same fault: mpirun reports that one
//         itself ("exiting improperly") and stops the job at once. Open MPI 4.1's MPI_Finalize
//         waits for every other rank to finalize too, so the rank stays inside MPI_Finalize,
//         answering nobody, and mpirun notices nothing; it exits 0 only under an MPI whose
//         MPI_Finalize returns at once.
// Without all three variables nothing happens.
#pragma once

#include <cstdint>

namespace lag {
class MpiSession;
}

namespace lag::mpi {

class FaultInjection {
 public:
  // `session` (this rank's; it must outlive this object) is ended by the fault `exit`.
  explicit FaultInjection(MpiSession& session);
  // Called at the start of every iteration's computation.
  void at_iteration(std::int64_t k) const;

 private:
  enum class Kind { None, Kill, Hang, Exit };
  MpiSession& session_;
  Kind kind_ = Kind::None;
  std::int64_t iteration_ = 0;
};

}  // namespace lag::mpi
