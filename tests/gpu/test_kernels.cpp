// The CUDA kernels (kernels/*.cuh) against plain CPU references on random data. Every test skips
// when the machine has no CUDA device, and fails on any other CUDA error (gpu_probe.hpp).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "compress.cuh"
#include "compress/quantizer.hpp"
#include "compress/top_k.hpp"
#include "exchange.cuh"
#include "fused_gradient.cuh"
#include "gather.cuh"
#include "gpu_probe.hpp"
#include "lag/algorithm.hpp"
#include "reduce.cuh"
#include "softmax.cuh"
#include "trigger.cuh"
#include "vector_ops.cuh"

namespace {

using lag::cuda::BinaryLoss;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Launch errors and asynchronous kernel faults both end up here.
void finish(cudaError_t launch, const char* what) {
  check(launch, what);
  check(cudaDeviceSynchronize(), what);
}

// Device buffer of n T (n may be 0: then the pointer is null).
template <class T>
class Dev {
 public:
  explicit Dev(std::size_t n) : n_(n) {
    if (n_ > 0) check(cudaMalloc(reinterpret_cast<void**>(&p_), n_ * sizeof(T)), "cudaMalloc");
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) { upload(h); }
  ~Dev() {
    if (p_) cudaFree(p_);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  Dev(Dev&& o) noexcept : n_(o.n_), p_(o.p_) { o.p_ = nullptr; }
  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  void upload(const std::vector<T>& h) {
    if (h.size() != n_) throw std::runtime_error("upload: size mismatch");
    if (n_ > 0)
      check(cudaMemcpy(p_, h.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    if (n_ > 0)
      check(cudaMemcpy(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    return h;
  }

 private:
  std::size_t n_;
  T* p_ = nullptr;
};

// splitmix64: fast, reproducible, good enough for test data.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t s_;
};

template <class T>
std::vector<T> random_vector(std::size_t n, Rng& rng, double lo = -1, double hi = 1) {
  std::vector<T> v(n);
  for (T& e : v) e = static_cast<T>(rng.uniform(lo, hi));
  return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

template <class T>
constexpr double tolerance(double fp64, double fp32) {
  return std::is_same_v<T, double> ? fp64 : fp32;
}

template <class T>
class Kernels : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Kernels, Precisions);

// ---- fused gradient ----------------------------------------------------------------------

double softplus(double u) { return (u > 0 ? u : 0.0) + std::log1p(std::exp(-std::fabs(u))); }

// The gradient from the T data, sums in long double: g = sum_i c_i x_i + lambda theta.
template <class T>
void reference_gradient(BinaryLoss loss, const T* x, const std::vector<T>& y, std::size_t rows,
                        std::size_t dim, const std::vector<T>& theta, double lambda,
                        std::vector<double>& g, double& total) {
  std::vector<long double> acc(dim, 0.0L);
  long double sum = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x + i * dim;
    long double dot = 0;
    for (std::size_t j = 0; j < dim; ++j)
      dot += static_cast<long double>(xi[j]) * static_cast<long double>(theta[j]);
    const double yi = static_cast<double>(y[i]);
    double c;
    if (loss == BinaryLoss::LeastSquares) {
      const double r = static_cast<double>(dot) - yi;
      sum += 0.5L * r * r;
      c = r;
    } else {
      const double z = yi * static_cast<double>(dot);
      sum += softplus(-z);
      c = -yi / (1.0 + std::exp(z));
    }
    for (std::size_t j = 0; j < dim; ++j) acc[j] += c * static_cast<long double>(xi[j]);
  }
  if (lambda != 0) {
    long double n2 = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      const long double t = static_cast<long double>(theta[j]);
      acc[j] += lambda * t;
      n2 += t * t;
    }
    sum += 0.5L * lambda * n2;
  }
  g.resize(dim);
  for (std::size_t j = 0; j < dim; ++j) g[j] = static_cast<double>(acc[j]);
  total = static_cast<double>(sum);
}

// Runs both losses on one random (rows x dim) problem, with x at `offset` elements into its
// allocation (offset 1 breaks 16-byte alignment and so takes the scalar-load kernels); checks g
// and the loss against the reference and that a second call gives the same bits.
template <class T>
void check_fused(std::size_t rows, std::size_t dim, std::size_t offset, std::uint64_t seed) {
  SCOPED_TRACE("rows " + std::to_string(rows) + " dim " + std::to_string(dim) + " offset " +
               std::to_string(offset) + (std::is_same_v<T, double> ? " fp64" : " fp32"));
  Rng rng(seed);
  std::vector<T> xh = random_vector<T>(rows * dim + offset, rng);
  std::vector<T> theta = random_vector<T>(dim, rng, -1.0 / std::sqrt(static_cast<double>(dim)),
                                          1.0 / std::sqrt(static_cast<double>(dim)));
  std::vector<T> y_ls = random_vector<T>(rows, rng);
  std::vector<T> y_log(rows);
  for (T& v : y_log) v = rng.uniform() < 0.5 ? T(-1) : T(1);
  Dev<T> x(xh), th(theta), g(dim), yl(y_ls), yg(y_log);
  Dev<double> loss(1);
  Dev<unsigned char> ws(lag::cuda::fused_gradient_workspace_bytes(rows, dim, sizeof(T)));
  const T* xd = rows > 0 ? x.get() + offset : nullptr;
  const double tol = tolerance<T>(1e-12, 1e-4);
  for (const BinaryLoss kind : {BinaryLoss::LeastSquares, BinaryLoss::Logistic}) {
    SCOPED_TRACE(kind == BinaryLoss::LeastSquares ? "least squares" : "logistic");
    const T lambda = kind == BinaryLoss::LeastSquares ? T(0) : T(0.25);
    const std::vector<T>& yh = kind == BinaryLoss::LeastSquares ? y_ls : y_log;
    const T* yd = kind == BinaryLoss::LeastSquares ? yl.get() : yg.get();
    std::vector<double> gref;
    double lref = 0;
    reference_gradient(kind, xh.data() + offset, yh, rows, dim, theta, static_cast<double>(lambda),
                       gref, lref);
    finish(lag::cuda::fused_gradient<T>(kind, xd, rows > 0 ? yd : nullptr, rows, dim, th.get(),
                                        lambda, g.get(), loss.get(), ws.get(), nullptr),
           "fused_gradient");
    const std::vector<T> g1 = g.download();
    const double l1 = loss.download()[0];
    double gmax = 0, err = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      gmax = std::max(gmax, std::fabs(gref[j]));
      err = std::max(err, std::fabs(static_cast<double>(g1[j]) - gref[j]));
    }
    EXPECT_LE(err, tol * gmax) << "max |g - g_ref| " << err << ", max |g_ref| " << gmax;
    EXPECT_LE(std::fabs(l1 - lref), tol * std::fabs(lref)) << "loss " << l1 << " vs " << lref;
    // Same bits on a second call.
    finish(lag::cuda::fused_gradient<T>(kind, xd, rows > 0 ? yd : nullptr, rows, dim, th.get(),
                                        lambda, g.get(), loss.get(), ws.get(), nullptr),
           "fused_gradient");
    EXPECT_TRUE(same_bits(g1, g.download()));
    EXPECT_TRUE(same_bits(l1, loss.download()[0]));
  }
}

// Dims cover every kernel tier and its edges: 16/32-byte vectors or scalars, quarter-warp and
// warp groups, 1..32 elements per lane, and the general (re-reading) path above 512/1024.
const std::size_t kDims[] = {1,   2,   3,   4,   7,   8,   9,   16,  17,  32,  33,  64,   65,
                             100, 128, 129, 255, 256, 257, 500, 511, 512, 513, 777, 1000, 1024};

TYPED_TEST(Kernels, FusedGradientSmallRows) {
  LAG_REQUIRE_GPU();
  std::uint64_t seed = 1;
  for (const std::size_t dim : kDims)
    for (const std::size_t rows : {0, 1, 3, 1000}) check_fused<TypeParam>(rows, dim, 0, ++seed);
  for (const std::size_t rows : {0, 1, 1000}) check_fused<TypeParam>(rows, 1025, 0, ++seed);
  for (const std::size_t rows : {0, 1, 1000, 20000}) check_fused<TypeParam>(rows, 4099, 0, ++seed);
}

TYPED_TEST(Kernels, FusedGradientManyRows) {
  LAG_REQUIRE_GPU();
  std::uint64_t seed = 100;
  for (const std::size_t dim : {1, 7, 16, 33, 64, 100, 128, 255, 256, 500, 512})
    check_fused<TypeParam>(100000, dim, 0, ++seed);
}

TYPED_TEST(Kernels, FusedGradientMisaligned) {
  LAG_REQUIRE_GPU();
  std::uint64_t seed = 200;
  for (const std::size_t dim : {4, 8, 64, 128, 256, 500, 512, 1000, 1024})
    for (const std::size_t rows : {1, 1000}) check_fused<TypeParam>(rows, dim, 1, ++seed);
  check_fused<TypeParam>(100000, 500, 1, ++seed);
}

TYPED_TEST(Kernels, FusedGradientFullGrid) {
  LAG_REQUIRE_GPU();
  // rows x dim above 3168 x 32768 elements: the grid is at its cap, blocks own ~95 rows each.
  check_fused<TypeParam>(300000, 400, 0, 300);
}

TEST(FusedGradient, RejectsBadArguments) {
  LAG_REQUIRE_GPU();
  double* p = nullptr;
  EXPECT_EQ(lag::cuda::fused_gradient<double>(BinaryLoss::LeastSquares, p, p, 1, 0, p, 0.0, p, p, p,
                                              nullptr),
            cudaErrorInvalidValue);
}

// ---- reductions ----------------------------------------------------------------------------

const std::size_t kLengths[] = {0, 1, 7, 1000, 2048, 2049, 4099, 100000, 524288, 600001, 3000017};

// References accumulate in long double: a sequential double sum of millions of terms is less
// accurate than the kernels' blocked sums.
template <class T>
double seq_norm2(const std::vector<T>& a) {
  long double s = 0;
  for (const T v : a) s += static_cast<long double>(v) * static_cast<long double>(v);
  return static_cast<double>(s);
}

TYPED_TEST(Kernels, SquaredNormAndDistance) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(7);
  Dev<double> ws(lag::cuda::reduce_workspace_doubles()), out(2);
  for (const std::size_t n : kLengths) {
    SCOPED_TRACE("n " + std::to_string(n));
    const std::vector<T> a = random_vector<T>(n, rng), b = random_vector<T>(n, rng);
    Dev<T> da(a), db(b);
    long double sum_d = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const long double d =
          static_cast<long double>(static_cast<double>(a[j]) - static_cast<double>(b[j]));
      sum_d += d * d;
    }
    const double ref_d = static_cast<double>(sum_d);
    const double ref_n = seq_norm2(a);
    finish(lag::cuda::squared_norm<T>(da.get(), n, out.get(), ws.get(), nullptr), "norm");
    finish(lag::cuda::distance2<T>(da.get(), db.get(), n, out.get() + 1, ws.get(), nullptr),
           "distance2");
    const std::vector<double> r1 = out.download();
    EXPECT_LE(std::fabs(r1[0] - ref_n), 1e-12 * ref_n);
    EXPECT_LE(std::fabs(r1[1] - ref_d), 1e-12 * ref_d);
    finish(lag::cuda::squared_norm<T>(da.get(), n, out.get(), ws.get(), nullptr), "norm");
    finish(lag::cuda::distance2<T>(da.get(), db.get(), n, out.get() + 1, ws.get(), nullptr),
           "distance2");
    EXPECT_TRUE(same_bits(r1, out.download()));
  }
}

