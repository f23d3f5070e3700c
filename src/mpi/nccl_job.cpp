#include "mpi/nccl_job.hpp"

#include <cstdio>

#include "lag/error.hpp"
#include "mpi/poll_backoff.hpp"

namespace lag::mpi {

namespace {

// Rank 0's unique id, or why it has none: every rank learns of the failure instead of waiting
// in an initialisation that rank 0 never joins.
struct IdMessage {
  int ok = 0;
  char why[256] = {};
  ncclUniqueId id{};
};

std::string nccl_error(ncclResult_t r, ncclComm_t comm) {
  std::string s = ncclGetErrorString(r);
  const char* last = ncclGetLastError(comm);
  if (last && *last) s += " (" + std::string(last) + ")";
  return s;
}

}  // namespace

NcclJob::NcclJob(MpiSession& session, int device) : session_(session) {
  const cudaError_t set = cudaSetDevice(device);
  if (set != cudaSuccess)
    throw Error("cannot use CUDA device " + std::to_string(device) + ": " +
                cudaGetErrorString(set));
  IdMessage message;
  if (session.rank() == 0) {
    const ncclResult_t r = ncclGetUniqueId(&message.id);
    message.ok = r == ncclSuccess ? 1 : 0;
    if (!message.ok)
      std::snprintf(message.why, sizeof message.why, "%s", nccl_error(r, nullptr).c_str());
  }
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(&message, static_cast<int>(sizeof message), MPI_BYTE, 0, MPI_COMM_WORLD,
                     &request));
  session.wait(request, "the broadcast of the NCCL unique id (MPI_Ibcast)", 0, Phase::Setup);
  if (!message.ok) throw Error(std::string("rank 0 could not create an NCCL id: ") + message.why);

  // Non-blocking: the initialisation (which waits for every rank) and any later connection
  // setup return ncclInProgress instead of blocking, so that a missing rank runs into the
  // deadline rather than hanging this one.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const ncclResult_t r =
      ncclCommInitRankConfig(&comm_, session.size(), message.id, session.rank(), &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    abort();
    throw Error("NCCL could not start on CUDA device " + std::to_string(device) + ": " +
                nccl_error(r, nullptr));
  }
  check(r, "the start of NCCL (ncclCommInitRankConfig)", Phase::Setup);
}

NcclJob::~NcclJob() {
  if (!comm_) return;
  // Every operation has been waited for; a communicator that still does not finish within the
  // deadline is aborted. Nothing here may throw.
  const ncclResult_t finalize = ncclCommFinalize(comm_);
  bool clean = finalize == ncclSuccess || finalize == ncclInProgress;
  const double limit = session_.limit(Phase::Training);
  PollBackoff backoff;
  while (clean) {
    ncclResult_t state = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
    if (state != ncclInProgress) {
      clean = state == ncclSuccess;
      break;
    }
    session_.answer_liveness();
    if (backoff.pause() > limit) clean = false;
  }
  if (clean)
    ncclCommDestroy(comm_);
  else
    ncclCommAbort(comm_);
  comm_ = nullptr;
}

void NcclJob::abort() {
  if (comm_) ncclCommAbort(comm_);  // not checked: the job is failing already
  comm_ = nullptr;
}

void NcclJob::fail(const std::string& what) {
  std::string message = what;
  // A dead or hung peer is the usual cause; name it when it no longer answers.
  const std::string silent = session_.silent_ranks();
  if (!silent.empty()) message += "; no answer from " + silent;
  abort();
  throw Error(message);
}

void NcclJob::timed_out(const char* during, int peer, double limit) {
  const std::string message = session_.no_answer_message(during, peer, limit);
  abort();
  throw Error(message);
}

bool NcclJob::in_progress(const char* during) {
  if (!comm_) throw Error(std::string("NCCL was aborted before ") + during);
  ncclResult_t state = ncclSuccess;
  const ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
  if (r != ncclSuccess) state = r;
  if (state == ncclSuccess) return false;
  if (state == ncclInProgress) return true;
  fail("NCCL error during " + std::string(during) + ": " + nccl_error(state, comm_));
}

void NcclJob::check(ncclResult_t result, const char* during, Phase phase) {
  if (result == ncclSuccess) return;
  if (result != ncclInProgress)
    fail("NCCL error in " + std::string(during) + ": " + nccl_error(result, comm_));
  const double limit = session_.limit(phase);
  PollBackoff backoff;
  while (in_progress(during)) {
    session_.answer_liveness();
    if (backoff.pause() > limit) timed_out(during, -1, limit);
  }
}

void NcclJob::wait(cudaStream_t stream, const char* during, int peer, Phase phase) {
  const double limit = session_.limit(phase);
  PollBackoff backoff;
  for (;;) {
    const cudaError_t q = cudaStreamQuery(stream);
    // An NCCL failure can end its kernels early: check the communicator even when done (only
    // for the throw; whether set-up is still in progress does not matter once enqueued).
    static_cast<void>(in_progress(during));
    if (q == cudaSuccess) return;
    if (q != cudaErrorNotReady)
      fail("CUDA error during " + std::string(during) + ": " + cudaGetErrorString(q));
    session_.answer_liveness();
    if (backoff.pause() > limit) timed_out(during, peer, limit);
  }
}

}  // namespace lag::mpi
