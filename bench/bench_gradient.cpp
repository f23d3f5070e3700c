// Single-pass CPU gradient (least squares) on one rows x dim shard, against
//   (a) the machine's single-thread memory read bandwidth (vectorised sum over the same X),
//   (b) the "two gemv" baseline: r = X theta - y, g = X^T r with OpenBLAS (reads X twice),
//   (c) lag::cpu::accumulate_gradient, one thread over all rows (fp64 and fp32),
//   (d) lag::CpuCluster::compute (the trainer's path) on a ThreadPool of 1 and 2 threads.
//
// Every benchmark counts the bytes of X once per iteration (SetBytesProcessed), so GB/s is
// "effective": the time to turn one shard into its gradient, expressed as bandwidth. The
// references (a) and (b) are also timed in main() before the suite (median of 5), so that
// every benchmark can report frac_read_bw and x_two_gemv counters; the summary table printed
// at the end compares the suite's own results (best repetition against best repetition).
// Before the suite, main() also checks the fused gradient against two-gemv and that
// CpuCluster gives the same bits with 1 and 2 threads.
//
// Size: LAG_BENCH_ROWS (default 200000) x LAG_BENCH_DIM (default 500). OpenBLAS threads:
// OPENBLAS_NUM_THREADS. Without --benchmark_min_time each benchmark runs 5 x >= 0.3 s.

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
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/random.hpp"
#include "lag/thread_pool.hpp"
#include "model/gradient.hpp"