TYPED_TEST(Kernels, DeltaAndNorm) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(8);
  Dev<double> ws(lag::cuda::reduce_workspace_doubles()), out(1);
  for (const std::size_t n : kLengths) {
    SCOPED_TRACE("n " + std::to_string(n));
    const std::vector<T> g = random_vector<T>(n, rng), gh = random_vector<T>(n, rng);
    std::vector<T> ref(n);
    for (std::size_t j = 0; j < n; ++j) ref[j] = g[j] - gh[j];
    Dev<T> dg(g), dgh(gh), dd(n);
    finish(lag::cuda::delta_and_norm<T>(dg.get(), dgh.get(), dd.get(), n, out.get(), ws.get(),
                                        nullptr),
           "delta_and_norm");
    EXPECT_TRUE(same_bits(ref, dd.download()));
    const double r1 = out.download()[0];
    const double ref_n = seq_norm2(ref);
    EXPECT_LE(std::fabs(r1 - ref_n), 1e-12 * ref_n);
    finish(lag::cuda::delta_and_norm<T>(dg.get(), dgh.get(), dd.get(), n, out.get(), ws.get(),
                                        nullptr),
           "delta_and_norm");
    EXPECT_TRUE(same_bits(r1, out.download()[0]));
  }
}

// Batched launches give each job the bits of its own launch: workers with different row counts
// (so different block counts) in one batch, on the fast and the general paths.
TYPED_TEST(Kernels, FusedGradientBatchMatchesSingleLaunches) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(31);
  for (const std::size_t dim : {7, 50, 512, 1500}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    const std::size_t rows[] = {0, 1, 50, 3000, 100000};
    constexpr std::size_t J = sizeof(rows) / sizeof(rows[0]);
    std::vector<Dev<T>> xs, ys, gs, gb;
    std::vector<Dev<double>> ls, lb;
    std::vector<Dev<unsigned char>> ws, wb;
    for (std::size_t i = 0; i < J; ++i) {
      xs.emplace_back(random_vector<T>(std::max<std::size_t>(rows[i] * dim, 1), rng));
      ys.emplace_back(random_vector<T>(std::max<std::size_t>(rows[i], 1), rng));
      gs.emplace_back(dim);
      gb.emplace_back(dim);
      ls.emplace_back(1);
      lb.emplace_back(1);
      ws.emplace_back(lag::cuda::fused_gradient_workspace_bytes(rows[i], dim, sizeof(T)));
      wb.emplace_back(lag::cuda::fused_gradient_workspace_bytes(rows[i], dim, sizeof(T)));
    }
    Dev<T> th(random_vector<T>(dim, rng, -0.1, 0.1));
    for (const BinaryLoss kind : {BinaryLoss::LeastSquares, BinaryLoss::Logistic}) {
      const T lambda = kind == BinaryLoss::LeastSquares ? T(0) : T(0.25);
      lag::cuda::FusedBatch<T> batch{};
      for (std::size_t i = 0; i < J; ++i) {
        finish(lag::cuda::fused_gradient<T>(kind, xs[i].get(), ys[i].get(), rows[i], dim, th.get(),
                                            lambda, gs[i].get(), ls[i].get(), ws[i].get(), nullptr),
               "fused_gradient");
        batch.job[i] = lag::cuda::fused_gradient_job<T>(xs[i].get(), ys[i].get(), rows[i], dim,
                                                        gb[i].get(), lb[i].get(), wb[i].get());
      }
      // One more job, the biggest one again, flagged off: it must not write its outputs.
      Dev<std::uint8_t> off(std::vector<std::uint8_t>{0});
      Dev<T> off_g(std::vector<T>(dim, T(7)));
      Dev<double> off_loss(std::vector<double>{-1.0});
      Dev<unsigned char> off_ws(
          lag::cuda::fused_gradient_workspace_bytes(rows[J - 1], dim, sizeof(T)));
      batch.job[J] =
          lag::cuda::fused_gradient_job<T>(xs[J - 1].get(), ys[J - 1].get(), rows[J - 1], dim,
                                           off_g.get(), off_loss.get(), off_ws.get());
      batch.job[J].run_if = off.get();
      batch.count = static_cast<int>(J + 1);
      finish(lag::cuda::fused_gradient_batch<T>(kind, batch, dim, th.get(), lambda, nullptr),
             "fused_gradient_batch");
      for (std::size_t i = 0; i < J; ++i) {
        SCOPED_TRACE("job " + std::to_string(i));
        EXPECT_TRUE(same_bits(gs[i].download(), gb[i].download()));
        EXPECT_TRUE(same_bits(ls[i].download()[0], lb[i].download()[0]));
      }
      EXPECT_TRUE(same_bits(std::vector<T>(dim, T(7)), off_g.download()));
      EXPECT_EQ(off_loss.download()[0], -1.0);
    }
  }
}

