#include "model/device_loss.hpp"

#include "fused_gradient.cuh"
#include "reduce.cuh"
#include "softmax.cuh"
#include "vector_ops.cuh"

namespace lag::cuda {

namespace {

// Row-major C (m x n) = op(A) op(B) through column-major cuBLAS: a row-major matrix is the
// column-major transpose, so C^T = op(B)^T op(A)^T is computed instead. Arguments are given in
// the row-major view; `lda`/`ldb`/`ldc` are row-major leading dimensions (row lengths).
void gemm_rm(cublasHandle_t h, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
             double alpha, const double* a, std::size_t lda, const double* b, std::size_t ldb,
             double beta, double* c, std::size_t ldc) {
  LAG_CUBLAS(cublasDgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                         static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b,
                         static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c,
                         static_cast<int>(ldc)));
}
void gemm_rm(cublasHandle_t h, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
             float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
             float beta, float* c, std::size_t ldc) {
  LAG_CUBLAS(cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                         static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b,
                         static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c,
                         static_cast<int>(ldc)));
}

}  // namespace

template <class T>
DeviceLoss<T>::DeviceLoss(const ModelSpec& model, std::size_t features, std::size_t max_rows,
                          int device)
    : model_(model),
      features_(features),
      params_(parameter_count(model, features)),
      lambda_(model.kind == ModelKind::LeastSquares ? 0.0 : model.lambda),
      reduce_workspace_(device, reduce_workspace_doubles()) {
  const auto k = static_cast<std::size_t>(model.classes);
  const auto h = static_cast<std::size_t>(model.hidden);
  if (is_multiclass(model.kind)) {
    row_loss_ = DeviceBuffer<double>(device, std::max<std::size_t>(max_rows, 1));
    const std::size_t per_row = model.kind == ModelKind::Mlp ? 2 * h + k : k;
    scratch_ = DeviceBuffer<T>(device, std::max<std::size_t>(max_rows, 1) * per_row);
    // Split over row chunks: one block per 32 columns would leave a tall, narrow matrix (all
    // rows x h) to a handful of SMs.
    if (model.kind == ModelKind::Mlp)
      column_workspace_ = DeviceBuffer<double>(
          device, std::max<std::size_t>(column_sums_workspace_doubles(
                                            std::max<std::size_t>(max_rows, 1), std::max(h, k)),
                                        1));
  } else {
    fused_workspace_ = DeviceBuffer<unsigned char>(
        device,
        std::max<std::size_t>(fused_gradient_workspace_bytes(max_rows, features, sizeof(T)), 1));
  }
}

template <class T>
void DeviceLoss<T>::gradient(const T* x, const T* y, std::size_t rows, const T* theta, T* g,
                             double* loss_parts, cudaStream_t stream, cublasHandle_t handle,
                             double scale) {
  switch (model_.kind) {
    case ModelKind::LeastSquares:
    case ModelKind::Logistic: {
      const auto kind =
          model_.kind == ModelKind::Logistic ? BinaryLoss::Logistic : BinaryLoss::LeastSquares;
      if (scale == 1.0) {
        // The kernel adds the regulariser to the loss (loss_parts[0]) itself.
        LAG_CUDA(fused_gradient<T>(kind, x, y, rows, features_, theta, static_cast<T>(lambda_), g,
                                   loss_parts, fused_workspace_.get(), stream));
        LAG_CUDA(cudaMemsetAsync(loss_parts + 1, 0, sizeof(double), stream));
        return;
      }
      LAG_CUDA(fused_gradient<T>(kind, x, y, rows, features_, theta, T(0), g, loss_parts,
                                 fused_workspace_.get(), stream));
      break;
    }
    case ModelKind::Softmax:
      softmax_sums(x, y, rows, theta, g, loss_parts, stream, handle);
      break;
    case ModelKind::Mlp:
      mlp_sums(x, y, rows, theta, g, loss_parts, stream, handle);
      break;
  }
  if (scale != 1.0) LAG_CUDA(scale_gradient_and_loss<T>(g, params_, scale, loss_parts, stream));
  // As the CPU: no regulariser at all when lambda is 0 (not g += 0 theta, which would turn an
  // infinite theta into NaN and -0 into +0).
  if (lambda_ > 0)
    regularise(theta, g, loss_parts, stream);
  else
    LAG_CUDA(cudaMemsetAsync(loss_parts + 1, 0, sizeof(double), stream));
}

