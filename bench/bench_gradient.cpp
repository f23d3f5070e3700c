// Single-pass CPU gradient (least squares) on one rows x dim shard, against
//   (a) the machine's memory read bandwidth (a vectorised sum over the same X, with software
//       prefetch) on one thread and on all hardware threads,
//   (b) the "two gemv" baseline: r = X theta - y, g = X^T r with OpenBLAS (reads X twice), on
//       one BLAS thread and on all,
//   (c) lag::cpu::accumulate_gradient, one thread over all rows (fp64 and fp32),
//   (d) lag::CpuCluster::compute (the trainer's path) on a ThreadPool of 1 and of all threads.
// Every kernel is compared with the references of its own thread count.
//
// Every benchmark counts the bytes of X once per iteration (SetBytesProcessed), so GB/s is
// "effective": the time to turn one shard into its gradient, expressed as bandwidth. The
// references (a) and (b) are also timed in main() before the suite (median of 5), so that
// every benchmark can report frac_read_bw and x_two_gemv counters; the summary table printed
// at the end compares the suite's own results (best repetition against best repetition).
// Before the suite, main() also checks the fused gradient against two-gemv and that
// CpuCluster gives the same bits with 1 and 2 threads.
//
// After the summary, every kernel is timed again in pairs with a read pass (LAG_BENCH_PAIRS
// pairs, default 9; 0: none), for a ratio that the machine's drift does not skew.
//
// Size: LAG_BENCH_ROWS (default 200000) x LAG_BENCH_DIM (default 500). Without
// --benchmark_min_time each benchmark runs 5 x >= 0.3 s.

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/huge_pages.hpp"
#include "lag/model.hpp"
#include "lag/random.hpp"
#include "lag/thread_pool.hpp"
#include "model/gradient.hpp"

namespace {

using lag::bench::env_size;
using lag::bench::read_sum_prefetched;
using lag::bench::uniform_pm1;

// ---- problem ----------------------------------------------------------------------------

struct Problem {
  std::size_t rows = 0, dim = 0;
  lag::Dataset<double> data;  // one shard; its x is "the" X of every fp64 benchmark
  lag::Dataset<float> data32;
  std::vector<double> theta;
  std::vector<float> theta32;

