// The wire of a job with one rank whose memory space is a GPU: downloads are staged copies on the
// context's stream, and a wait is one synchronisation of that stream.
#pragma once

#include "cluster/device_context.hpp"
#include "cluster/transport/one_rank_wire.hpp"
#include "cluster/transport/staged_downloads.hpp"

namespace lag {

class DeviceWire final : public OneRankWire {
 public:
  // `context` must outlive the wire.
  explicit DeviceWire(cuda::DeviceContext& context) : context_(context) {}

  void download(void* host, const void* src, std::size_t bytes) override {
    context_.use();
    downloads_.stage(host, src, bytes, context_.stream(), [this] { wait("a download"); });
  }
  void wait(const char*, int = -1) override {
    context_.use();
    LAG_CUDA(cudaStreamSynchronize(context_.stream()));
    downloads_.finish();
  }

 private:
  cuda::DeviceContext& context_;
  cuda::StagedDownloads downloads_;
};

}  // namespace lag