TYPED_TEST(Kernels, DeltaAndNormBatchMatchesSingleLaunches) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(32);
  for (const std::size_t n :
       {std::size_t{1}, std::size_t{50}, std::size_t{2049}, std::size_t{600001}}) {
    SCOPED_TRACE("n " + std::to_string(n));
    constexpr int J = 3;
    std::vector<Dev<T>> g, gh, d1, d2;
    std::vector<Dev<double>> w1, w2;
    Dev<double> out1(J), out2(J);
    lag::cuda::DeltaBatch<T> batch{};
    for (int i = 0; i < J; ++i) {
      g.emplace_back(random_vector<T>(n, rng));
      gh.emplace_back(random_vector<T>(n, rng));
      d1.emplace_back(n);
      d2.emplace_back(n);
      w1.emplace_back(lag::cuda::reduce_workspace_doubles());
      w2.emplace_back(lag::cuda::reduce_workspace_doubles());
    }
    for (int i = 0; i < J; ++i) {
      finish(lag::cuda::delta_and_norm<T>(g[i].get(), gh[i].get(), d1[i].get(), n, out1.get() + i,
                                          w1[i].get(), nullptr),
             "delta_and_norm");
      batch.job[i] = {g[i].get(), gh[i].get(), d2[i].get(), out2.get() + i, w2[i].get(), nullptr};
    }
    // A fourth job flagged off (its run_if is 0) must leave its outputs alone; job 0 is flagged
    // on and runs.
    Dev<std::uint8_t> flags(std::vector<std::uint8_t>{1, 0});
    Dev<T> off_delta(std::vector<T>(n, T(7)));
    Dev<double> off_norm(std::vector<double>{-1.0});
    batch.job[0].run_if = flags.get();
    batch.job[J] = {g[0].get(),     gh[0].get(), off_delta.get(),
                    off_norm.get(), w1[0].get(), flags.get() + 1};
    batch.count = J + 1;
    finish(lag::cuda::delta_and_norm_batch<T>(batch, n, nullptr), "delta_and_norm_batch");
    for (int i = 0; i < J; ++i) EXPECT_TRUE(same_bits(d1[i].download(), d2[i].download()));
    EXPECT_TRUE(same_bits(out1.download(), out2.download()));
    EXPECT_TRUE(same_bits(std::vector<T>(n, T(7)), off_delta.download()));
    EXPECT_EQ(off_norm.download()[0], -1.0);
  }
}

TYPED_TEST(Kernels, Distance2RowsMatchesSingleLaunches) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(34);
  for (const std::size_t n :
       {std::size_t{1}, std::size_t{50}, std::size_t{2049}, std::size_t{600001}}) {
    SCOPED_TRACE("n " + std::to_string(n));
    constexpr int J = 4;
    Dev<T> rows(random_vector<T>(J * n, rng)), b(random_vector<T>(n, rng));
    Dev<double> one(J), batched(J), ws(lag::cuda::reduce_workspace_doubles()),
        wsb(J * lag::cuda::reduce_workspace_doubles());
    for (int m = 0; m < J; ++m)
      finish(
          lag::cuda::distance2<T>(rows.get() + m * n, b.get(), n, one.get() + m, ws.get(), nullptr),
          "distance2");
    finish(
        lag::cuda::distance2_rows<T>(rows.get(), b.get(), n, J, batched.get(), wsb.get(), nullptr),
        "distance2_rows");
    EXPECT_TRUE(same_bits(one.download(), batched.download()));
  }
}