  const double* x() const { return data.shards[0].x.data(); }
  const double* y() const { return data.shards[0].y.data(); }
  const float* x32() const { return data32.shards[0].x.data(); }
  const float* y32() const { return data32.shards[0].y.data(); }
  double bytes64() const { return static_cast<double>(rows * dim * sizeof(double)); }
  // X, y and theta in precision T.
  template <class T>
  void inputs(const T*& xs, const T*& ys, const T*& thetas) const {
    if constexpr (sizeof(T) == sizeof(double)) {
      xs = x(), ys = y(), thetas = theta.data();
    } else {
      xs = x32(), ys = y32(), thetas = theta32.data();
    }
  }
  double bytes32() const { return static_cast<double>(rows * dim * sizeof(float)); }
  template <class T>
  double bytes() const {
    return sizeof(T) == sizeof(double) ? bytes64() : bytes32();
  }
};

Problem& problem() {
  static Problem p;
  return p;
}

void make_problem(std::size_t rows, std::size_t dim) {
  Problem& p = problem();
  p.rows = rows;
  p.dim = dim;
  lag::Shard<double> s;
  s.source = "synthetic";
  s.rows = rows;
  s.dim = dim;
  // As the loaders allocate a shard (in huge pages where the system has them).
  lag::reserve_huge(s.x, rows * dim);
  s.x.resize(rows * dim);
  s.y.resize(rows);
  std::uint64_t state = 20240601;
  for (double& v : s.x) v = uniform_pm1(state);
  for (double& v : s.y) v = uniform_pm1(state);
  p.data.dim = dim;
  p.data.shards.push_back(std::move(s));
  p.data32 = lag::convert_precision<float>(p.data);
  lag::Random rng(7);
  p.theta.resize(dim);
  for (double& v : p.theta) v = 0.01 * rng.normal();
  p.theta32.assign(p.theta.begin(), p.theta.end());
}

// ---- kernels ----------------------------------------------------------------------------

// (a) Read bandwidth: lag::bench::read_sum_prefetched (bench_common.hpp): the fastest plain read
// of X found on the build machine (software prefetch 1 KB ahead, as the fused kernel does).

// Same, split over `threads` std::threads in contiguous blocks (reference for the 2-thread
// cluster: what two cores can pull from memory together).
double read_sum_threads(const double* a, std::size_t n, int threads, lag::ThreadPool& pool) {
  std::vector<double> part(static_cast<std::size_t>(threads), 0.0);
  const std::size_t t = static_cast<std::size_t>(threads);
  pool.parallel_for(t, [&](std::size_t k) {
    const std::size_t begin = n * k / t, end = n * (k + 1) / t;
    part[k] = read_sum_prefetched(a + begin, end - begin);
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

// The read reference of `threads` threads: read_sum_prefetched itself on the calling thread for
// one (as BM_ReadBandwidth; through the pool's path one thread read 10% slower), else
// read_sum_threads.
double read_all(const double* a, std::size_t n, int threads, lag::ThreadPool& pool) {
  return threads == 1 ? read_sum_prefetched(a, n) : read_sum_threads(a, n, threads, pool);
}

// (b) Two gemv: r = X theta - y (NoTrans), g = X^T r (Trans).
void two_gemv(const double* x, const double* y, std::size_t rows, std::size_t dim,
              const double* theta, double* r, double* g) {
  const auto m = static_cast<blasint>(rows), n = static_cast<blasint>(dim);
  std::copy(y, y + rows, r);
  cblas_dgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0, x, n, theta, 1, -1.0, r, 1);
  cblas_dgemv(CblasRowMajor, CblasTrans, m, n, 1.0, x, n, r, 1, 0.0, g, 1);
}

void two_gemv(const float* x, const float* y, std::size_t rows, std::size_t dim, const float* theta,
              float* r, float* g) {
  const auto m = static_cast<blasint>(rows), n = static_cast<blasint>(dim);
  std::copy(y, y + rows, r);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, x, n, theta, 1, -1.0f, r, 1);
  cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, x, n, r, 1, 0.0f, g, 1);
}

// ---- references timed before the suite ---------------------------------------------------

// The thread counts compared: one, and every hardware thread.
int all_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
std::size_t slot(int threads) { return threads == 1 ? 0 : 1; }

struct References {
  double read_gbs[2] = {0, 0};    // (a), [0] one thread, [1] all
  double gemv64_gbs[2] = {0, 0};  // (b), fp64, effective (bytes of X once)
  double gemv32_gbs[2] = {0, 0};  // (b), fp32
};
References g_ref;

template <class F>
double median_seconds(F&& f, int reps = 5) {
  f();  // warm-up (page faults, OpenBLAS thread start)
  std::vector<double> t;
  for (int k = 0; k < reps; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void time_references() {
  const Problem& p = problem();
  References& r = g_ref;
  double sink = 0;
  for (int threads : {1, all_threads()}) {
    const std::size_t k = slot(threads);
    lag::ThreadPool pool(threads);
    r.read_gbs[k] = p.bytes64() / 1e9 /
                    median_seconds([&] { sink += read_all(p.x(), p.rows * p.dim, threads, pool); });
    openblas_set_num_threads(threads);
    std::vector<double> res(p.rows), g(p.dim);
    r.gemv64_gbs[k] = p.bytes64() / 1e9 / median_seconds([&] {
                        two_gemv(p.x(), p.y(), p.rows, p.dim, p.theta.data(), res.data(), g.data());
                      });
    std::vector<float> res32(p.rows), g32(p.dim);
    r.gemv32_gbs[k] =
        p.bytes32() / 1e9 / median_seconds([&] {
          two_gemv(p.x32(), p.y32(), p.rows, p.dim, p.theta32.data(), res32.data(), g32.data());
        });
  }
  benchmark::DoNotOptimize(sink);
}

// ---- benchmark bodies --------------------------------------------------------------------

// Wall time of the timed loop (every benchmark here uses UseRealTime, so this is the time
// Google Benchmark reports, up to the loop's own few-ns overhead).
class LoopTimer {
 public:
  LoopTimer() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

// bytes_per_second (Google Benchmark's own), and the counters GB/s, frac_read_bw (fraction of
// the read bandwidth on the same number of threads) and x_two_gemv (speed-up over the same
// precision's two-gemv on as many BLAS threads); `fp32` picks the two-gemv reference, none for a
// reference itself.
enum class Compare { Fp64, Fp32, Nothing };
void set_counters(benchmark::State& state, double seconds, double bytes, int threads,
                  Compare compare) {
  const double it = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(it * bytes));
  const double gbs = seconds > 0 ? it * bytes / seconds / 1e9 : 0.0;
  state.counters["GB/s"] = gbs;
  state.counters["threads"] = threads;
  const std::size_t k = slot(threads);
  if (g_ref.read_gbs[k] > 0) state.counters["frac_read_bw"] = gbs / g_ref.read_gbs[k];
  const double gemv = compare == Compare::Fp64   ? g_ref.gemv64_gbs[k]
                      : compare == Compare::Fp32 ? g_ref.gemv32_gbs[k]
                                                 : 0.0;
  if (gemv > 0) state.counters["x_two_gemv"] = gbs / gemv;
}

template <class T>
constexpr Compare precision_of() {
  return sizeof(T) == sizeof(double) ? Compare::Fp64 : Compare::Fp32;
}

void BM_ReadBandwidth(benchmark::State& state) {
  const Problem& p = problem();
  const LoopTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(read_sum_prefetched(p.x(), p.rows * p.dim));
  set_counters(state, timer.seconds(), p.bytes64(), 1, Compare::Nothing);
}

void BM_ReadBandwidthThreads(benchmark::State& state) {
  const Problem& p = problem();
  const int threads = static_cast<int>(state.range(0));
  lag::ThreadPool pool(threads);
  const LoopTimer timer;
  for (auto _ : state)
    benchmark::DoNotOptimize(read_sum_threads(p.x(), p.rows * p.dim, threads, pool));
  set_counters(state, timer.seconds(), p.bytes64(), threads, Compare::Nothing);
}

template <class T>
void BM_TwoGemv(benchmark::State& state) {
  const Problem& p = problem();
  const int threads = static_cast<int>(state.range(0));
  openblas_set_num_threads(threads);
  std::vector<T> r(p.rows), g(p.dim);
  const T* x = nullptr;
  const T* y = nullptr;
  const T* theta = nullptr;
  p.inputs(x, y, theta);
  const LoopTimer timer;
  for (auto _ : state) {
    two_gemv(x, y, p.rows, p.dim, theta, r.data(), g.data());
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, timer.seconds(), p.bytes<T>(), threads, precision_of<T>());
}

// One fused gradient over all of X in precision T, as a callable (BM_Fused, the paired table).
template <class T>
class FusedPass {
 public:
  FusedPass() : p_(problem()), g_(p_.dim) { p_.inputs(x_, y_, theta_); }
  void operator()() {
    std::fill(g_.begin(), g_.end(), T(0));
    benchmark::DoNotOptimize(lag::cpu::accumulate_gradient<T>(lag::ModelKind::LeastSquares, x_, y_,
                                                              p_.rows, p_.dim, theta_, g_.data()));
  }

 private:
  const Problem& p_;
  std::vector<T> g_;
  const T* x_ = nullptr;
  const T* y_ = nullptr;
  const T* theta_ = nullptr;
};

template <class T>
void BM_Fused(benchmark::State& state) {
  const Problem& p = problem();
  FusedPass<T> pass;
  const LoopTimer timer;
  for (auto _ : state) {
    pass();
    benchmark::ClobberMemory();
  }
  set_counters(state, timer.seconds(), p.bytes<T>(), 1, precision_of<T>());
}

template <class T>
const lag::Dataset<T>& dataset() {
  if constexpr (sizeof(T) == sizeof(double))
    return problem().data;
  else
    return problem().data32;
}

template <class T>
void BM_CpuCluster(benchmark::State& state) {
  const Problem& p = problem();
  const int threads = static_cast<int>(state.range(0));
  lag::ThreadPool pool(threads);
  lag::CpuCluster<T> cluster(dataset<T>(), lag::ModelSpec{}, pool);
  const lag::Flags all{1};
  // One GD step so that theta is not zero (same work either way; just a realistic theta).
  cluster.compute(all);
  lag::Round gd;
  gd.upload = lag::Round::Upload::Gradient;
  cluster.upload(all, gd);
  cluster.step(1e-7);
  const LoopTimer timer;
  for (auto _ : state) {
    cluster.compute(all);
    benchmark::ClobberMemory();
  }
  set_counters(state, timer.seconds(), p.bytes<T>(), threads, precision_of<T>());
}

// ---- correctness cross-checks (printed, not fatal) -----------------------------------------

void cross_check() {
  const Problem& p = problem();
  std::vector<double> r(p.rows), g_blas(p.dim), g_fused(p.dim, 0.0);
  two_gemv(p.x(), p.y(), p.rows, p.dim, p.theta.data(), r.data(), g_blas.data());
  lag::cpu::accumulate_gradient<double>(lag::ModelKind::LeastSquares, p.x(), p.y(), p.rows, p.dim,
                                        p.theta.data(), g_fused.data());
  double num = 0, den = 0;
  for (std::size_t j = 0; j < p.dim; ++j) {
    num = std::max(num, std::fabs(g_fused[j] - g_blas[j]));
    den = std::max(den, std::fabs(g_blas[j]));
  }
  // Bitwise equality of the cluster's result for 1 and 2 threads (the chunking is fixed).
  double norm[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    lag::ThreadPool pool(t);
    lag::CpuCluster<double> cluster(p.data, lag::ModelSpec{}, pool);
    cluster.compute(lag::Flags{1});
    norm[t - 1] = cluster.evaluate().grad_norm;
  }
  std::printf("check: fused vs two-gemv max |dg|/max|g| = %.2e; CpuCluster 1 vs 2 threads %s\n",
              den > 0 ? num / den : num,
              std::memcmp(&norm[0], &norm[1], sizeof(double)) == 0 ? "bit-identical" : "DIFFERENT");
}

// The 1/5/15-minute load averages (Linux), to tell a quiet machine from a busy one.
std::string loadavg() {
  std::string out = "n/a";
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, f) != nullptr) {
      out = buf;
      std::size_t cut = 0;  // keep the first three fields
      for (int k = 0; k < 3 && cut != std::string::npos; ++k) cut = out.find(' ', cut + 1);
      if (cut != std::string::npos) out.resize(cut);
    }
    std::fclose(f);
  }
  return out;
}

