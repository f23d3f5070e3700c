#include "model/loss_kernels.hpp"

#include <algorithm>
#include <cmath>

#include "lag/error.hpp"
#include "model/blas.hpp"
#include "model/gradient.hpp"

namespace lag::cpu {

void use_single_threaded_blas() { openblas_set_num_threads(1); }

namespace {

// ---- linear and logistic: the fused single-pass kernels ----------------------------------

template <class T>
class BinaryKernel final : public LossKernel<T> {
 public:
  BinaryKernel(ModelKind kind, std::size_t d) : kind_(kind), d_(d) {}
  double gradient(const T* x, const T* y, std::size_t rows, const T* theta, T* g,
                  std::vector<T>&) const override {
    return accumulate_gradient(kind_, x, y, rows, d_, theta, g);
  }
  double evaluate(const T* x, const T* y, std::size_t rows, const T* theta, std::vector<T>&,
                  std::size_t& correct) const override {
    double loss = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const T z = dot(x + i * d_, theta, d_);
      if (kind_ == ModelKind::LeastSquares) {
        const double r = static_cast<double>(z) - static_cast<double>(y[i]);
        loss += 0.5 * r * r;
      } else {
        loss += softplus(-static_cast<double>(y[i]) * static_cast<double>(z));
        correct += (z >= 0) == (y[i] > 0) ? 1 : 0;
      }
    }
    return loss;
  }
  double gradient_flops(std::size_t rows) const override {
    return 4.0 * static_cast<double>(rows) * static_cast<double>(d_);
  }

 private:
  ModelKind kind_;
  std::size_t d_;
};

// Softmax of each column of zt (the logits transposed, k x rows: row i's logit c at
// zt[c * rows + i]) in place, returning sum_i [logsumexp(z_i) - z_{i,y_i}] and counting rows
// whose largest logit is the label (the first largest). With `minus_onehot`, zt becomes
// (p - onehot(y))^T, the gradient of the loss with respect to the logits.
template <class T>
double softmax_columns(T* zt, const T* y, std::size_t rows, std::size_t k, bool minus_onehot,
                       std::size_t* correct) {
  double loss = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto at = [&](std::size_t c) -> T& { return zt[c * rows + i]; };
    const auto label = static_cast<std::size_t>(y[i]);
    std::size_t best = 0;
    for (std::size_t c = 1; c < k; ++c)
      if (at(c) > at(best)) best = c;
    if (correct && best == label) ++*correct;
    const T top = at(best);
    double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(at(c) - top));
    loss += std::log(sum) + static_cast<double>(top) - static_cast<double>(at(label));
    if (minus_onehot) {
      for (std::size_t c = 0; c < k; ++c)
        at(c) = static_cast<T>(std::exp(static_cast<double>(at(c) - top)) / sum);
      at(label) -= T(1);
    }
  }
  return loss;
}

// ---- softmax regression: theta = W (K x d) ----------------------------------------------

template <class T>
class SoftmaxKernel final : public LossKernel<T> {
 public:
  SoftmaxKernel(std::size_t k, std::size_t d) : k_(k), d_(d) {}

  double gradient(const T* x, const T* y, std::size_t rows, const T* w, T* g,
                  std::vector<T>& scratch) const override {
    scratch.resize(kGemmRows * k_);
    double loss = 0;
    for (std::size_t b = 0; b < rows; b += kGemmRows) {
      const std::size_t n = std::min(kGemmRows, rows - b);
      const T* xb = x + b * d_;
      T* zt = scratch.data();  // the logits transposed, K x n (see logits())
      logits(xb, n, w, zt);
      loss += softmax_columns(zt, y + b, n, k_, true, nullptr);         // Z = P - Y
      gemm(false, false, k_, d_, n, T(1), zt, n, xb, d_, T(1), g, d_);  // G += (P - Y)^T X
    }
    return loss;
  }

  double evaluate(const T* x, const T* y, std::size_t rows, const T* w, std::vector<T>& scratch,
                  std::size_t& correct) const override {
    scratch.resize(kGemmRows * k_);
    double loss = 0;
    for (std::size_t b = 0; b < rows; b += kGemmRows) {
      const std::size_t n = std::min(kGemmRows, rows - b);
      logits(x + b * d_, n, w, scratch.data());
      loss += softmax_columns(scratch.data(), y + b, n, k_, false, &correct);
    }
    return loss;
  }

  double gradient_flops(std::size_t rows) const override {
    return 4.0 * static_cast<double>(rows) * static_cast<double>(k_ * d_);
  }

 private:
  // Z^T = W X^T (K x n): the same GEMM as Z = X W^T, but OpenBLAS runs it 15% faster when the n
  // rows of X come from memory (docs/benchmarks.md §1).
  void logits(const T* x, std::size_t n, const T* w, T* zt) const {
    gemm(false, true, k_, n, d_, T(1), w, d_, x, d_, T(0), zt, n);
  }

  std::size_t k_, d_;
};

// ---- one-hidden-layer MLP: theta = [W1 (h x d) | b1 (h) | W2 (K x h) | b2 (K)] -----------

template <class T>
class MlpKernel final : public LossKernel<T> {
 public:
  MlpKernel(std::size_t k, std::size_t h, std::size_t d) : k_(k), h_(h), d_(d) {}

