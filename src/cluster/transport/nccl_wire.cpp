#include "cluster/transport/nccl_wire.hpp"

#include <exception>

namespace lag {

NcclWire::NcclWire(MpiSession& session, cuda::DeviceContext& context)
    : host_(session),
      context_(context),
      job_(std::make_unique<mpi::NcclJob>(session, context.device())) {
  open_connections();
}

// NCCL connects peers on first use. Opens every connection the protocol uses (the collectives,
// each rank with rank 0 for the uploads, each rank with the next for the evaluation's running
// sum) with a few bytes, so that the first iteration is not timed with their setup, and under
// the longer deadline of the set-up.
void NcclWire::open_connections() {
  const int R = size(), me = rank();
  if (R == 1) return;
  const char* during = "the set-up of NCCL's connections";
  const auto setup = mpi::NcclJob::Phase::Setup;
  const cudaStream_t s = context_.stream();
  ncclComm_t comm = job_->comm();
  cuda::DeviceBuffer<std::uint8_t> bytes(context_.device(), 2 * static_cast<std::size_t>(R));
  bytes.zero(s);
  std::uint8_t* b = bytes.get();
  job_->check(ncclBroadcast(b, b, 1, ncclUint8, 0, comm, s), during, setup);
  job_->check(ncclAllReduce(b, b, 1, ncclUint8, ncclMax, comm, s), during, setup);
  job_->check(ncclGroupStart(), during, setup);
  if (me == 0)
    for (int r = 1; r < R; ++r)
      job_->check(ncclRecv(b + r, 1, ncclUint8, r, comm, s), during, setup);
  else
    job_->check(ncclSend(b, 1, ncclUint8, 0, comm, s), during, setup);
  job_->check(ncclGroupEnd(), during, setup);
  if (me > 0) job_->check(ncclRecv(b + R, 1, ncclUint8, me - 1, comm, s), during, setup);
  if (me + 1 < R) job_->check(ncclSend(b + R, 1, ncclUint8, me + 1, comm, s), during, setup);
  job_->wait(s, during, -1, setup);
}

NcclWire::~NcclWire() {
  if (job_ && std::uncaught_exceptions() > 0) job_->abort();
}

void NcclWire::broadcast(void* buf, std::size_t bytes, int root, const char* during) {
  job_->check(ncclBroadcast(buf, buf, bytes, ncclUint8, root, job_->comm(), context_.stream()),
              during);
}

void NcclWire::max_bytes(std::uint8_t* flags, std::size_t n, const char* during) {
  job_->check(ncclAllReduce(flags, flags, n, ncclUint8, ncclMax, job_->comm(), context_.stream()),
              during);
}

void NcclWire::send(const void* buf, std::size_t bytes, int to, const char* during) {
  job_->check(ncclSend(buf, bytes, ncclUint8, to, job_->comm(), context_.stream()), during);
}

void NcclWire::recv(void* buf, std::size_t bytes, int from, const char* during) {
  job_->check(ncclRecv(buf, bytes, ncclUint8, from, job_->comm(), context_.stream()), during);
}

void NcclWire::group_begin(const char* during) { job_->check(ncclGroupStart(), during); }

void NcclWire::group_end(const char* during) { job_->check(ncclGroupEnd(), during); }

void NcclWire::download(void* host, const void* src, std::size_t bytes) {
  context_.use();
  downloads_.stage(host, src, bytes, context_.stream(), [this] { wait("a copy to the host"); });
}

void NcclWire::wait(const char* during, int peer) {
  context_.use();
  job_->wait(context_.stream(), during, peer);
  downloads_.finish();
}

}  // namespace lag