// ---- reporting -----------------------------------------------------------------------------

// Console output as usual, and the GB/s of every benchmark kept for the summary: median and
// best (max) over the repetitions when there are several, else the single run's value twice.
struct Result {
  std::string name;  // without the "/min_time:.../repeats:.../real_time" decorations
  double median_gbs = 0;
  double best_gbs = 0;
};

std::string short_name(std::string name) {
  for (const char* decoration : {"/min_time:", "/repeats:", "/real_time"}) {
    const std::size_t at = name.find(decoration);
    if (at != std::string::npos) name.resize(at);
  }
  return name;
}

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  using benchmark::ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const auto it = run.counters.find("GB/s");
      if (it == run.counters.end()) continue;
      const double gbs = it->second.value;
      if (run.run_type == Run::RT_Iteration && run.repetitions <= 1) {
        entry(run.run_name.str()) = {short_name(run.run_name.str()), gbs, gbs};
      } else if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        entry(run.run_name.str()).median_gbs = gbs;
      } else if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "max") {
        entry(run.run_name.str()).best_gbs = gbs;
      }
    }
    benchmark::ConsoleReporter::ReportRuns(runs);
  }
  std::vector<Result> results;

 private:
  Result& entry(const std::string& full_name) {
    const std::string name = short_name(full_name);
    for (Result& r : results)
      if (r.name == name) return r;
    results.push_back(Result{name, 0, 0});
    return results.back();
  }
};

