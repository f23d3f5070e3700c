// Pinned host memory mapped into the device's address space: kernels read and write it directly,
// so a CUDA graph replayed every iteration can take its inputs (tau, flags) from the host and
// leave its outputs (flags, the step norm) there without a copy node or a host round trip.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda/check.hpp"

namespace lag::cuda {

class MappedHostBuffer {
 public:
  MappedHostBuffer() = default;
  explicit MappedHostBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    LAG_CUDA(cudaHostAlloc(&host_, bytes, cudaHostAllocMapped | cudaHostAllocPortable));
    LAG_CUDA(cudaHostGetDevicePointer(&device_, host_, 0));
  }
  ~MappedHostBuffer() {
    if (host_) cudaFreeHost(host_);  // nothing to act on from a destructor
  }
  MappedHostBuffer(MappedHostBuffer&& o) noexcept { swap(o); }
  MappedHostBuffer& operator=(MappedHostBuffer&& o) noexcept {
    swap(o);
    return *this;
  }
  MappedHostBuffer(const MappedHostBuffer&) = delete;
  MappedHostBuffer& operator=(const MappedHostBuffer&) = delete;

  void swap(MappedHostBuffer& o) noexcept {
    std::swap(host_, o.host_);
    std::swap(device_, o.device_);
    std::swap(bytes_, o.bytes_);
  }

  // The same bytes seen from the host and from a kernel, at byte `offset`.
  template <class U>
  U* host(std::size_t offset = 0) const {
    return reinterpret_cast<U*>(static_cast<unsigned char*>(host_) + offset);
  }
  template <class U>
  U* device(std::size_t offset = 0) const {
    return reinterpret_cast<U*>(static_cast<unsigned char*>(device_) + offset);
  }

 private:
  void* host_ = nullptr;
  void* device_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace lag::cuda
