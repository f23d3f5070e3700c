// One worker's loss and gradient on its GPU: the fused single-pass kernel for linear and
// logistic regression; cuBLAS GEMMs plus our elementwise kernels for softmax and the MLP.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>

#include "cuda/device_buffer.hpp"
#include "lag/model.hpp"

namespace lag::cuda {

template <class T>
class DeviceLoss {
 public:
  // Scratch is sized for shards of up to `max_rows` rows with `features` columns.
  DeviceLoss(const ModelSpec& model, std::size_t features, std::size_t max_rows, int device);

  std::size_t parameters() const { return params_; }
  double lambda() const { return lambda_; }
  // Linear and logistic models: the fused kernel's workspace (see fused_gradient_job).
  void* fused_workspace() const { return fused_workspace_.get(); }

  // g = gradient of the worker's loss at theta (regulariser included); loss = [0] + lambda/2 [1]
  // (see loss()): loss_parts[0] = the loss with the regulariser for linear/logistic on the whole
  // shard (scale 1), else without it, and loss_parts[1] = ||theta||^2 where [0] does not hold
  // the regulariser and lambda > 0, else 0.
  // Asynchronous on `stream` (the handle must be bound to it). A minibatch passes `scale` =
  // shard rows / batch rows: the sums over its rows (gradient and loss) are scaled by it before
  // the regulariser is added, as on the CPU (lag/cluster.hpp, Sampling); scale 1 is the shard's
  // computation, bit for bit.
  void gradient(const T* x, const T* y, std::size_t rows, const T* theta, T* g, double* loss_parts,
                cudaStream_t stream, cublasHandle_t handle, double scale = 1.0);

  // The loss from loss_parts copied to the host.
  double loss(const double* host_parts) const {
    return host_parts[0] + 0.5 * lambda_ * host_parts[1];
  }

 private:
  // The sums over the rows, without the regulariser (loss_parts[0] only).
  void softmax_sums(const T* x, const T* y, std::size_t rows, const T* w, T* g, double* loss_parts,
                    cudaStream_t stream, cublasHandle_t handle);
  void mlp_sums(const T* x, const T* y, std::size_t rows, const T* theta, T* g, double* loss_parts,
                cudaStream_t stream, cublasHandle_t handle);
  // g += lambda theta and loss_parts[1] = ||theta||^2.
  void regularise(const T* theta, T* g, double* loss_parts, cudaStream_t stream);

  ModelSpec model_;
  std::size_t features_, params_;
  double lambda_;
  DeviceBuffer<unsigned char> fused_workspace_;
  DeviceBuffer<double> reduce_workspace_;
  DeviceBuffer<double> row_loss_;
  DeviceBuffer<T> scratch_;                // logits, activations, activation gradients
  DeviceBuffer<double> column_workspace_;  // row-chunked bias-gradient sums (MLP)
};

}  // namespace lag::cuda