// The thread count in a benchmark's name ("/threads:N", or ReadBandwidthThreads' "/N"); 1 else.
int threads_of(const std::string& name) {
  std::size_t at = name.find("/threads:");
  if (at != std::string::npos) return std::atoi(name.c_str() + at + 9);
  at = name.rfind('/');
  if (name.rfind("ReadBandwidthThreads/", 0) == 0 && at != std::string::npos)
    return std::atoi(name.c_str() + at + 1);
  return 1;
}

// The processor's name, from /proc/cpuinfo ("unknown" elsewhere).
std::string cpu_model() {
  std::string model = "unknown";
  if (std::FILE* f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::strncmp(line, "model name", 10) != 0) continue;
      const char* colon = std::strchr(line, ':');
      if (colon != nullptr) {
        model = colon + 1;
        model.erase(0, model.find_first_not_of(" \t"));
        model.erase(model.find_last_not_of(" \t\n") + 1);
      }
      break;
    }
    std::fclose(f);
  }
  return model;
}

void print_summary(const std::vector<Result>& results) {
  const Problem& p = problem();
  auto best_of = [&](const std::string& name) {
    for (const Result& r : results)
      if (r.name == name) return r.best_gbs;
    return 0.0;
  };
  // Ratios against the suite's own references of the same thread count; the ones timed before
  // the suite stand in for those filtered out (--benchmark_filter).
  auto or_ref = [](double suite, double before) { return suite > 0 ? suite : before; };
  const int all = all_threads();
  const auto read_at = [&](int threads) {
    return or_ref(
        best_of(threads == 1 ? "ReadBandwidth" : "ReadBandwidthThreads/" + std::to_string(threads)),
        g_ref.read_gbs[slot(threads)]);
  };
  const auto gemv_at = [&](bool fp32, int threads) {
    const std::string name = std::string(fp32 ? "TwoGemv<float>" : "TwoGemv<double>") +
                             "/threads:" + std::to_string(threads);
    return or_ref(best_of(name),
                  fp32 ? g_ref.gemv32_gbs[slot(threads)] : g_ref.gemv64_gbs[slot(threads)]);
  };
  std::printf("\nSummary: least-squares gradient, %zu x %zu, X = %.0f MB fp64 / %.0f MB fp32\n",
              p.rows, p.dim, p.bytes64() / 1e6, p.bytes32() / 1e6);
  std::printf(
      "machine: %s, %d hardware threads; read bandwidth %.2f GB/s on 1 thread, %.2f GB/s on %d\n",
      cpu_model().c_str(), all, read_at(1), read_at(all), all);
  std::printf(
      "references timed before the suite (median of 5), 1 / %d threads: read %.2f / %.2f GB/s, "
      "two-gemv fp64 %.2f / %.2f, fp32 %.2f / %.2f\n",
      all, g_ref.read_gbs[0], g_ref.read_gbs[1], g_ref.gemv64_gbs[0], g_ref.gemv64_gbs[1],
      g_ref.gemv32_gbs[0], g_ref.gemv32_gbs[1]);
  std::printf(
      "GB/s = bytes of X (counted once) / wall time, median and best of the repetitions; the\n"
      "ratios compare best with best, on the same number of threads: %% read = vs the read\n"
      "bandwidth, x two-gemv = vs TwoGemv of the same precision on as many BLAS threads.\n\n");
  std::printf("%-30s %7s %9s %9s %8s %11s\n", "kernel", "threads", "GB/s med", "GB/s best",
              "% read", "x two-gemv");
  std::printf("%-30s %7s %9s %9s %8s %11s\n", std::string(30, '-').c_str(), "-------", "---------",
              "---------", "--------", "-----------");
  for (const Result& r : results) {
    const bool fp32 = r.name.find("<float>") != std::string::npos;
    const bool reference = r.name.rfind("ReadBandwidth", 0) == 0 || r.name.rfind("TwoGemv", 0) == 0;
    const int threads = threads_of(r.name);
    const double read = read_at(threads), gemv = gemv_at(fp32, threads);
    std::printf("%-30s %7d %9.2f %9.2f %7.1f%% ", r.name.c_str(), threads, r.median_gbs, r.best_gbs,
                read > 0 ? 100.0 * r.best_gbs / read : 0.0);
    if (reference || gemv <= 0)
      std::printf("%11s\n", "-");
    else
      std::printf("%10.2fx\n", r.best_gbs / gemv);
  }
}