// The exchange kernels against literal expectations: decide is the LAG-WK rule (or the given
// flags), commit adds the firing workers' vectors in worker order and records their g and theta.
TYPED_TEST(Kernels, ExchangeDecideAndCommit) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(33);
  constexpr int M = 5;
  const std::size_t n = 1000;
  const std::vector<std::uint8_t> selected = {1, 1, 0, 1, 1};
  const std::vector<double> norms = {0.5, 2.0, 3.0, 1.0, 1.5};
  const double tau =
      1.0;  // fires: workers 1 and 4 (0.5 and 1.0 do not exceed tau; 2 is unselected)
  Dev<double> dtau(std::vector<double>{tau}), dnorms(norms);
  Dev<std::uint8_t> dsel(selected), fire(M), fire_copy(M);
  for (const bool use_trigger : {true, false}) {
    for (const bool replace : {false, true}) {
      SCOPED_TRACE(std::string(use_trigger ? "trigger" : "given") + (replace ? " replace" : ""));
      finish(lag::cuda::exchange_decide(use_trigger, dtau.get(), dsel.get(), dnorms.get(), M,
                                        fire.get(), fire_copy.get(), nullptr),
             "exchange_decide");
      // Literal: worker 3's norm equals tau (no upload), worker 2 is not selected.
      const std::vector<std::uint8_t> want =
          use_trigger ? std::vector<std::uint8_t>{0, 1, 0, 0, 1} : selected;
      EXPECT_EQ(want, fire.download());
      EXPECT_EQ(want, fire_copy.download());

      std::vector<std::vector<T>> gh(M), dh(M);
      std::vector<Dev<T>> g, d, ghat;
      for (int m = 0; m < M; ++m) {
        gh[m] = random_vector<T>(n, rng);
        dh[m] = random_vector<T>(n, rng);
        g.emplace_back(gh[m]);
        d.emplace_back(dh[m]);
        ghat.emplace_back(random_vector<T>(n, rng));
      }
      std::vector<const T*> gp(M), dp(M);
      std::vector<T*> hp(M);
      for (int m = 0; m < M; ++m) {
        gp[m] = g[m].get();
        dp[m] = d[m].get();
        hp[m] = ghat[m].get();
      }
      Dev<const T*> gt(gp), dt(dp);
      Dev<T*> ht(hp);
      const std::vector<T> theta = random_vector<T>(n, rng), agg0 = random_vector<T>(n, rng);
      const std::vector<T> that0 = random_vector<T>(M * n, rng);
      Dev<T> dtheta(theta), agg(agg0), that(that0);
      finish(lag::cuda::exchange_commit<T>(replace, {gt.get(), dt.get(), ht.get()}, fire.get(), M,
                                           dtheta.get(), that.get(), agg.get(), n, nullptr),
             "exchange_commit");
      std::vector<T> ref = replace ? std::vector<T>(n, T(0)) : agg0;
      std::vector<T> that_ref = that0;
      for (int m = 0; m < M; ++m) {
        if (!want[m]) continue;
        for (std::size_t j = 0; j < n; ++j) {
          ref[j] += replace ? gh[m][j] : dh[m][j];
          that_ref[m * n + j] = theta[j];
        }
        EXPECT_TRUE(same_bits(gh[m], ghat[m].download())) << "g_hat of worker " << m;
      }
      EXPECT_TRUE(same_bits(ref, agg.download()));
      EXPECT_TRUE(same_bits(that_ref, that.download()));
    }
  }
}

// L_m^2 d2 in doubles is {0, 0.1, 0.98 - 1ulp, 0.5, 1, 1 - 1ulp}: exactly at tau = 0.1 for
// worker 1 and at tau = 1 for worker 4, neither of which is asked.
TEST(Exchange, PsSelectMatchesLiteralFlags) {
  LAG_REQUIRE_GPU();
  const std::vector<double> d2 = {0.0, 1e-3, 2.0, 0.5, 4.0, 1e-300};
  const std::vector<double> l = {3.0, 10.0, 0.7, 1.0, 0.5, 1e150};
  const int M = static_cast<int>(d2.size());
  struct Case {
    double tau;
    std::vector<std::uint8_t> want;
  };
  for (const Case& c : {Case{0.0, {0, 1, 1, 1, 1, 1}}, Case{0.1, {0, 0, 1, 1, 1, 1}},
                        Case{1.0, {0, 0, 0, 0, 0, 0}}}) {
    const double tau = c.tau;
    const std::vector<std::uint8_t>& want = c.want;
    SCOPED_TRACE("tau " + std::to_string(tau));
    Dev<double> dtau(std::vector<double>{tau}), dd2(d2), dl(l);
    Dev<std::uint8_t> sel(M), sel_copy(M);
    finish(lag::cuda::exchange_ps_select(dtau.get(), dd2.get(), dl.get(), M, sel.get(),
                                         sel_copy.get(), nullptr),
           "exchange_ps_select");
    EXPECT_EQ(want, sel.download());
    EXPECT_EQ(want, sel_copy.download());
  }
}

TYPED_TEST(Kernels, StepAndNorm) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(9);
  const double step = 0.0123;
  Dev<double> ws(lag::cuda::reduce_workspace_doubles()), out(1);
  for (const std::size_t n : kLengths) {
    SCOPED_TRACE("n " + std::to_string(n));
    const std::vector<T> theta = random_vector<T>(n, rng), agg = random_vector<T>(n, rng);
    Dev<T> dt(theta), da(agg);
    finish(lag::cuda::step_and_norm<T>(dt.get(), da.get(), step, n, out.get(), ws.get(), nullptr),
           "step_and_norm");
    const std::vector<T> next = dt.download();
    const double change2 = out.download()[0];
    // next = theta - s agg in T, with or without contraction into one fma (nvcc contracts; so
    // does g++ -march=x86-64-v3 for the CPU backend).
    const T s = static_cast<T>(step);
    std::size_t bad = 0;
    long double sum = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const T fused = std::fma(-s, agg[j], theta[j]);
      const T prod = s * agg[j];
      const T separate = theta[j] - prod;
      if (next[j] != fused && next[j] != separate) ++bad;
      const long double d =
          static_cast<long double>(static_cast<double>(next[j]) - static_cast<double>(theta[j]));
      sum += d * d;
    }
    const double ref = static_cast<double>(sum);
    EXPECT_EQ(bad, 0u);
    EXPECT_LE(std::fabs(change2 - ref), 1e-12 * ref);
    // Same bits from the same start.
    dt.upload(theta);
    finish(lag::cuda::step_and_norm<T>(dt.get(), da.get(), step, n, out.get(), ws.get(), nullptr),
           "step_and_norm");
    EXPECT_TRUE(same_bits(next, dt.download()));
    EXPECT_TRUE(same_bits(change2, out.download()[0]));
  }
}

