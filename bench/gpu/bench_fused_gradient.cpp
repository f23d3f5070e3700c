// GPU timing harness for the fused least-squares/logistic gradient (kernels/fused_gradient.cuh).
//
//   bench_gpu_gradient [--rows N] [--dim N] [--precision fp32|fp64] [--reps N]
//
// Defaults: 1e6 x 500 fp64 (X = 4 GB). Each measurement: 3 warm-up runs, then `reps` runs timed
// one by one with CUDA events on one stream; the median is reported (and the minimum).
//   copy      cudaMemcpyAsync device-to-device of a buffer as large as X.
//             copy GB/s = 2 * bytes / t (bytes read + bytes written), the convention of the CUDA
//             samples' bandwidthTest for device-to-device copies.
//   fused     lag::cuda::fused_gradient (least squares, and logistic): GB/s = X bytes / t,
//             the rate at which X is read (X is read once; y, theta and g are negligible).
//   gemv2     the cuBLAS baseline, r = X theta - y (gemv, op T on the column-major X^T) then
//             g = X^T r (gemv, op N); GB/s = X bytes / t as for fused (it reads X twice).
//   fused_vs_copy = fused GB/s / copy GB/s (target >= 0.85);  fused_vs_gemv2 = t_gemv2 / t_fused
//   (target >= 1.6). The fused least-squares g is checked against the gemv2 g (max |diff| over
//   max |g|) and a second fused call must give the same bits.
// Prints a fixed-width table, then one line `JSON {...}`. Exit status: 0 ok, 1 CUDA/cuBLAS error
// or failed check, 2 no usable device, 3 bad arguments.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fused_gradient.cuh"

namespace {

void check_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "%s:%d: CUDA error %s (%s) in %s\n", file, line, cudaGetErrorName(e),
               cudaGetErrorString(e), expr);
  std::exit(1);
}

void check_cublas(cublasStatus_t st, const char* expr, const char* file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "%s:%d: cuBLAS error %s (%s) in %s\n", file, line, cublasGetStatusName(st),
               cublasGetStatusString(st), expr);
  std::exit(1);
}

#define CUDA_CHECK(expr) check_cuda((expr), #expr, __FILE__, __LINE__)
#define CUBLAS_CHECK(expr) check_cublas((expr), #expr, __FILE__, __LINE__)

struct Options {
  std::size_t rows = 1000000;
  std::size_t dim = 500;
  bool fp32 = false;
  int reps = 20;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: bench_gpu_gradient [--rows N] [--dim N] [--precision fp32|fp64] "
               "[--reps N]\n",
               why);
  std::exit(3);
}

std::size_t parse_size(const char* s, const char* flag) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);  // accepts 1e6
  if (end == s || *end != '\0' || !(v >= 1) || v > 1e15 || v != std::floor(v))
    usage((std::string("bad value for ") + flag + ": " + s).c_str());
  return static_cast<std::size_t>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage("GPU fused-gradient benchmark");
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--rows")
      o.rows = parse_size(v, "--rows");
    else if (a == "--dim")
      o.dim = parse_size(v, "--dim");
    else if (a == "--reps")
      o.reps = static_cast<int>(std::min<std::size_t>(parse_size(v, "--reps"), 10000));
    else if (a == "--precision") {
      const std::string p = v;
      if (p == "fp32")
        o.fp32 = true;
      else if (p == "fp64")
        o.fp32 = false;
      else
        usage(("--precision must be fp32 or fp64, not " + p).c_str());
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.rows > static_cast<std::size_t>(INT_MAX) || o.dim > static_cast<std::size_t>(INT_MAX))
    usage("rows and dim must fit cuBLAS's int");
  return o;
}

struct Timing {
  double median_ms = 0;
  double min_ms = 0;
};