// ---- paired with the read pass --------------------------------------------------------------
// The read bandwidth of this shared machine drifts from minute to minute, so "best against
// best" can set a kernel against a read pass from a better moment. Here every kernel pass is
// timed right next to a read pass on as many threads (read first in even pairs, the kernel
// first in odd ones), and the ratio of the two is taken pair by pair.

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Paired {
  double median = 0, low = 0, high = 0;
};

Paired paired_ratio(int threads, double bytes, const std::function<void()>& kernel, int pairs) {
  const Problem& p = problem();
  lag::ThreadPool pool(threads);
  double sink = 0;
  const std::function<void()> read = [&] {
    sink += read_all(p.x(), p.rows * p.dim, threads, pool);
  };
  read();
  kernel();
  std::vector<double> ratios;
  for (int k = 0; k < pairs; ++k) {
    double t_read = 0, t_kernel = 0;
    if (k % 2 == 0) {
      t_read = seconds_of(read);
      t_kernel = seconds_of(kernel);
    } else {
      t_kernel = seconds_of(kernel);
      t_read = seconds_of(read);
    }
    ratios.push_back((bytes / t_kernel) / (p.bytes64() / t_read));
  }
  benchmark::DoNotOptimize(sink);
  std::sort(ratios.begin(), ratios.end());
  return {ratios[ratios.size() / 2], ratios.front(), ratios.back()};
}

template <class T>
void print_paired_fused(int pairs) {
  FusedPass<T> pass;
  const Paired r = paired_ratio(
      1, problem().bytes<T>(), [&] { pass(); }, pairs);
  std::printf("%-30s %7d %7.1f%% %7.1f%% %7.1f%%\n",
              sizeof(T) == 8 ? "Fused<double>" : "Fused<float>", 1, 100 * r.median, 100 * r.low,
              100 * r.high);
}