TEST(Reduce, SumDoubles) {
  LAG_REQUIRE_GPU();
  Rng rng(10);
  Dev<double> ws(lag::cuda::reduce_workspace_doubles()), out(1);
  for (const std::size_t n : kLengths) {
    SCOPED_TRACE("n " + std::to_string(n));
    const std::vector<double> v = random_vector<double>(n, rng, -1, 1);
    long double ref = 0;
    double abs_sum = 0;
    for (const double e : v) {
      ref += e;
      abs_sum += std::fabs(e);
    }
    Dev<double> dv(v);
    finish(lag::cuda::sum_doubles(dv.get(), n, out.get(), ws.get(), nullptr), "sum_doubles");
    const double r1 = out.download()[0];
    EXPECT_LE(std::fabs(static_cast<long double>(r1) - ref), 1e-13L * abs_sum);
    finish(lag::cuda::sum_doubles(dv.get(), n, out.get(), ws.get(), nullptr), "sum_doubles");
    EXPECT_TRUE(same_bits(r1, out.download()[0]));
  }
}

// ---- triggers -------------------------------------------------------------------------------

// Expected flags written out, never taken from lag::wk_fires / lag::ps_fires (the functions the
// kernels call): the first six workers carry edge cases, the rest a pattern whose flags follow
// from exact arithmetic (multiples of 1/8 against tau = 1/2).
TEST(Trigger, MatchesLiteralFlags) {
  LAG_REQUIRE_GPU();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double tau = 0.5;
  // At the threshold, NaN, +inf, 0, -inf, one ulp above: only +inf and one ulp above fire.
  const double specials[] = {tau, nan, inf, 0.0, -inf, std::nextafter(tau, 1.0)};
  const std::uint8_t special_fires[] = {0, 0, 1, 0, 0, 1};
  for (const int workers : {0, 1, 5, 300}) {
    SCOPED_TRACE("workers " + std::to_string(workers));
    const auto m = static_cast<std::size_t>(workers);
    std::vector<double> delta(m), dist(m), smooth(m);
    std::vector<std::uint8_t> selected(m), want_fire(m), want_pick(m);
    for (std::size_t i = 0; i < m; ++i) {
      selected[i] = static_cast<std::uint8_t>(i % 3);  // 0, 1 or 2 (any nonzero selects)
      const std::size_t eighths = i % 8;
      delta[i] = dist[i] = 0.125 * static_cast<double>(eighths);
      // Even workers: L = 2, so L^2 d2 = eighths / 2 > 1/2 from 2 eighths on; odd: L = 1.
      smooth[i] = i % 2 == 0 ? 2.0 : 1.0;
      const bool wk = eighths >= 5;  // 5/8 > 1/2; 4/8 is the threshold itself
      const bool ps = i % 2 == 0 ? eighths >= 2 : eighths >= 5;
      if (i < 6) {
        delta[i] = dist[i] = specials[i];
        smooth[i] = 1.0;
      }
      want_fire[i] = selected[i] != 0 && (i < 6 ? special_fires[i] != 0 : wk) ? 1 : 0;
      want_pick[i] = (i < 6 ? special_fires[i] != 0 : ps) ? 1 : 0;
    }
    Dev<double> dd(delta), ddist(dist), ds(smooth);
    Dev<std::uint8_t> dsel(selected), dfire(m), dpick(m);
    finish(lag::cuda::wk_trigger(dd.get(), dsel.get(), tau, workers, dfire.get(), nullptr),
           "wk_trigger");
    finish(lag::cuda::ps_select(ddist.get(), ds.get(), tau, workers, dpick.get(), nullptr),
           "ps_select");
    EXPECT_EQ(dfire.download(), want_fire);
    EXPECT_EQ(dpick.download(), want_pick);
  }
}

// ---- softmax and MLP kernels ----------------------------------------------------------------

// The CPU backend's softmax_rows, one row: returns the loss, sets best, rewrites zi if asked.
template <class T>
double reference_softmax_row(T* zi, std::size_t label, std::size_t k, bool minus_onehot,
                             std::size_t& best) {
  best = static_cast<std::size_t>(std::max_element(zi, zi + k) - zi);
  const T top = zi[best];
  double sum = 0;
  for (std::size_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(zi[c] - top));
  const double loss = std::log(sum) + static_cast<double>(top) - static_cast<double>(zi[label]);
  if (minus_onehot) {
    for (std::size_t c = 0; c < k; ++c)
      zi[c] = static_cast<T>(std::exp(static_cast<double>(zi[c] - top)) / sum);
    zi[label] -= T(1);
  }
  return loss;
}

TYPED_TEST(Kernels, SoftmaxRows) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(12);
  for (const std::size_t k : {1, 2, 10, 33, 100, 1000})
    for (const std::size_t rows : {0, 1, 1000, 3000})
      for (const bool minus_onehot : {false, true}) {
        SCOPED_TRACE("k " + std::to_string(k) + " rows " + std::to_string(rows) +
                     (minus_onehot ? " minus_onehot" : ""));
        std::vector<T> z = random_vector<T>(rows * k, rng, -5, 5);
        std::vector<T> y(rows);
        for (T& v : y) v = static_cast<T>(rng.below(k));
        if (rows > 0 && k >= 8) {  // a tie for the largest logit: the first one wins
          z[3] = T(7);
          z[7] = T(7);
          y[0] = T(3);
        }
        Dev<T> dz(z), dy(y);
        Dev<double> dloss(rows);
        Dev<std::uint32_t> dcorrect(rows);
        finish(lag::cuda::softmax_rows<T>(dz.get(), dy.get(), rows, k, minus_onehot, dloss.get(),
                                          dcorrect.get(), nullptr),
               "softmax_rows");
        const std::vector<T> zout = dz.download();
        const std::vector<double> loss = dloss.download();
        const std::vector<std::uint32_t> correct = dcorrect.download();
        std::vector<T> zref = z;
        const double ztol = tolerance<T>(1e-14, 1e-6);
        std::size_t bad_z = 0, bad_loss = 0, bad_correct = 0;
        for (std::size_t i = 0; i < rows; ++i) {
          std::size_t best = 0;
          const auto label = static_cast<std::size_t>(y[i]);
          const double l = reference_softmax_row(zref.data() + i * k, label, k, minus_onehot, best);
          if (std::fabs(loss[i] - l) > 1e-12 * std::max(1.0, std::fabs(l))) ++bad_loss;
          if (correct[i] != (best == label ? 1u : 0u)) ++bad_correct;
          for (std::size_t c = 0; c < k; ++c) {
            const double d = std::fabs(static_cast<double>(zout[i * k + c]) -
                                       static_cast<double>(zref[i * k + c]));
            if (minus_onehot ? d > ztol : d != 0) ++bad_z;
          }
        }
        EXPECT_EQ(bad_loss, 0u);
        EXPECT_EQ(bad_correct, 0u);
        EXPECT_EQ(bad_z, 0u);
        if (rows > 0 && k >= 8) {
          EXPECT_EQ(correct[0], 1u);
        }
        // Same bits again, and row_correct may be null.
        dz.upload(z);
        finish(lag::cuda::softmax_rows<T>(dz.get(), dy.get(), rows, k, minus_onehot, dloss.get(),
                                          nullptr, nullptr),
               "softmax_rows");
        EXPECT_TRUE(same_bits(zout, dz.download()));
        EXPECT_TRUE(same_bits(loss, dloss.download()));
      }
}