template <class F>
Timing time_it(F&& run, int reps, cudaStream_t s) {
  for (int i = 0; i < 3; ++i) run();
  CUDA_CHECK(cudaStreamSynchronize(s));
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    CUDA_CHECK(cudaEventRecord(start, s));
    run();
    CUDA_CHECK(cudaEventRecord(stop, s));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(static_cast<double>(t));
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  Timing r;
  const std::size_t n = ms.size();
  r.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  r.min_ms = ms.front();
  return r;
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  double uniform(double lo, double hi) {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t s_;
};

cublasStatus_t gemv(cublasHandle_t h, cublasOperation_t op, int m, int n, const double* alpha,
                    const double* a, int lda, const double* x, const double* beta, double* y) {
  return cublasDgemv(h, op, m, n, alpha, a, lda, x, 1, beta, y, 1);
}
cublasStatus_t gemv(cublasHandle_t h, cublasOperation_t op, int m, int n, const float* alpha,
                    const float* a, int lda, const float* x, const float* beta, float* y) {
  return cublasSgemv(h, op, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

std::string json_escape(const char* s) {
  std::string out;
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') out += '\\';
    if (static_cast<unsigned char>(*s) >= 0x20) out += *s;
  }
  return out;
}

template <class T>
int run(const Options& o) {
  const char* precision = sizeof(T) == 8 ? "fp64" : "fp32";
  const std::size_t rows = o.rows, dim = o.dim;
  const std::size_t n = rows * dim;
  const std::size_t x_bytes = n * sizeof(T);
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  CUDA_CHECK(cudaSetDevice(0));
  cudaStream_t s;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  T *x = nullptr, *copy = nullptr, *y = nullptr, *ylog = nullptr, *theta = nullptr, *g = nullptr,
    *g2 = nullptr, *r = nullptr;
  double* loss = nullptr;
  void* ws = nullptr;
  const std::size_t ws_bytes = lag::cuda::fused_gradient_workspace_bytes(rows, dim, sizeof(T));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&x), x_bytes));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&copy), x_bytes));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&y), rows * sizeof(T)));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ylog), rows * sizeof(T)));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&r), rows * sizeof(T)));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&theta), dim * sizeof(T)));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&g), dim * sizeof(T)));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&g2), dim * sizeof(T)));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&loss), sizeof(double)));
  CUDA_CHECK(cudaMalloc(&ws, ws_bytes));

  // X: a random host tile (up to 2^24 elements), uploaded once and replicated on the device.
  Rng rng(42);
  {
    const std::size_t tile = std::min<std::size_t>(n, std::size_t(1) << 24);
    std::vector<T> h(tile);
    for (T& v : h) v = static_cast<T>(rng.uniform(-1, 1));
    CUDA_CHECK(cudaMemcpy(x, h.data(), tile * sizeof(T), cudaMemcpyHostToDevice));
    for (std::size_t filled = tile; filled < n;) {
      const std::size_t c = std::min(filled, n - filled);
      CUDA_CHECK(cudaMemcpy(x + filled, x, c * sizeof(T), cudaMemcpyDeviceToDevice));
      filled += c;
    }
    std::vector<T> hy(rows), hl(rows), ht(dim);
    for (T& v : hy) v = static_cast<T>(rng.uniform(-1, 1));
    for (T& v : hl) v = rng.uniform(0, 1) < 0.5 ? T(-1) : T(1);
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    for (T& v : ht) v = static_cast<T>(rng.uniform(-scale, scale));
    CUDA_CHECK(cudaMemcpy(y, hy.data(), rows * sizeof(T), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(ylog, hl.data(), rows * sizeof(T), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(theta, ht.data(), dim * sizeof(T), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());
  }

  cublasHandle_t handle;
  CUBLAS_CHECK(cublasCreate(&handle));
  CUBLAS_CHECK(cublasSetStream(handle, s));
  const int m_dim = static_cast<int>(dim), n_rows = static_cast<int>(rows);
  const T one = T(1), minus_one = T(-1), zero = T(0);

  const Timing t_copy =
      time_it([&] { CUDA_CHECK(cudaMemcpyAsync(copy, x, x_bytes, cudaMemcpyDeviceToDevice, s)); },
              o.reps, s);
  const auto fused_ls = [&] {
    CUDA_CHECK(lag::cuda::fused_gradient<T>(lag::cuda::BinaryLoss::LeastSquares, x, y, rows, dim,
                                            theta, T(0), g, loss, ws, s));
  };
  const auto fused_log = [&] {
    CUDA_CHECK(lag::cuda::fused_gradient<T>(lag::cuda::BinaryLoss::Logistic, x, ylog, rows, dim,
                                            theta, T(0.001), g, loss, ws, s));
  };
  const auto gemv2 = [&] {
    CUDA_CHECK(cudaMemcpyAsync(r, y, rows * sizeof(T), cudaMemcpyDeviceToDevice, s));
    CUBLAS_CHECK(gemv(handle, CUBLAS_OP_T, m_dim, n_rows, &one, x, m_dim, theta, &minus_one, r));
    CUBLAS_CHECK(gemv(handle, CUBLAS_OP_N, m_dim, n_rows, &one, x, m_dim, r, &zero, g2));
  };
  const Timing t_ls = time_it(fused_ls, o.reps, s);
  const Timing t_log = time_it(fused_log, o.reps, s);
  const Timing t_gemv = time_it(gemv2, o.reps, s);

  // Correctness: fused least squares vs the two gemv; and the same bits twice.
  fused_ls();
  gemv2();
  CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<T> hg(dim), hg2(dim), hg_again(dim);
  CUDA_CHECK(cudaMemcpy(hg.data(), g, dim * sizeof(T), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(hg2.data(), g2, dim * sizeof(T), cudaMemcpyDeviceToHost));
  fused_ls();
  CUDA_CHECK(cudaStreamSynchronize(s));
  CUDA_CHECK(cudaMemcpy(hg_again.data(), g, dim * sizeof(T), cudaMemcpyDeviceToHost));
  double gmax = 0, dmax = 0;
  for (std::size_t j = 0; j < dim; ++j) {
    gmax = std::max(gmax, std::fabs(static_cast<double>(hg2[j])));
    dmax = std::max(dmax, std::fabs(static_cast<double>(hg[j]) - static_cast<double>(hg2[j])));
  }
  const double rel = gmax > 0 ? dmax / gmax : dmax;
  const double tol = sizeof(T) == 8 ? 1e-10 : 1e-3;
  const bool ok = rel <= tol;
  const bool bitwise = std::memcmp(hg.data(), hg_again.data(), dim * sizeof(T)) == 0;

  const auto gbps = [](double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; };
  const double copy_gbps = gbps(2.0 * static_cast<double>(x_bytes), t_copy.median_ms);
  const double ls_gbps = gbps(static_cast<double>(x_bytes), t_ls.median_ms);
  const double log_gbps = gbps(static_cast<double>(x_bytes), t_log.median_ms);
  const double gemv_gbps = gbps(static_cast<double>(x_bytes), t_gemv.median_ms);

  std::printf("device %s (%d SMs, %.1f GiB)\n", prop.name, prop.multiProcessorCount,
              static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  std::printf("X %zu x %zu %s = %.3f GB; %d timed runs after 3 warm-up, median (min)\n", rows, dim,
              precision, static_cast<double>(x_bytes) / 1e9, o.reps);
  std::printf("%-26s %12s %12s %12s\n", "measurement", "median ms", "min ms", "GB/s");
  std::printf("%-26s %12.4f %12.4f %12.1f\n", "copy D2D (2*bytes/t)", t_copy.median_ms,
              t_copy.min_ms, copy_gbps);
  std::printf("%-26s %12.4f %12.4f %12.1f\n", "fused least squares", t_ls.median_ms, t_ls.min_ms,
              ls_gbps);
  std::printf("%-26s %12.4f %12.4f %12.1f\n", "fused logistic", t_log.median_ms, t_log.min_ms,
              log_gbps);
  std::printf("%-26s %12.4f %12.4f %12.1f\n", "cuBLAS two gemv", t_gemv.median_ms, t_gemv.min_ms,
              gemv_gbps);
  std::printf("fused/copy %.3f (target >= 0.85), gemv2/fused time %.3f (target >= 1.6)\n",
              ls_gbps / copy_gbps, t_gemv.median_ms / t_ls.median_ms);
  std::printf("check: max|g_fused - g_gemv| / max|g_gemv| = %.3e (tol %.0e) %s; repeat bits %s\n",
              rel, tol, ok ? "ok" : "FAIL", bitwise ? "identical" : "DIFFER");
  std::printf(
      "JSON {\"bench\":\"fused_gradient\",\"device\":\"%s\",\"sms\":%d,\"precision\":\"%s\","
      "\"rows\":%zu,\"dim\":%zu,\"x_bytes\":%zu,\"reps\":%d,"
      "\"copy_ms\":%.6f,\"copy_GBps\":%.3f,\"copy_formula\":\"2*bytes/t\","
      "\"fused_ls_ms\":%.6f,\"fused_ls_min_ms\":%.6f,\"fused_ls_GBps\":%.3f,"
      "\"fused_logistic_ms\":%.6f,\"fused_logistic_GBps\":%.3f,"
      "\"gemv2_ms\":%.6f,\"gemv2_min_ms\":%.6f,\"gemv2_GBps\":%.3f,"
      "\"fused_vs_copy\":%.4f,\"gemv2_over_fused\":%.4f,\"max_rel_diff\":%.3e,"
      "\"check\":\"%s\",\"bitwise_repeat\":%s}\n",
      json_escape(prop.name).c_str(), prop.multiProcessorCount, precision, rows, dim, x_bytes,
      o.reps, t_copy.median_ms, copy_gbps, t_ls.median_ms, t_ls.min_ms, ls_gbps, t_log.median_ms,
      log_gbps, t_gemv.median_ms, t_gemv.min_ms, gemv_gbps, ls_gbps / copy_gbps,
      t_gemv.median_ms / t_ls.median_ms, rel, ok ? "ok" : "FAIL", bitwise ? "true" : "false");

  CUBLAS_CHECK(cublasDestroy(handle));
  for (void* p : {static_cast<void*>(x), static_cast<void*>(copy), static_cast<void*>(y),
                  static_cast<void*>(ylog), static_cast<void*>(r), static_cast<void*>(theta),
                  static_cast<void*>(g), static_cast<void*>(g2), static_cast<void*>(loss), ws})
    CUDA_CHECK(cudaFree(p));
  CUDA_CHECK(cudaStreamDestroy(s));
  return ok && bitwise ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  int count = 0;  // left unwritten without a driver
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::fprintf(stderr, "bench_gpu_gradient: no usable CUDA device (%s)\n",
                 e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
    return 2;
  }
  return o.fp32 ? run<float>(o) : run<double>(o);
}
