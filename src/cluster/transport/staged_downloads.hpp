// Downloads from a GPU for a device wire: each is an asynchronous copy into pinned host memory
// (so that it never blocks the host and the wire's wait stays the only wait), moved to its
// destination once the wait has returned.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cuda/check.hpp"
#include "cuda/pinned_buffer.hpp"

namespace lag::cuda {

class StagedDownloads {
 public:
  // False when `bytes` more do not fit: the owner waits (which calls finish()), then grows.
  bool fits(std::size_t bytes) const { return used_ + round(bytes) <= staging_.size(); }
  void grow(std::size_t bytes) {
    if (!pending_.empty()) throw Error("internal: the download staging grows under a copy");
    staging_ = PinnedBuffer<unsigned char>(std::max(2 * staging_.size(), round(bytes)));
  }
  void stage(void* host, const void* src, std::size_t bytes, cudaStream_t s) {
    if (bytes == 0) return;
    LAG_CUDA(cudaMemcpyAsync(staging_.get() + used_, src, bytes, cudaMemcpyDeviceToHost, s));
    pending_.push_back({host, used_, bytes});
    used_ += round(bytes);
  }
  // After the stream has run the copies.
  void finish() {
    for (const Pending& p : pending_) std::memcpy(p.host, staging_.get() + p.offset, p.bytes);
    pending_.clear();
    used_ = 0;
  }

 private:
  struct Pending {
    void* host;
    std::size_t offset, bytes;
  };
  static std::size_t round(std::size_t bytes) { return (bytes + 15) / 16 * 16; }

  PinnedBuffer<unsigned char> staging_;
  std::vector<Pending> pending_;
  std::size_t used_ = 0;
};

}  // namespace lag::cuda