TYPED_TEST(Kernels, SoftmaxRowsBadLabel) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  const std::vector<T> z = {T(1), T(2), T(3)};
  const std::vector<T> y = {T(3)};  // k = 3: out of range
  Dev<T> dz(z), dy(y);
  Dev<double> dloss(1);
  Dev<std::uint32_t> dcorrect(1);
  finish(lag::cuda::softmax_rows<T>(dz.get(), dy.get(), 1, 3, true, dloss.get(), dcorrect.get(),
                                    nullptr),
         "softmax_rows");
  EXPECT_TRUE(std::isnan(dloss.download()[0]));
  EXPECT_EQ(dcorrect.download()[0], 0u);
}

TYPED_TEST(Kernels, BiasAndTanh) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(13);
  for (const std::size_t cols : {1, 7, 33, 128, 300})
    for (const std::size_t rows : {0, 1, 1000, 5001}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols));
      const std::vector<T> a = random_vector<T>(rows * cols, rng, -3, 3);
      const std::vector<T> b = random_vector<T>(cols, rng);
      Dev<T> da(a), db(b), dz(a);
      finish(lag::cuda::add_bias_tanh<T>(da.get(), db.get(), rows, cols, nullptr), "bias_tanh");
      finish(lag::cuda::add_bias<T>(dz.get(), db.get(), rows, cols, nullptr), "add_bias");
      const std::vector<T> at = da.download(), zb = dz.download();
      const double tol = tolerance<T>(1e-15, 1e-6);  // tanh: device vs glibc, a few ulps
      std::size_t bad_tanh = 0, bad_bias = 0;
      for (std::size_t i = 0; i < rows * cols; ++i) {
        const T v = a[i] + b[i % cols];
        if (std::fabs(static_cast<double>(at[i]) - static_cast<double>(std::tanh(v))) > tol)
          ++bad_tanh;
        if (zb[i] != v) ++bad_bias;
      }
      EXPECT_EQ(bad_tanh, 0u);
      EXPECT_EQ(bad_bias, 0u);
    }
}

TYPED_TEST(Kernels, TanhBackward) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(14);
  for (const std::size_t n : {0, 1, 1000, 1000001}) {
    const std::vector<T> da = random_vector<T>(n, rng), a = random_vector<T>(n, rng);
    Dev<T> dda(da), dac(a);
    finish(lag::cuda::tanh_backward<T>(dda.get(), dac.get(), n, nullptr), "tanh_backward");
    const std::vector<T> out = dda.download();
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double ref = static_cast<double>(da[i]) *
                         (1.0 - static_cast<double>(a[i]) * static_cast<double>(a[i]));
      if (std::fabs(static_cast<double>(out[i]) - ref) > tolerance<T>(1e-15, 5e-7)) ++bad;
    }
    EXPECT_EQ(bad, 0u) << "n " << n;
  }
}

TYPED_TEST(Kernels, ColumnSums) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(15);
  for (const std::size_t cols : {1, 10, 32, 33, 128, 1000})
    for (const std::size_t rows : {0, 1, 1000, 100000}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols));
      const std::vector<T> m = random_vector<T>(rows * cols, rng);
      const std::vector<T> out0 = random_vector<T>(cols, rng);
      std::vector<long double> ref(cols, 0.0L);
      std::vector<double> mag(cols, 0.0);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t c = 0; c < cols; ++c) {
          ref[c] += static_cast<long double>(m[i * cols + c]);
          mag[c] += std::fabs(static_cast<double>(m[i * cols + c]));
        }
      Dev<T> dm(m), d1(out0), d2(out0);
      Dev<double> ws(
          std::max<std::size_t>(1, lag::cuda::column_sums_workspace_doubles(rows, cols)));
      finish(lag::cuda::column_sums_add<T>(dm.get(), rows, cols, d1.get(), nullptr), "colsum");
      finish(lag::cuda::column_sums_add<T>(dm.get(), rows, cols, d2.get(), ws.get(), nullptr),
             "colsum (workspace)");
      const std::vector<T> r1 = d1.download(), r2 = d2.download();
      const double tol = tolerance<T>(1e-13, 2e-7);
      std::size_t bad = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        const double want = static_cast<double>(out0[c]) + static_cast<double>(ref[c]);
        const double scale = std::fabs(static_cast<double>(out0[c])) + mag[c];
        if (std::fabs(static_cast<double>(r1[c]) - want) > tol * scale) ++bad;
        if (std::fabs(static_cast<double>(r2[c]) - want) > tol * scale) ++bad;
      }
      EXPECT_EQ(bad, 0u);
      // Same bits again.
      d1.upload(out0);
      d2.upload(out0);
      finish(lag::cuda::column_sums_add<T>(dm.get(), rows, cols, d1.get(), nullptr), "colsum");
      finish(lag::cuda::column_sums_add<T>(dm.get(), rows, cols, d2.get(), ws.get(), nullptr),
             "colsum (workspace)");
      EXPECT_TRUE(same_bits(r1, d1.download()));
      EXPECT_TRUE(same_bits(r2, d2.download()));
    }
}

TYPED_TEST(Kernels, AxpyAndLambda) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(16);
  for (const std::size_t n : {0, 1, 1000, 1000001}) {
    const std::vector<T> x = random_vector<T>(n, rng), y = random_vector<T>(n, rng);
    const T a = T(-0.375);
    Dev<T> dx(x), dy(y), dg(y);
    finish(lag::cuda::axpy<T>(a, dx.get(), dy.get(), n, nullptr), "axpy");
    finish(lag::cuda::scale_add_lambda<T>(dg.get(), dx.get(), a, n, nullptr), "scale_add_lambda");
    const std::vector<T> r1 = dy.download(), r2 = dg.download();
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const T fused = std::fma(a, x[i], y[i]);
      const T prod = a * x[i];
      const T separate = y[i] + prod;
      if (r1[i] != fused && r1[i] != separate) ++bad;
      if (r2[i] != r1[i]) ++bad;
    }
    EXPECT_EQ(bad, 0u) << "n " << n;
  }
}

