// FOR TESTING ONLY: make one rank of an MPI job fail on purpose, so that the failure handling
// (every rank ends non-zero, the message names the rank) can be tested end to end.
//
//   LAG_FAULT_RANK=r  LAG_FAULT_ITER=k  LAG_FAULT=kill|hang
//
// makes rank r raise SIGKILL (kill) or sleep forever without answering (hang) when it starts
// its k-th iteration (counted over the whole process: a second --algo run counts on). Without
// all three variables nothing happens.
#pragma once

#include <cstdint>

namespace lag::mpi {

class FaultInjection {
 public:
  explicit FaultInjection(int rank);
  // Called at the start of every iteration's computation.
  void at_iteration(std::int64_t k) const;

 private:
  enum class Kind { None, Kill, Hang };
  Kind kind_ = Kind::None;
  std::int64_t iteration_ = 0;
};

}  // namespace lag::mpi
