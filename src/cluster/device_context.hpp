// What the parts of a cluster on one GPU share (the workers, the server and the wire): the
// device, one stream on which everything is ordered, and the cuBLAS handle bound to it with a
// fixed workspace (so that captured graphs never allocate). Owned by the cluster, destroyed
// after the parts.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "cuda/check.hpp"
#include "cuda/device_buffer.hpp"

namespace lag::cuda {

class DeviceContext {
 public:
  explicit DeviceContext(int device) : device_(device) {
    LAG_CUDA(cudaSetDevice(device));
    LAG_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    LAG_CUBLAS(cublasCreate(&cublas_));
    LAG_CUBLAS(cublasSetStream(cublas_, stream_));
    constexpr std::size_t kCublasWorkspace = 32u << 20;  // cuBLAS's recommendation for Hopper
    cublas_workspace_ = DeviceBuffer<unsigned char>(device, kCublasWorkspace);
    LAG_CUBLAS(cublasSetWorkspace(cublas_, cublas_workspace_.get(), kCublasWorkspace));
  }
  ~DeviceContext() {  // nothing here may throw
    cudaSetDevice(device_);
    if (stream_) cudaStreamSynchronize(stream_);
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device() const { return device_; }
  // Makes the device current for the calls that follow (a process may hold clusters on several
  // devices, and other code may switch).
  void use() const { LAG_CUDA(cudaSetDevice(device_)); }
  // Throws unless the stream has run everything enqueued: for the host writing memory that work
  // on the stream reads, where the protocol guarantees a wait came before. (Waiting here instead
  // could hang on an NCCL operation of a dead peer, outside the job's deadline.)
  void require_idle(const char* what) const {
    const cudaError_t q = cudaStreamQuery(stream_);
    if (q == cudaErrorNotReady)
      throw Error(std::string("internal: the stream is busy before ") + what);
    LAG_CUDA(q);
  }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceBuffer<unsigned char> cublas_workspace_;
};

}  // namespace lag::cuda