// Minibatch rows gathered on the device: each batch row is the source row, bit for bit, rows
// repeated and out of order included; more rows than one grid of blocks covers.
TYPED_TEST(Kernels, GatherRowsCopiesTheListedRows) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(71);
  for (const std::size_t dim : {std::size_t{1}, std::size_t{7}, std::size_t{300}}) {
    const std::size_t rows = 70000;
    const std::vector<T> x = random_vector<T>(rows * dim, rng), y = random_vector<T>(rows, rng);
    std::vector<std::uint32_t> pick(rows + 5);  // > 65535 blocks' worth
    for (auto& r : pick) r = static_cast<std::uint32_t>(rng.below(rows));
    pick[0] = pick[1] = static_cast<std::uint32_t>(rows - 1);
    Dev<T> dx(x), dy(y), bx(pick.size() * dim), by(pick.size());
    Dev<std::uint32_t> dpick(pick);
    finish(lag::cuda::gather_rows<T>(dx.get(), dy.get(), dim, dpick.get(), pick.size(), bx.get(),
                                     by.get(), nullptr),
           "gather_rows");
    std::vector<T> want_x, want_y;
    for (std::uint32_t r : pick) {
      want_x.insert(want_x.end(), x.begin() + r * dim, x.begin() + (r + 1) * dim);
      want_y.push_back(y[r]);
    }
    EXPECT_TRUE(same_bits(bx.download(), want_x)) << "dim " << dim;
    EXPECT_TRUE(same_bits(by.download(), want_y)) << "dim " << dim;
  }
  Dev<T> one(1);
  EXPECT_EQ(
      lag::cuda::gather_rows<T>(one.get(), one.get(), 0, nullptr, 1, one.get(), one.get(), nullptr),
      cudaErrorInvalidValue);
  EXPECT_EQ(lag::cuda::gather_rows<T>(nullptr, nullptr, 3, nullptr, 0, nullptr, nullptr, nullptr),
            cudaSuccess);  // nothing to gather
}

// A minibatch's sums scaled: g[i] * T(s) in T and the loss * s in double, exactly.
TYPED_TEST(Kernels, ScaleGradientAndLossIsElementwise) {
  LAG_REQUIRE_GPU();
  using T = TypeParam;
  Rng rng(72);
  const double scale = 1000.0 / 7.0;
  const std::vector<T> g = random_vector<T>(5000, rng);
  Dev<T> dg(g);
  Dev<double> loss(std::vector<double>{3.25});
  finish(lag::cuda::scale_gradient_and_loss<T>(dg.get(), g.size(), scale, loss.get(), nullptr),
         "scale_gradient_and_loss");
  std::vector<T> want = g;
  for (T& v : want) v *= static_cast<T>(scale);
  EXPECT_TRUE(same_bits(dg.download(), want));
  EXPECT_TRUE(same_bits(loss.download()[0], 3.25 * scale));
}

// LASG-WK's rule on the device: fire iff ||g - h||^2 (stats[4m + 2]) > tau, or the worker has
// skipped max_skip rounds; a worker that stays silent counts a skip, one not selected neither
// fires nor counts. Expected flags and counts written out.
TEST(Trigger, LasgWkRuleCountsSkips) {
  LAG_REQUIRE_GPU();
  const double tau = 0.5;
  // Workers: above tau; at tau; below, 2 skips so far (limit 3); below, 3 skips (forced);
  // below, not selected; above, not selected.
  const std::vector<double> change2 = {0.75, 0.5, 0.25, 0.0, 0.0, 1.0};
  const std::vector<long long> skipped = {4, 0, 2, 3, 1, 0};
  const std::vector<std::uint8_t> selected = {1, 1, 1, 2, 0, 0};
  const std::vector<std::uint8_t> want_fire = {1, 0, 0, 1, 0, 0};
  const std::vector<long long> want_skipped = {4, 1, 3, 3, 1, 0};  // commit zeroes the firing ones
  std::vector<double> stats(4 * change2.size(), -1.0);
  for (std::size_t m = 0; m < change2.size(); ++m) stats[4 * m + 2] = change2[m];
  const std::vector<double> norms(change2.size(), 100.0), eps_hat(change2.size(), 0.0);
  Dev<double> dstats(stats), dnorms(norms), deps(eps_hat);
  Dev<long long> dskipped(skipped);
  Dev<std::uint8_t> dsel(selected), dfire(selected.size());
  finish(lag::cuda::compressed_trigger(lag::cuda::StatefulRule::LasgWk, dstats.get(), dnorms.get(),
                                       deps.get(), dskipped.get(), dsel.get(), tau, 0.0, 3,
                                       static_cast<int>(selected.size()), dfire.get(), nullptr),
         "compressed_trigger");
  EXPECT_EQ(dfire.download(), want_fire);
  EXPECT_EQ(dskipped.download(), want_skipped);
  // Without a skip limit (0) the forced worker stays silent too.
  dskipped.upload(skipped);
  finish(lag::cuda::compressed_trigger(lag::cuda::StatefulRule::LasgWk, dstats.get(), dnorms.get(),
                                       deps.get(), dskipped.get(), dsel.get(), tau, 0.0, 0,
                                       static_cast<int>(selected.size()), dfire.get(), nullptr),
         "compressed_trigger");
  EXPECT_EQ(dfire.download(), (std::vector<std::uint8_t>{1, 0, 0, 0, 0, 0}));
}

