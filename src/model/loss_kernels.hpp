// Per-model CPU kernels: the data term's loss and gradient over a block of rows, and predictions
// for accuracy. Linear and logistic use the fused single-pass kernels of gradient.hpp; softmax
// and the MLP go through BLAS GEMMs plus elementwise loops.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "lag/model.hpp"

namespace lag::cpu {

template <class T>
class LossKernel {
 public:
  virtual ~LossKernel() = default;

  // g += gradient of the data term over `rows` rows (x row-major with `features` columns, y the
  // labels); returns their loss, accumulated in double. `scratch` is the caller's, reused
  // between calls (one per thread).
  virtual double gradient(const T* x, const T* y, std::size_t rows, const T* theta, T* g,
                          std::vector<T>& scratch) const = 0;

  // Loss over the rows and the number of rows predicted right (0 for least squares, which has
  // no classes). Forward pass only.
  virtual double evaluate(const T* x, const T* y, std::size_t rows, const T* theta,
                          std::vector<T>& scratch, std::size_t& correct) const = 0;

  // FLOPs of one gradient over `rows` rows (for throughput figures).
  virtual double gradient_flops(std::size_t rows) const = 0;
};

// The kernel of `model` for inputs of `features` columns (model.classes and model.hidden set).
template <class T>
std::unique_ptr<LossKernel<T>> make_loss_kernel(const ModelSpec& model, std::size_t features);

// Rows of the multi-class models go through BLAS in blocks of at most this many rows, so that
// the block of X stays in L2 between the two GEMMs that read it (measured on Fashion-MNIST:
// 64 rows is twice as fast as 512 for softmax) and the per-thread scratch stays small.
constexpr std::size_t kGemmRows = 64;

// Make BLAS single-threaded: the kernels run inside our own thread pool (one BLAS call per
// thread at a time), and a single-threaded GEMM gives the same bits on every run.
void use_single_threaded_blas();

}  // namespace lag::cpu