template <class T>
void print_paired_cluster(int threads, int pairs) {
  const Problem& p = problem();
  lag::ThreadPool pool(threads);
  lag::CpuCluster<T> cluster(dataset<T>(), lag::ModelSpec{}, pool);
  const lag::Flags all{1};
  const Paired r = paired_ratio(
      threads, p.bytes<T>(), [&] { cluster.compute(all); }, pairs);
  const std::string name =
      std::string(sizeof(T) == 8 ? "CpuCluster<double>" : "CpuCluster<float>") +
      "/threads:" + std::to_string(threads);
  std::printf("%-30s %7d %7.1f%% %7.1f%% %7.1f%%\n", name.c_str(), threads, 100 * r.median,
              100 * r.low, 100 * r.high);
}

void print_paired(int pairs) {
  if (pairs <= 0) return;
  std::printf(
      "\nPaired with the read pass: %d pairs per kernel, each kernel pass timed next to a read\n"
      "pass on as many threads; %% read per pair, median [lowest, highest]:\n\n",
      pairs);
  std::printf("%-30s %7s %8s %8s %8s\n", "kernel", "threads", "median", "lowest", "highest");
  print_paired_fused<double>(pairs);
  print_paired_fused<float>(pairs);
  for (int threads : {1, all_threads()}) {
    print_paired_cluster<double>(threads, pairs);
    print_paired_cluster<float>(threads, pairs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Flags given on the command line win over the defaults set below (per-benchmark settings
  // would override them).
  bool min_time_given = false, repetitions_given = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--benchmark_min_time", 20) == 0) min_time_given = true;
    if (std::strncmp(argv[i], "--benchmark_repetitions", 23) == 0) repetitions_given = true;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::size_t rows = env_size("LAG_BENCH_ROWS", 200000);
  const std::size_t dim = env_size("LAG_BENCH_DIM", 500);
  std::printf("bench_gradient: %zu x %zu (fp64 %.0f MB) on %s, %d hardware threads\n", rows, dim,
              static_cast<double>(rows * dim * sizeof(double)) / 1e6, cpu_model().c_str(),
              all_threads());
  std::fflush(stdout);
  make_problem(rows, dim);
  time_references();
  cross_check();
  std::printf("load average before the suite: %s\n", loadavg().c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let OpenBLAS threads park

  // Each iteration is a full pass over X (60-200 ms at full size). Default: 5 repetitions of
  // at least 0.3 s each, reported as mean/median/stddev/cv/max ("max" of every column: of the
  // GB/s counter, that is the best repetition). Best-of-5 shrugs off bursts of load from other
  // processes on a small shared machine; the whole run stays under a minute.
  auto tune = [&](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
    if (!min_time_given) b->MinTime(0.3);
    if (!min_time_given && !repetitions_given) b->Repetitions(5)->ReportAggregatesOnly(true);
    b->ComputeStatistics("max", [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
    });
    return b;
  };
  // The gemv baselines run last: OpenBLAS's worker threads spin for a while after each call
  // and would take a core from whatever ran next on this 2-core machine.
  tune(benchmark::RegisterBenchmark("ReadBandwidth", BM_ReadBandwidth));
  const int all = all_threads();
  tune(benchmark::RegisterBenchmark("ReadBandwidthThreads", BM_ReadBandwidthThreads))->Arg(all);
  tune(benchmark::RegisterBenchmark("Fused<double>", BM_Fused<double>));
  tune(benchmark::RegisterBenchmark("CpuCluster<double>", BM_CpuCluster<double>))
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(all);
  tune(benchmark::RegisterBenchmark("Fused<float>", BM_Fused<float>));
  tune(benchmark::RegisterBenchmark("CpuCluster<float>", BM_CpuCluster<float>))
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(all);
  tune(benchmark::RegisterBenchmark("TwoGemv<double>", BM_TwoGemv<double>))
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(all);
  tune(benchmark::RegisterBenchmark("TwoGemv<float>", BM_TwoGemv<float>))
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(all);

  SummaryReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter.results);
  print_paired(static_cast<int>(env_size("LAG_BENCH_PAIRS", 9)));
  std::printf(
      "load average after the suite: %s (other processes on this machine skew the "
      "numbers)\n",
      loadavg().c_str());
  benchmark::Shutdown();
  return 0;
}