// LAQ's rule on the device with R = 0 (stats[4m]): a worker that would upload sends its flag only
// (fire 0) and commits there (eps_hat = eps, skips 0); one that would not counts a skip.
TEST(Trigger, LaqWithZeroRadiusSendsItsFlagOnly) {
  LAG_REQUIRE_GPU();
  const double tau = 0.5;
  // Workers: R > 0 and innovation above tau + 3 eps; R = 0 at the skip limit; R = 0 below it;
  // R > 0 below the threshold.
  const std::vector<double> stats = {1.0,  0.0,  0.75, 0.0,   // fires
                                     0.0,  0.0,  0.0,  0.0,   // forced, flag only
                                     0.0,  0.0,  0.0,  0.0,   // skips
                                     0.25, 0.01, 0.25, 0.0};  // skips
  const std::vector<double> eps_hat = {0.0, 0.125, 0.125, 0.0};
  const std::vector<long long> skipped = {0, 3, 1, 2};
  const std::vector<std::uint8_t> selected(4, 1);
  Dev<double> dstats(stats), dnorms(std::vector<double>(4, 1.0)), deps(eps_hat);
  Dev<long long> dskipped(skipped);
  Dev<std::uint8_t> dsel(selected), dfire(4);
  finish(lag::cuda::compressed_trigger(lag::cuda::StatefulRule::Laq, dstats.get(), dnorms.get(),
                                       deps.get(), dskipped.get(), dsel.get(), tau, 0.0, 3, 4,
                                       dfire.get(), nullptr),
         "compressed_trigger");
  EXPECT_EQ(dfire.download(), (std::vector<std::uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(dskipped.download(), (std::vector<long long>{0, 0, 2, 3}));
  EXPECT_EQ(deps.download(), (std::vector<double>{0.0, 0.0, 0.125, 0.0}));
}

TEST(VectorOps, SelfTest) {
  LAG_REQUIRE_GPU();
  std::string why;
  EXPECT_TRUE(lag::cuda::axpy_self_test(0, &why)) << why;
}

// ---- LAQ's quantizer and Top-k on the device, against the CPU's (src/compress/) -------------

// The device quantizer writes the CPU's payload byte for byte (radius and codes), the same v and
// q, the same radius, and errors within a reduction's rounding; the server's decoding on the
// device adds the same v.
template <class T>
void expect_device_quantizer_matches(int bits, std::size_t d, std::uint64_t seed) {
  SCOPED_TRACE("bits " + std::to_string(bits) + ", d " + std::to_string(d));
  Rng rng(seed);
  std::vector<T> g(d), q_hat(d);
  for (std::size_t i = 0; i < d; ++i) {
    g[i] = static_cast<T>(rng.uniform() * 2 - 1);
    q_hat[i] = static_cast<T>(rng.uniform() - 0.5);
  }
  const std::size_t payload_bytes = sizeof(T) + lag::packed_code_bytes(d, bits);
  std::vector<std::uint8_t> cpu_payload(payload_bytes);
  std::vector<T> cpu_v(d), cpu_q(d);
  const lag::Quantized r = lag::quantize(
      g.data(), q_hat.data(), d, bits, cpu_payload.data() + sizeof(T), cpu_v.data(), cpu_q.data());
  const T radius = static_cast<T>(r.radius);
  std::memcpy(cpu_payload.data(), &radius, sizeof radius);

  Dev<T> dg(g), dq_hat(q_hat), dv(d), dq(d);
  Dev<std::uint8_t> payload(payload_bytes + 8);
  Dev<double> scalars(3),
      workspace(lag::cuda::quantize_workspace_doubles(d) + lag::cuda::reduce_workspace_doubles());
  finish(lag::cuda::quantize<T>(dg.get(), dq_hat.get(), d, bits, payload.get(), dv.get(), dq.get(),
                                scalars.get(), workspace.get(), nullptr),
         "quantize");
  std::vector<std::uint8_t> gpu_payload = payload.download();
  gpu_payload.resize(payload_bytes);
  EXPECT_EQ(gpu_payload, cpu_payload);
  EXPECT_EQ(dv.download(), cpu_v);
  EXPECT_EQ(dq.download(), cpu_q);
  const std::vector<double> s = scalars.download();
  EXPECT_EQ(s[0], r.radius);
  EXPECT_NEAR(s[1], r.error2, 1e-12 * (1 + r.error2));
  EXPECT_NEAR(s[2], r.innovation2, 1e-12 * (1 + r.innovation2));

  // The server's side: aggregate += v, from the payload at an odd address.
  // (Byte by byte: GCC 12 sees a false out-of-bounds memmove in a vector insert here.)
  std::vector<std::uint8_t> shifted(cpu_payload.size() + 1, 0xAB);
  for (std::size_t i = 0; i < cpu_payload.size(); ++i) shifted[i + 1] = cpu_payload[i];
  Dev<std::uint8_t> inbox(shifted);
  std::vector<T> base(d);
  for (auto& x : base) x = static_cast<T>(rng.uniform());
  Dev<T> aggregate(base);
  finish(lag::cuda::add_quantized<T>(inbox.get() + 1, d, bits, aggregate.get(), nullptr),
         "add_quantized");
  std::vector<T> expected = base;
  for (std::size_t i = 0; i < d; ++i) expected[i] += cpu_v[i];
  EXPECT_EQ(aggregate.download(), expected);
}

TEST(Compress, DeviceQuantizerWritesTheCpusPayload) {
  LAG_REQUIRE_GPU();
  for (int bits : {1, 2, 3, 4, 5, 8, 13, 16})
    for (std::size_t d : {1u, 7u, 33u, 1000u, 70001u}) {
      expect_device_quantizer_matches<double>(bits, d, 10 + bits);
      expect_device_quantizer_matches<float>(bits, d, 20 + bits);
    }
}

// Top-k on the device picks the CPU's coordinates (ties to the lower index, NaN largest) and
// writes the same payload; the server's and the worker's additions are the CPU's.
template <class T>
void expect_device_top_k_matches(std::size_t d, std::size_t k, std::uint64_t seed) {
  SCOPED_TRACE("d " + std::to_string(d) + ", k " + std::to_string(k));
  Rng rng(seed);
  std::vector<T> v(d);
  for (auto& x : v)  // few magnitudes, both signs: many ties
    x = static_cast<T>(static_cast<int>(rng.uniform() * 7) - 3);
  if (d > 3) v[d / 2] = std::numeric_limits<T>::quiet_NaN();
  std::vector<std::uint32_t> idx(k);
  std::vector<T> scratch;
  lag::top_k(v.data(), d, k, idx.data(), scratch);
  std::vector<std::uint8_t> cpu_payload(k * (sizeof(T) + 4));
  for (std::size_t j = 0; j < k; ++j)
    std::memcpy(cpu_payload.data() + j * sizeof(T), &v[idx[j]], sizeof(T));
  std::memcpy(cpu_payload.data() + k * sizeof(T), idx.data(), k * 4);

  std::size_t temp_bytes = 0;
  check(lag::cuda::top_k_temp_bytes<T>(d, &temp_bytes), "top_k_temp_bytes");
  Dev<unsigned char> temp(temp_bytes);
  Dev<T> dv(v);
  Dev<std::uint8_t> payload(cpu_payload.size());
  finish(lag::cuda::top_k<T>(dv.get(), d, k, payload.get(), temp.get(), temp_bytes, nullptr),
         "top_k");
  const std::vector<std::uint8_t> gpu_payload = payload.download();
  ASSERT_EQ(gpu_payload.size(), cpu_payload.size());
  // Compare the indices, then the values bit for bit (NaN included).
  EXPECT_EQ(
      std::memcmp(gpu_payload.data() + k * sizeof(T), cpu_payload.data() + k * sizeof(T), k * 4),
      0);
  EXPECT_EQ(std::memcmp(gpu_payload.data(), cpu_payload.data(), k * sizeof(T)), 0);
}

TEST(Compress, DeviceTopKPicksTheCpusCoordinates) {
  LAG_REQUIRE_GPU();
  for (std::size_t d : {1u, 9u, 64u, 7850u, 100003u})
    for (std::size_t k : {std::size_t{1}, (d + 9) / 10, d}) {
      expect_device_top_k_matches<double>(d, k, d + k);
      expect_device_top_k_matches<float>(d, k, d + 2 * k);
    }
}

}  // namespace
