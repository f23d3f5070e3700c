#include "cpu/gradient.hpp"

#include <cmath>

namespace lag::cpu {

namespace {

// `omp simd` lets the compiler vectorise the reduction (without it, it may not reorder floating
// point sums); the order is fixed by the compiled code, so every run gives the same bits.
template <class T>
inline T dot_row(const T* __restrict a, const T* __restrict b, std::size_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

template <class T>
inline void axpy_row(T c, const T* __restrict x, T* __restrict g, std::size_t n) {
#pragma omp simd
  for (std::size_t j = 0; j < n; ++j) g[j] += c * x[j];
}

inline double softplus_d(double u) { return (u > 0 ? u : 0.0) + std::log1p(std::exp(-std::fabs(u))); }

}  // namespace

template <class T>
T dot(const T* a, const T* b, std::size_t n) {
  return dot_row(a, b, n);
}

template <class T>
double distance2(const T* a, const T* b, std::size_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t j = 0; j < n; ++j) {
    const double d = static_cast<double>(a[j]) - static_cast<double>(b[j]);
    s += d * d;
  }
  return s;
}

template <class T>
double norm2(const T* a, std::size_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t j = 0; j < n; ++j) s += static_cast<double>(a[j]) * static_cast<double>(a[j]);
  return s;
}

template <class T>
double accumulate_gradient(ModelKind kind, const T* x, const T* y, std::size_t rows,
                           std::size_t dim, const T* theta, T* g) {
  double loss = 0;
  if (kind == ModelKind::LeastSquares) {
    for (std::size_t i = 0; i < rows; ++i) {
      const T* xi = x + i * dim;
      const T r = dot_row(xi, theta, dim) - y[i];
      loss += 0.5 * static_cast<double>(r) * static_cast<double>(r);
      axpy_row(r, xi, g, dim);
    }
  } else {
    for (std::size_t i = 0; i < rows; ++i) {
      const T* xi = x + i * dim;
      const T z = y[i] * dot_row(xi, theta, dim);
      // d/dtheta softplus(-z) = -y sigmoid(-z) x = -y / (1 + exp(z)) x
      const T c = -y[i] / (T(1) + std::exp(z));
      loss += softplus_d(-static_cast<double>(z));
      axpy_row(c, xi, g, dim);
    }
  }
  return loss;
}

template <class T>
double accumulate_loss(ModelKind kind, const T* x, const T* y, std::size_t rows, std::size_t dim,
                       const T* theta) {
  double loss = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const T z = dot_row(x + i * dim, theta, dim);
    if (kind == ModelKind::LeastSquares) {
      const double r = static_cast<double>(z) - static_cast<double>(y[i]);
      loss += 0.5 * r * r;
    } else {
      loss += softplus_d(-static_cast<double>(y[i]) * static_cast<double>(z));
    }
  }
  return loss;
}

#define LAG_INSTANTIATE(T)                                                                     \
  template double accumulate_gradient<T>(ModelKind, const T*, const T*, std::size_t,           \
                                         std::size_t, const T*, T*);                           \
  template double accumulate_loss<T>(ModelKind, const T*, const T*, std::size_t, std::size_t,  \
                                     const T*);                                                \
  template T dot<T>(const T*, const T*, std::size_t);                                          \
  template double distance2<T>(const T*, const T*, std::size_t);                               \
  template double norm2<T>(const T*, std::size_t);
LAG_INSTANTIATE(float)
LAG_INSTANTIATE(double)
#undef LAG_INSTANTIATE

}  // namespace lag::cpu
