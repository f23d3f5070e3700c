// The wire of an MPI job whose memory space is the rank's GPU: NCCL moves the device data, on a
// communicator bootstrapped through MPI (nccl_job.hpp: non-blocking, every wait polled under the
// job's deadline); MPI carries the host values (an MpiWire for those). Operations go on the
// context's stream in the order posted, so fence() has nothing to do.
#pragma once

#include <memory>

#include "cluster/device_context.hpp"
#include "cluster/transport/mpi_wire.hpp"
#include "cluster/transport/staged_downloads.hpp"
#include "cluster/transport/wire.hpp"
#include "mpi/nccl_job.hpp"

namespace lag {

class NcclWire final : public Wire {
 public:
  // Collective: every rank joins the communicator on the context's device. `session` and
  // `context` must outlive the wire.
  NcclWire(MpiSession& session, cuda::DeviceContext& context);
  // Unwinding after an error: ends the NCCL kernels first (one may wait for a peer that is gone),
  // before the memory they use is freed.
  ~NcclWire() override;

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  void broadcast(void* buf, std::size_t bytes, int root, const char* during) override;
  void max_bytes(std::uint8_t* flags, std::size_t n, const char* during) override;
  void send(const void* buf, std::size_t bytes, int to, const char* during) override;
  void recv(void* buf, std::size_t bytes, int from, const char* during) override;
  void group_begin(const char* during) override;
  void group_end(const char* during) override;
  void fence(const char*, int) override {}
  void download(void* host, const void* src, std::size_t bytes) override;
  void wait(const char* during, int peer = -1) override;
  void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts,
              int root, const char* during) override {
    host_.gather(mine, all, counts, root, during);
  }
  void broadcast_host(double* values, int n, int root, const char* during) override {
    host_.broadcast_host(values, n, root, during);
  }
  bool root_decision(bool value) override { return host_.root_decision(value); }
  void max_host(double* values, int n, const char* during) override {
    host_.max_host(values, n, during);
  }
  void at_iteration() override { host_.at_iteration(); }

 private:
  void open_connections();

  MpiWire host_;
  cuda::DeviceContext& context_;
  cuda::StagedDownloads downloads_;
  std::unique_ptr<mpi::NcclJob> job_;
};

}  // namespace lag
