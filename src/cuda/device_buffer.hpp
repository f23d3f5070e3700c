// Device memory owned by one object, freed on its device when the object goes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "cuda/check.hpp"

namespace lag::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(int device, std::size_t n) : device_(device), n_(n) {
    if (n == 0) return;
    LAG_CUDA(cudaSetDevice(device));
    LAG_CUDA(cudaMalloc(&ptr_, n * sizeof(T)));
  }
  ~DeviceBuffer() {
    if (ptr_) {
      cudaSetDevice(device_);
      cudaFree(ptr_);  // no throwing from a destructor; a failure here cannot be acted on
    }
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    swap(o);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void swap(DeviceBuffer& o) noexcept {
    std::swap(device_, o.device_);
    std::swap(n_, o.n_);
    std::swap(ptr_, o.ptr_);
  }

  T* get() const { return ptr_; }
  std::size_t size() const { return n_; }
  int device() const { return device_; }

  void upload(const T* host, std::size_t n, cudaStream_t s) {
    LAG_CUDA(cudaMemcpyAsync(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice, s));
  }
  void zero(cudaStream_t s) { LAG_CUDA(cudaMemsetAsync(ptr_, 0, n_ * sizeof(T), s)); }

 private:
  int device_ = 0;
  std::size_t n_ = 0;
  T* ptr_ = nullptr;
};

}  // namespace lag::cuda
