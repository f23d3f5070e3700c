// Page-locked host memory owned by one object. A device-to-host cudaMemcpyAsync into pageable
// memory blocks the calling thread until the copy is done; into pinned memory it returns at
// once, so that the caller can wait for the stream its own way (polling, with a deadline).
// Mapped, kernels read and write it directly (device()): a CUDA graph replayed every iteration
// takes its inputs (tau, flags) from the host and leaves its outputs there, without copy nodes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda/check.hpp"

namespace lag::cuda {

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t n, bool mapped = false) : n_(n) {
    if (n == 0) return;
    void* p = nullptr;
    LAG_CUDA(
        cudaHostAlloc(&p, n * sizeof(T), mapped ? cudaHostAllocMapped | cudaHostAllocPortable : 0));
    ptr_ = static_cast<T*>(p);
    if (mapped) {
      void* d = nullptr;
      LAG_CUDA(cudaHostGetDevicePointer(&d, p, 0));
      device_ = static_cast<T*>(d);
    }
  }
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);  // nothing to act on from a destructor
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept { swap(o); }
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    swap(o);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void swap(PinnedBuffer& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(device_, o.device_);
    std::swap(n_, o.n_);
  }

  T* get() const { return ptr_; }
  T* device() const { return device_; }  // null unless mapped
  std::size_t size() const { return n_; }
  T& operator[](std::size_t i) const { return ptr_[i]; }

 private:
  T* ptr_ = nullptr;
  T* device_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace lag::cuda
