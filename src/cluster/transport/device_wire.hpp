// The wire of a job with one rank whose memory space is a GPU: nothing is ever sent (the
// protocol calls no collective with one rank); downloads are staged copies on the context's
// stream, and a wait is one synchronisation of that stream.
#pragma once

#include "cluster/device_context.hpp"
#include "cluster/transport/staged_downloads.hpp"
#include "cluster/transport/wire.hpp"
#include "lag/error.hpp"

namespace lag {

class DeviceWire final : public Wire {
 public:
  // `context` must outlive the wire.
  explicit DeviceWire(cuda::DeviceContext& context) : context_(context) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  void broadcast(void*, std::size_t, int, const char*) override {}
  void max_bytes(std::uint8_t*, std::size_t, const char*) override {}
  void send(const void*, std::size_t, int, const char*) override { alone(); }
  void recv(void*, std::size_t, int, const char*) override { alone(); }
  void fence(const char*, int) override {}
  void download(void* host, const void* src, std::size_t bytes) override {
    context_.use();
    if (!downloads_.fits(bytes)) {
      wait("a download");
      downloads_.grow(bytes);
    }
    downloads_.stage(host, src, bytes, context_.stream());
  }
  void wait(const char*, int = -1) override {
    context_.use();
    LAG_CUDA(cudaStreamSynchronize(context_.stream()));
    downloads_.finish();
  }
  void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts, int,
              const char*) override {
    all.assign(mine, mine + counts.at(0));
  }
  void broadcast_host(double*, int, int, const char*) override {}
  bool root_decision(bool value) override { return value; }

 private:
  [[noreturn]] static void alone() {
    throw Error("internal: a point-to-point message with one rank");
  }

  cuda::DeviceContext& context_;
  cuda::StagedDownloads downloads_;
};

}  // namespace lag