  double gradient(const T* x, const T* y, std::size_t rows, const T* theta, T* g,
                  std::vector<T>& scratch) const override {
    const T *w1 = theta, *b1 = w1 + h_ * d_, *w2 = b1 + h_, *b2 = w2 + k_ * h_;
    T *gw1 = g, *gb1 = gw1 + h_ * d_, *gw2 = gb1 + h_, *gb2 = gw2 + k_ * h_;
    scratch.resize(kGemmRows * (2 * h_ + k_));
    // Everything per block is kept transposed, a column per row of X (see forward()).
    T* at = scratch.data();        // activations, h x n
    T* zt = at + kGemmRows * h_;   // logits, then P - Y, K x n
    T* dat = zt + kGemmRows * k_;  // gradient at the activations, then at H, h x n
    double loss = 0;
    for (std::size_t b = 0; b < rows; b += kGemmRows) {
      const std::size_t n = std::min(kGemmRows, rows - b);
      const T* xb = x + b * d_;
      loss += forward(xb, y + b, n, w1, b1, w2, b2, at, zt, true, nullptr);
      gemm(false, true, k_, h_, n, T(1), zt, n, at, n, T(1), gw2, h_);  // gW2 += dZ^T A
      for (std::size_t c = 0; c < k_; ++c)
        for (std::size_t i = 0; i < n; ++i) gb2[c] += zt[c * n + i];
      gemm(true, false, h_, n, k_, T(1), w2, h_, zt, n, T(0), dat, n);          // dA^T = W2^T dZ^T
      for (std::size_t i = 0; i < h_ * n; ++i) dat[i] *= T(1) - at[i] * at[i];  // tanh'
      gemm(false, false, h_, d_, n, T(1), dat, n, xb, d_, T(1), gw1, d_);       // gW1 += dH^T X
      for (std::size_t j = 0; j < h_; ++j)
        for (std::size_t i = 0; i < n; ++i) gb1[j] += dat[j * n + i];
    }
    return loss;
  }

  double evaluate(const T* x, const T* y, std::size_t rows, const T* theta, std::vector<T>& scratch,
                  std::size_t& correct) const override {
    const T *w1 = theta, *b1 = w1 + h_ * d_, *w2 = b1 + h_, *b2 = w2 + k_ * h_;
    scratch.resize(kGemmRows * (h_ + k_));
    T* at = scratch.data();
    T* zt = at + kGemmRows * h_;
    double loss = 0;
    for (std::size_t b = 0; b < rows; b += kGemmRows) {
      const std::size_t n = std::min(kGemmRows, rows - b);
      loss += forward(x + b * d_, y + b, n, w1, b1, w2, b2, at, zt, false, &correct);
    }
    return loss;
  }

  double gradient_flops(std::size_t rows) const override {
    // forward X W1^T and A W2^T, backward dZ^T A, dZ W2, dH^T X
    const double n = static_cast<double>(rows);
    return 2.0 * n * static_cast<double>(2 * h_ * d_ + 3 * k_ * h_);
  }

 private:
  // A = tanh(X W1^T + b1), Z = A W2^T + b2, then the softmax loss (Z becomes P - Y if asked),
  // all transposed: A^T (h x n) = tanh(W1 X^T + b1), Z^T (K x n) = W2 A^T + b2. W1 X^T is the
  // same GEMM as X W1^T, 20% faster when the rows of X come from memory (docs/benchmarks.md §1).
  double forward(const T* x, const T* y, std::size_t n, const T* w1, const T* b1, const T* w2,
                 const T* b2, T* at, T* zt, bool minus_onehot, std::size_t* correct) const {
    gemm(false, true, h_, n, d_, T(1), w1, d_, x, d_, T(0), at, n);
    for (std::size_t j = 0; j < h_; ++j)
      for (std::size_t i = 0; i < n; ++i) at[j * n + i] = std::tanh(at[j * n + i] + b1[j]);
    gemm(false, false, k_, n, h_, T(1), w2, h_, at, n, T(0), zt, n);
    for (std::size_t c = 0; c < k_; ++c)
      for (std::size_t i = 0; i < n; ++i) zt[c * n + i] += b2[c];
    return softmax_columns(zt, y, n, k_, minus_onehot, correct);
  }

  std::size_t k_, h_, d_;
};

}  // namespace

template <class T>
std::unique_ptr<LossKernel<T>> make_loss_kernel(const ModelSpec& model, std::size_t features) {
  const auto k = static_cast<std::size_t>(model.classes);
  switch (model.kind) {
    case ModelKind::LeastSquares:
    case ModelKind::Logistic:
      return std::make_unique<BinaryKernel<T>>(model.kind, features);
    case ModelKind::Softmax:
      if (k < 2) throw Error("softmax needs at least two classes");
      return std::make_unique<SoftmaxKernel<T>>(k, features);
    case ModelKind::Mlp:
      if (k < 2) throw Error("mlp needs at least two classes");
      if (model.hidden < 1) throw Error("--hidden must be at least 1 for the mlp model");
      return std::make_unique<MlpKernel<T>>(k, static_cast<std::size_t>(model.hidden), features);
  }
  throw Error("unknown model");
}

template std::unique_ptr<LossKernel<float>> make_loss_kernel<float>(const ModelSpec&, std::size_t);
template std::unique_ptr<LossKernel<double>> make_loss_kernel<double>(const ModelSpec&,
                                                                      std::size_t);

}  // namespace lag::cpu