namespace {

using lag::bench::env_size;
using lag::bench::read_sum;
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
  double bytes32() const { return static_cast<double>(rows * dim * sizeof(float)); }
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

// (a) Read bandwidth: lag::bench::read_sum (bench_common.hpp).

// Same, split over `threads` std::threads in contiguous blocks (reference for the 2-thread
// cluster: what two cores can pull from memory together).
double read_sum_threads(const double* a, std::size_t n, int threads, lag::ThreadPool& pool) {
  std::vector<double> part(static_cast<std::size_t>(threads), 0.0);
  const std::size_t t = static_cast<std::size_t>(threads);
  pool.parallel_for(t, [&](std::size_t k) {
    const std::size_t begin = n * k / t, end = n * (k + 1) / t;
    part[k] = read_sum(a + begin, end - begin);
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
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

struct References {
  double read_gbs = 0;    // (a), one thread
  double gemv64_gbs = 0;  // (b), fp64, effective (bytes of X once)
  double gemv32_gbs = 0;  // (b), fp32
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
  r.read_gbs = p.bytes64() / 1e9 / median_seconds([&] { sink += read_sum(p.x(), p.rows * p.dim); });
  std::vector<double> res(p.rows), g(p.dim);
  r.gemv64_gbs = p.bytes64() / 1e9 / median_seconds([&] {
                   two_gemv(p.x(), p.y(), p.rows, p.dim, p.theta.data(), res.data(), g.data());
                 });
  std::vector<float> res32(p.rows), g32(p.dim);
  r.gemv32_gbs =
      p.bytes32() / 1e9 / median_seconds([&] {
        two_gemv(p.x32(), p.y32(), p.rows, p.dim, p.theta32.data(), res32.data(), g32.data());
      });
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
// the 1-thread read bandwidth) and x_two_gemv (speed-up over the same precision's two-gemv).
void set_counters(benchmark::State& state, double seconds, double bytes, double gemv_ref) {
  const double it = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(it * bytes));
  const double gbs = seconds > 0 ? it * bytes / seconds / 1e9 : 0.0;
  state.counters["GB/s"] = gbs;
  if (g_ref.read_gbs > 0) state.counters["frac_read_bw"] = gbs / g_ref.read_gbs;
  if (gemv_ref > 0) state.counters["x_two_gemv"] = gbs / gemv_ref;
}

void BM_ReadBandwidth(benchmark::State& state) {
  const Problem& p = problem();
  const LoopTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(read_sum(p.x(), p.rows * p.dim));
  set_counters(state, timer.seconds(), p.bytes64(), 0.0);  // no x_two_gemv for a reference
}

void BM_ReadBandwidthThreads(benchmark::State& state) {
  const Problem& p = problem();
  const int threads = static_cast<int>(state.range(0));
  lag::ThreadPool pool(threads);
  const LoopTimer timer;
  for (auto _ : state)
    benchmark::DoNotOptimize(read_sum_threads(p.x(), p.rows * p.dim, threads, pool));
  set_counters(state, timer.seconds(), p.bytes64(), 0.0);  // no x_two_gemv for a reference
}

template <class T>
void BM_TwoGemv(benchmark::State& state) {
  const Problem& p = problem();
  std::vector<T> r(p.rows), g(p.dim);
  const T* x = nullptr;
  const T* y = nullptr;
  const T* theta = nullptr;
  if constexpr (sizeof(T) == sizeof(double)) {
    x = p.x(), y = p.y(), theta = p.theta.data();
  } else {
    x = p.x32(), y = p.y32(), theta = p.theta32.data();
  }
  const LoopTimer timer;
  for (auto _ : state) {
    two_gemv(x, y, p.rows, p.dim, theta, r.data(), g.data());
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  state.counters["blas_threads"] = openblas_get_num_threads();
  set_counters(state, timer.seconds(), sizeof(T) == 8 ? p.bytes64() : p.bytes32(),
               sizeof(T) == 8 ? g_ref.gemv64_gbs : g_ref.gemv32_gbs);
}

template <class T>
void BM_Fused(benchmark::State& state) {
  const Problem& p = problem();
  std::vector<T> g(p.dim);
  const T* x = nullptr;
  const T* y = nullptr;
  const T* theta = nullptr;
  if constexpr (sizeof(T) == sizeof(double)) {
    x = p.x(), y = p.y(), theta = p.theta.data();
  } else {
    x = p.x32(), y = p.y32(), theta = p.theta32.data();
  }
  const LoopTimer timer;
  for (auto _ : state) {
    std::fill(g.begin(), g.end(), T(0));
    benchmark::DoNotOptimize(lag::cpu::accumulate_gradient<T>(lag::ModelKind::LeastSquares, x, y,
                                                              p.rows, p.dim, theta, g.data()));
    benchmark::ClobberMemory();
  }
  set_counters(state, timer.seconds(), sizeof(T) == 8 ? p.bytes64() : p.bytes32(),
               sizeof(T) == 8 ? g_ref.gemv64_gbs : g_ref.gemv32_gbs);
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
  lag::ThreadPool pool(static_cast<int>(state.range(0)));
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
  set_counters(state, timer.seconds(), sizeof(T) == 8 ? p.bytes64() : p.bytes32(),
               sizeof(T) == 8 ? g_ref.gemv64_gbs : g_ref.gemv32_gbs);
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

void print_summary(const std::vector<Result>& results) {
  const Problem& p = problem();
  auto best_of = [&](const std::string& name) {
    for (const Result& r : results)
      if (r.name == name) return r.best_gbs;
    return 0.0;
  };
  // Ratios against the suite's own references; the ones timed before the suite stand in for
  // those filtered out (--benchmark_filter).
  auto or_ref = [](double suite, double before) { return suite > 0 ? suite : before; };
  const double read = or_ref(best_of("ReadBandwidth"), g_ref.read_gbs);
  const double gemv64 = or_ref(best_of("TwoGemv<double>"), g_ref.gemv64_gbs);
  const double gemv32 = or_ref(best_of("TwoGemv<float>"), g_ref.gemv32_gbs);
  std::printf(
      "\nSummary: least-squares gradient, %zu x %zu, X = %.0f MB fp64 / %.0f MB fp32; "
      "OpenBLAS threads: %d\n",
      p.rows, p.dim, p.bytes64() / 1e6, p.bytes32() / 1e6, openblas_get_num_threads());
  std::printf(
      "references timed before the suite (median of 5): read %.2f GB/s, two-gemv fp64 %.2f "
      "GB/s, fp32 %.2f GB/s\n",
      g_ref.read_gbs, g_ref.gemv64_gbs, g_ref.gemv32_gbs);
  std::printf(
      "GB/s = bytes of X (counted once) / wall time, median and best of the repetitions; the\n"
      "ratios compare best with best: %% read = vs ReadBandwidth (one thread), x two-gemv = vs\n"
      "TwoGemv of the same precision.\n\n");
  std::printf("%-30s %9s %9s %8s %11s\n", "kernel", "GB/s med", "GB/s best", "% read",
              "x two-gemv");
  std::printf("%-30s %9s %9s %8s %11s\n", std::string(30, '-').c_str(), "---------", "---------",
              "--------", "-----------");
  for (const Result& r : results) {
    const bool fp32 = r.name.find("<float>") != std::string::npos;
    const bool reference = r.name.rfind("ReadBandwidth", 0) == 0;
    const double gemv = fp32 ? gemv32 : gemv64;
    std::printf("%-30s %9.2f %9.2f %7.1f%% ", r.name.c_str(), r.median_gbs, r.best_gbs,
                read > 0 ? 100.0 * r.best_gbs / read : 0.0);
    if (reference || gemv <= 0)
      std::printf("%11s\n", "-");
    else
      std::printf("%10.2fx\n", r.best_gbs / gemv);
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
  std::printf(
      "bench_gradient: %zu x %zu (fp64 %.0f MB), %u hardware threads, OpenBLAS %d "
      "thread(s)\n",
      rows, dim, static_cast<double>(rows * dim * sizeof(double)) / 1e6,
      std::thread::hardware_concurrency(), openblas_get_num_threads());
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
  tune(benchmark::RegisterBenchmark("ReadBandwidthThreads", BM_ReadBandwidthThreads))->Arg(2);
  tune(benchmark::RegisterBenchmark("Fused<double>", BM_Fused<double>));
  tune(benchmark::RegisterBenchmark("CpuCluster<double>", BM_CpuCluster<double>))
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2);
  tune(benchmark::RegisterBenchmark("Fused<float>", BM_Fused<float>));
  tune(benchmark::RegisterBenchmark("CpuCluster<float>", BM_CpuCluster<float>))
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2);
  tune(benchmark::RegisterBenchmark("TwoGemv<double>", BM_TwoGemv<double>));
  tune(benchmark::RegisterBenchmark("TwoGemv<float>", BM_TwoGemv<float>));

  SummaryReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter.results);
  std::printf(
      "load average after the suite: %s (other processes on this machine skew the "
      "numbers)\n",
      loadavg().c_str());
  benchmark::Shutdown();
  return 0;
}
