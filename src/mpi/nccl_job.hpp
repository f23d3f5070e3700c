// One NCCL communicator over the ranks of an MPI job (one GPU per rank) that never leaves a rank
// hanging. MPI carries only host memory (the unique id at the start; Debian's Open MPI is not
// CUDA-aware); the GPU data moves by NCCL.
//
// The communicator is non-blocking, so no NCCL call can block the host: a call that answers
// ncclInProgress (connection setup) and every wait for a stream are polled, together with
// ncclCommGetAsyncError, under the deadline of MpiSession (LAG_MPI_TIMEOUT), while answering
// the other ranks' liveness questions. On an NCCL or CUDA error, or when the deadline passes,
// the communicator is aborted (which also ends its kernels that wait for a dead peer) and a
// lag::Error says what failed and which ranks no longer answer.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <string>

#include "mpi/mpi_session.hpp"

namespace lag::mpi {

class NcclJob {
 public:
  using Phase = MpiSession::Phase;

  // Collective over every rank: rank 0 creates the unique id, MPI broadcasts it, each rank joins
  // on `device` (made the current device). `session` must outlive the job.
  NcclJob(MpiSession& session, int device);
  // Flushes and destroys the communicator (aborts it when that does not finish in time).
  ~NcclJob();
  NcclJob(const NcclJob&) = delete;
  NcclJob& operator=(const NcclJob&) = delete;

  ncclComm_t comm() const { return comm_; }

  // Checks the result of an NCCL call on this communicator; ncclInProgress is waited out.
  // `during` names the operation for the error message, e.g. "the broadcast of theta
  // (ncclBroadcast)".
  void check(ncclResult_t result, const char* during, Phase phase = Phase::Training);
  // Returns once `stream` has run everything enqueued on it. `peer` names the rank waited for
  // when the operation has one (as in MpiSession::wait).
  void wait(cudaStream_t stream, const char* during, int peer = -1, Phase phase = Phase::Training);
  // Ends the communicator at once, its kernels included (they may wait for a peer that is gone):
  // for an owner that unwinds after an error, before it frees the memory they use.
  void abort();

 private:
  // Throws (after aborting the communicator) when it reports an asynchronous error; returns
  // whether operations are still being set up (ncclInProgress).
  [[nodiscard]] bool in_progress(const char* during);
  [[noreturn]] void fail(const std::string& what);
  [[noreturn]] void timed_out(const char* during, int peer, double limit);

  MpiSession& session_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace lag::mpi
