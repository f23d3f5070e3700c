#include "model/softmax_gradient.hpp"

#include <algorithm>
#include <cmath>

namespace lag::cpu {

namespace {

constexpr std::size_t G = kSoftmaxGroup;

// The logits of a group of four rows for two classes: out[r][c] = x_r . w_c for c = 0, 1, in one
// pass over j with eight accumulators. Eight independent FMA chains keep both FMA units busy
// (one chain per logit would wait on its own latency), and each loaded x and w serves four or
// two products; the rows come from memory on the group's first pass and from L1 afterwards.
template <class T>
inline void logits_4x2(const T* const* x, const T* w0_, const T* w1_, std::size_t d, T* out0,
                       T* out1) {
  const T* __restrict x0 = x[0];
  const T* __restrict x1 = x[1];
  const T* __restrict x2 = x[2];
  const T* __restrict x3 = x[3];
  const T* __restrict w0 = w0_;
  const T* __restrict w1 = w1_;
  T a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, b0, b1, b2, b3)
  for (std::size_t j = 0; j < d; ++j) {
    const T u = w0[j], v = w1[j];
    a0 += x0[j] * u;
    a1 += x1[j] * u;
    a2 += x2[j] * u;
    a3 += x3[j] * u;
    b0 += x0[j] * v;
    b1 += x1[j] * v;
    b2 += x2[j] * v;
    b3 += x3[j] * v;
  }
  out0[0] = a0;
  out0[1] = a1;
  out0[2] = a2;
  out0[3] = a3;
  out1[0] = b0;
  out1[1] = b1;
  out1[2] = b2;
  out1[3] = b3;
}

// One class of a group: out[r] = x_r . w (an odd K's last class).
template <class T>
inline void logits_4x1(const T* const* x, const T* w_, std::size_t d, T* out) {
  const T* __restrict x0 = x[0];
  const T* __restrict x1 = x[1];
  const T* __restrict x2 = x[2];
  const T* __restrict x3 = x[3];
  const T* __restrict w = w_;
  T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
  for (std::size_t j = 0; j < d; ++j) {
    const T u = w[j];
    a0 += x0[j] * u;
    a1 += x1[j] * u;
    a2 += x2[j] * u;
    a3 += x3[j] * u;
  }
  out[0] = a0;
  out[1] = a1;
  out[2] = a2;
  out[3] = a3;
}

// z[r k + c] = x_r . w_c for the group's rows and every class.
template <class T>
void group_logits(const T* const* x, std::size_t d, const T* w, std::size_t k, T* z) {
  T col0[G], col1[G];
  std::size_t c = 0;
  for (; c + 2 <= k; c += 2) {
    logits_4x2(x, w + c * d, w + (c + 1) * d, d, col0, col1);
    for (std::size_t r = 0; r < G; ++r) {
      z[r * k + c] = col0[r];
      z[r * k + c + 1] = col1[r];
    }
  }
  if (c < k) {
    logits_4x1(x, w + c * d, d, col0);
    for (std::size_t r = 0; r < G; ++r) z[r * k + c] = col0[r];
  }
}

// g += sum_r coef[r] x_r, row 0 first (one class's row of the gradient).
template <class T>
inline void group_update(const T* coef, const T* const* x, std::size_t d, T* __restrict g) {
  const T* __restrict x0 = x[0];
  const T* __restrict x1 = x[1];
  const T* __restrict x2 = x[2];
  const T* __restrict x3 = x[3];
  const T c0 = coef[0], c1 = coef[1], c2 = coef[2], c3 = coef[3];
#pragma omp simd
  for (std::size_t j = 0; j < d; ++j) {
    T v = g[j];
    v += c0 * x0[j];
    v += c1 * x1[j];
    v += c2 * x2[j];
    v += c3 * x3[j];
    g[j] = v;
  }
}

template <class T>
inline T row_dot(const T* __restrict a, const T* __restrict b, std::size_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

template <class T>
inline void row_axpy(T c, const T* __restrict x, T* __restrict g, std::size_t n) {
#pragma omp simd
  for (std::size_t j = 0; j < n; ++j) g[j] += c * x[j];
}

template <class T>
void row_logits(const T* x, std::size_t d, const T* w, std::size_t k, T* z) {
  for (std::size_t c = 0; c < k; ++c) z[c] = row_dot(x, w + c * d, d);
}

}  // namespace

template <class T>
double softmax_rows(T* z, const T* y, std::size_t rows, std::size_t k, bool minus_onehot,
                    std::size_t* correct) {
  double loss = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    T* zi = z + i * k;
    const auto label = static_cast<std::size_t>(y[i]);
    const std::size_t best = static_cast<std::size_t>(std::max_element(zi, zi + k) - zi);
    if (correct && best == label) ++*correct;
    const T top = zi[best];
    double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(zi[c] - top));
    loss += std::log(sum) + static_cast<double>(top) - static_cast<double>(zi[label]);
    if (minus_onehot) {
      for (std::size_t c = 0; c < k; ++c)
        zi[c] = static_cast<T>(std::exp(static_cast<double>(zi[c] - top)) / sum);
      zi[label] -= T(1);
    }
  }
  return loss;
}

template <class T>
double softmax_gradient(const T* x, const T* y, std::size_t rows, std::size_t d, std::size_t k,
                        const T* w, T* g, T* z) {
  double loss = 0;
  std::size_t i = 0;
  for (; i + G <= rows; i += G) {
    const T* group[G] = {x + i * d, x + (i + 1) * d, x + (i + 2) * d, x + (i + 3) * d};
    group_logits(group, d, w, k, z);
    loss += softmax_rows(z, y + i, G, k, true, nullptr);  // z = P - Y
    for (std::size_t c = 0; c < k; ++c) {
      const T coef[G] = {z[c], z[k + c], z[2 * k + c], z[3 * k + c]};
      group_update(coef, group, d, g + c * d);
    }
  }
  for (; i < rows; ++i) {
    const T* xi = x + i * d;
    row_logits(xi, d, w, k, z);
    loss += softmax_rows(z, y + i, 1, k, true, nullptr);
    for (std::size_t c = 0; c < k; ++c) row_axpy(z[c], xi, g + c * d, d);
  }
  return loss;
}

template <class T>
double softmax_evaluate(const T* x, const T* y, std::size_t rows, std::size_t d, std::size_t k,
                        const T* w, T* z, std::size_t& correct) {
  double loss = 0;
  std::size_t i = 0;
  for (; i + G <= rows; i += G) {
    const T* group[G] = {x + i * d, x + (i + 1) * d, x + (i + 2) * d, x + (i + 3) * d};
    group_logits(group, d, w, k, z);
    loss += softmax_rows(z, y + i, G, k, false, &correct);
  }
  for (; i < rows; ++i) {
    row_logits(x + i * d, d, w, k, z);
    loss += softmax_rows(z, y + i, 1, k, false, &correct);
  }
  return loss;
}

#define LAG_INSTANTIATE(T)                                                                       \
  template double softmax_rows<T>(T*, const T*, std::size_t, std::size_t, bool, std::size_t*);   \
  template double softmax_gradient<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, \
                                      const T*, T*, T*);                                         \
  template double softmax_evaluate<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, \
                                      const T*, T*, std::size_t&);
LAG_INSTANTIATE(float)
LAG_INSTANTIATE(double)
#undef LAG_INSTANTIATE

}  // namespace lag::cpu
