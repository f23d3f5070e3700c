#include "model/gradient.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lag/softplus.hpp"

namespace lag::cpu {

namespace {

// Every dot product here keeps kLanes<T> partial sums, one cache line of T wide (lane l gets
// every product j with j mod kLanes = l, the last line possibly short), then adds the lanes up
// in a fixed tree (sum_lanes). Written out (not left to an `omp simd` reduction, whose grouping
// is the compiler's), the order is the same with every compiler and every run, and the loops of
// the four streams below can issue one prefetch per line. Every product is added with std::fma,
// so that no compiler's choice of where to fuse (GCC fused the whole lines and only part of a
// plain tail loop) changes a bit.
template <class T>
constexpr std::size_t kLanes = 64 / sizeof(T);

// acc[0] + acc[1] + ... in the tree (l, l + w) for w = kLanes/2, kLanes/4, ..., 1.
template <class T>
inline T sum_lanes(T* acc) {
  for (std::size_t w = kLanes<T> / 2; w > 0; w /= 2)
    for (std::size_t l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

template <class T>
inline T dot_row(const T* __restrict a, const T* __restrict b, std::size_t n) {
  constexpr std::size_t L = kLanes<T>;
  T acc[L] = {};
  const auto step = [&](std::size_t j, std::size_t l) { acc[l] = std::fma(a[j], b[j], acc[l]); };
  std::size_t j = 0;
  for (; j + L <= n; j += L) {
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) step(j + l, l);
  }
  for (std::size_t l = 0; j + l < n; ++l) step(j + l, l);
  return sum_lanes(acc);
}

template <class T>
inline void axpy_row(T c, const T* __restrict x, T* __restrict g, std::size_t n) {
#pragma omp simd
  for (std::size_t j = 0; j < n; ++j) g[j] = std::fma(c, x[j], g[j]);
}

// ---- four streams of rows ------------------------------------------------------------------
// A row at a time, the gradient runs at ~70% of the memory read bandwidth: each dot product is
// one chain of dependent FMAs (latency-bound), and the update of g loads and stores all of g once
// per row. Four rows at a time give four independent chains and one load/store of g per four
// rows, and the update of g for one group of rows shares its loop with the dot products of the
// next group (software pipelining), so misses on X are in flight all the time, also while g is
// updated.
//
// Which four rows: four consecutive rows are four reads a row apart, and with short rows (2000
// bytes of fp32 at d = 500) two of them share a 4 kB page, where the hardware prefetcher, which
// follows one stream per page, loses them: 64% of the read bandwidth on one thread. So the rows
// are split into four quarters of q = rows/4 rows, and group b is row b of each quarter: four
// sequential streams far apart, each of which the prefetcher follows (docs/benchmarks.md §1).
//
// The order of the sums is therefore that of the rows taken as 0, q, 2q, 3q, 1, q+1, 2q+1, 3q+1,
// ..., then the rows - 4q left over in order: g[j] and the loss get one row after another in
// that order, each row's arithmetic (its dot product, lanes as dot_row's, and g[j] += c x[j])
// being that of one row alone. The order is fixed by `rows` (callers split rows into fixed
// chunks), so the bits never depend on threads.
//
// Prefetch: with the hardware prefetcher alone, one thread read the four streams at 80-88% of
// the read bandwidth; asking for each stream's line 1 KB ahead (prefetch_ahead) brings it to
// 96-99% (docs/benchmarks.md §1).
constexpr std::size_t kStreams = 4;
constexpr std::size_t kPrefetchBytes = 1024;  // how far ahead in each stream

// sum += a row's loss, the loss rounded first: a compiler may fuse the product that ends a loss
// (1/2 r r) into the sum as one FMA in one grouping of rows and not in another, which would make
// the sum depend on the grouping.
inline void add_loss(double& sum, double row_loss) {
  volatile double rounded = row_loss;
  sum += rounded;
}

// Asks for the line kPrefetchBytes past p, into L2 (a hint: no fault past the end of the rows,
// and the address is formed as an integer, so no pointer leaves its array).
inline void prefetch_ahead(const void* p) {
  __builtin_prefetch(
      reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + kPrefetchBytes), 0, 2);
}

// out[k] = x_k . theta, each as dot_row.
template <class T>
inline void dot_streams(const T* const* x, std::size_t dim, const T* __restrict theta, T* out) {
  for (std::size_t k = 0; k < kStreams; ++k) out[k] = dot_row(x[k], theta, dim);
}

// g += sum_k c[k] x_k (stream 0 first), and out[k] = next_k . theta as dot_row, in one pass
// over j. Each step over a line of the next rows asks for the line kPrefetchBytes further on in
// each stream.
template <class T>
inline void axpy_dot_streams(const T* c, const T* const* x, std::size_t dim, T* __restrict g,
                             const T* const* next, const T* __restrict theta, T* out) {
  constexpr std::size_t L = kLanes<T>;
  const T* __restrict x0 = x[0];
  const T* __restrict x1 = x[1];
  const T* __restrict x2 = x[2];
  const T* __restrict x3 = x[3];
  const T* __restrict n0 = next[0];
  const T* __restrict n1 = next[1];
  const T* __restrict n2 = next[2];
  const T* __restrict n3 = next[3];
  const T c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  T a0[L] = {}, a1[L] = {}, a2[L] = {}, a3[L] = {};
  // Element i of g, and product i of each next row into lane l.
  const auto step = [&](std::size_t i, std::size_t l) {
    T v = g[i];
    v = std::fma(c0, x0[i], v);
    v = std::fma(c1, x1[i], v);
    v = std::fma(c2, x2[i], v);
    v = std::fma(c3, x3[i], v);
    g[i] = v;
    const T t = theta[i];
    a0[l] = std::fma(n0[i], t, a0[l]);
    a1[l] = std::fma(n1[i], t, a1[l]);
    a2[l] = std::fma(n2[i], t, a2[l]);
    a3[l] = std::fma(n3[i], t, a3[l]);
  };
  std::size_t j = 0;
  for (; j + L <= dim; j += L) {
    prefetch_ahead(n0 + j);
    prefetch_ahead(n1 + j);
    prefetch_ahead(n2 + j);
    prefetch_ahead(n3 + j);
#pragma omp simd
    for (std::size_t l = 0; l < L; ++l) step(j + l, l);
  }
  for (std::size_t l = 0; j + l < dim; ++l) step(j + l, l);
  out[0] = sum_lanes(a0);
  out[1] = sum_lanes(a1);
  out[2] = sum_lanes(a2);
  out[3] = sum_lanes(a3);
}

// g += sum_i coef_i x_i over the rows, in the order above; coefficient(i, dot_i, loss) returns
// coef_i and adds row i's loss to `loss` (called in that order). Returns the loss.
template <class T, class Coefficient>
inline double accumulate_rows(const T* x, std::size_t rows, std::size_t dim, const T* theta, T* g,
                              Coefficient&& coefficient) {
  const std::size_t q = rows / kStreams;
  double loss = 0;
  if (q > 0) {
    const auto group = [&](std::size_t b, const T** out) {
      for (std::size_t k = 0; k < kStreams; ++k) out[k] = x + (k * q + b) * dim;
    };
    const T* current[kStreams];
    const T* next[kStreams];
    T d[kStreams], c[kStreams];
    group(0, current);
    dot_streams(current, dim, theta, d);
    for (std::size_t b = 0; b < q; ++b) {
      for (std::size_t k = 0; k < kStreams; ++k) c[k] = coefficient(k * q + b, d[k], loss);
      // The last group's "next" is itself (its rows are in L1; those dot products are dropped).
      group(b + 1 < q ? b + 1 : b, next);
      axpy_dot_streams(c, current, dim, g, next, theta, d);
      std::copy(next, next + kStreams, current);
    }
  }
  for (std::size_t i = kStreams * q; i < rows; ++i) {
    const T* xi = x + i * dim;
    axpy_row(coefficient(i, dot_row(xi, theta, dim), loss), xi, g, dim);
  }
  return loss;
}

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
  if (kind == ModelKind::LeastSquares)
    return accumulate_rows(x, rows, dim, theta, g, [&](std::size_t i, T dot, double& loss) {
      const T r = dot - y[i];
      add_loss(loss, 0.5 * static_cast<double>(r) * static_cast<double>(r));
      return r;
    });
  return accumulate_rows(x, rows, dim, theta, g, [&](std::size_t i, T dot, double& loss) {
    const T z = y[i] * dot;
    // d/dtheta softplus(-z) = -y sigmoid(-z) x = -y / (1 + exp(z)) x
    const T c = -y[i] / (T(1) + std::exp(z));
    add_loss(loss, softplus(-static_cast<double>(z)));
    return c;
  });
}

template <class T>
double accumulate_loss(ModelKind kind, const T* x, const T* y, std::size_t rows, std::size_t dim,
                       const T* theta) {
  const auto row_loss = [&](std::size_t i) {
    const T z = dot_row(x + i * dim, theta, dim);
    if (kind == ModelKind::LeastSquares) {
      const double r = static_cast<double>(z) - static_cast<double>(y[i]);
      return 0.5 * r * r;
    }
    return softplus(-static_cast<double>(y[i]) * static_cast<double>(z));
  };
  // Summed in accumulate_gradient's order.
  const std::size_t q = rows / kStreams;
  double loss = 0;
  for (std::size_t b = 0; b < q; ++b)
    for (std::size_t k = 0; k < kStreams; ++k) add_loss(loss, row_loss(k * q + b));
  for (std::size_t i = kStreams * q; i < rows; ++i) add_loss(loss, row_loss(i));
  return loss;
}

#define LAG_INSTANTIATE(T)                                                                        \
  template double accumulate_gradient<T>(ModelKind, const T*, const T*, std::size_t, std::size_t, \
                                         const T*, T*);                                           \
  template double accumulate_loss<T>(ModelKind, const T*, const T*, std::size_t, std::size_t,     \
                                     const T*);                                                   \
  template T dot<T>(const T*, const T*, std::size_t);                                             \
  template double distance2<T>(const T*, const T*, std::size_t);                                  \
  template double norm2<T>(const T*, std::size_t);
LAG_INSTANTIATE(float)
LAG_INSTANTIATE(double)
#undef LAG_INSTANTIATE

}  // namespace lag::cpu