template <class T>
void DeviceLoss<T>::regularise(const T* theta, T* g, double* loss_parts, cudaStream_t stream) {
  LAG_CUDA(scale_add_lambda<T>(g, theta, static_cast<T>(lambda_), params_, stream));
  LAG_CUDA(squared_norm<T>(theta, params_, loss_parts + 1, reduce_workspace_.get(), stream));
}

// theta = W (K x d). Z = X W^T; Z <- softmax(Z) - onehot(y); G = Z^T X.
template <class T>
void DeviceLoss<T>::softmax_sums(const T* x, const T* y, std::size_t rows, const T* w, T* g,
                                 double* loss_parts, cudaStream_t stream, cublasHandle_t handle) {
  const auto k = static_cast<std::size_t>(model_.classes);
  const std::size_t d = features_;
  T* z = scratch_.get();
  if (rows == 0) {
    LAG_CUDA(cudaMemsetAsync(g, 0, params_ * sizeof(T), stream));
    LAG_CUDA(cudaMemsetAsync(loss_parts, 0, sizeof(double), stream));
  } else {
    gemm_rm(handle, false, true, rows, k, d, T(1), x, d, w, d, T(0), z, k);
    LAG_CUDA(softmax_rows<T>(z, y, rows, k, true, row_loss_.get(), nullptr, stream));
    LAG_CUDA(sum_doubles(row_loss_.get(), rows, loss_parts, reduce_workspace_.get(), stream));
    gemm_rm(handle, true, false, k, d, rows, T(1), z, k, x, d, T(0), g, d);
  }
}

// theta = [W1 (h x d) | b1 (h) | W2 (K x h) | b2 (K)], as on the CPU (cpu/loss_kernels.cpp).
template <class T>
void DeviceLoss<T>::mlp_sums(const T* x, const T* y, std::size_t rows, const T* theta, T* g,
                             double* loss_parts, cudaStream_t stream, cublasHandle_t handle) {
  const auto k = static_cast<std::size_t>(model_.classes);
  const auto h = static_cast<std::size_t>(model_.hidden);
  const std::size_t d = features_;
  const T *w1 = theta, *b1 = w1 + h * d, *w2 = b1 + h, *b2 = w2 + k * h;
  T *gw1 = g, *gb1 = gw1 + h * d, *gw2 = gb1 + h, *gb2 = gw2 + k * h;
  LAG_CUDA(cudaMemsetAsync(g, 0, params_ * sizeof(T), stream));
  if (rows == 0) {
    LAG_CUDA(cudaMemsetAsync(loss_parts, 0, sizeof(double), stream));
  } else {
    T* a = scratch_.get();  // rows x h activations
    T* z = a + rows * h;    // rows x K logits, then P - Y
    T* da = z + rows * k;   // rows x h gradient at the activations
    gemm_rm(handle, false, true, rows, h, d, T(1), x, d, w1, d, T(0), a, h);  // A = X W1^T
    LAG_CUDA(add_bias_tanh<T>(a, b1, rows, h, stream));
    gemm_rm(handle, false, true, rows, k, h, T(1), a, h, w2, h, T(0), z, k);  // Z = A W2^T
    LAG_CUDA(add_bias<T>(z, b2, rows, k, stream));
    LAG_CUDA(softmax_rows<T>(z, y, rows, k, true, row_loss_.get(), nullptr, stream));
    LAG_CUDA(sum_doubles(row_loss_.get(), rows, loss_parts, reduce_workspace_.get(), stream));
    gemm_rm(handle, true, false, k, h, rows, T(1), z, k, a, h, T(0), gw2, h);  // gW2 = dZ^T A
    LAG_CUDA(column_sums_add<T>(z, rows, k, gb2, column_workspace_.get(), stream));
    gemm_rm(handle, false, false, rows, h, k, T(1), z, k, w2, h, T(0), da, h);  // dA = dZ W2
    LAG_CUDA(tanh_backward<T>(da, a, rows * h, stream));
    gemm_rm(handle, true, false, h, d, rows, T(1), da, h, x, d, T(0), gw1, d);  // gW1 = dH^T X
    LAG_CUDA(column_sums_add<T>(da, rows, h, gb1, column_workspace_.get(), stream));
  }
}

template class DeviceLoss<float>;
template class DeviceLoss<double>;

}  // namespace lag::cuda
