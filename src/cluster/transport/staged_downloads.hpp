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
  // Enqueues the copy of `bytes` at `src` on `s`, for `host`. When the staging memory is full,
  // `wait` (the owner's wait, which calls finish()) is called first and the memory grown.
  template <class Wait>
  void stage(void* host, const void* src, std::size_t bytes, cudaStream_t s, Wait&& wait) {
    if (bytes == 0) return;
    if (used_ + round(bytes) > staging_.size()) {
      wait();
      if (!pending_.empty()) throw Error("internal: the download staging grows under a copy");
      staging_ = PinnedBuffer<unsigned char>(std::max(2 * staging_.size(), round(bytes)));
    }
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
