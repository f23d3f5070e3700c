// The vector kernels around the trigger rules on the CPU (src/model/gradient.hpp), one thread:
//   Norm2       ||a||^2                       (LAG-WK's ||delta||^2, the step norm)
//   Distance2   ||a - b||^2                   (LAG-PS's ||theta_hat_m - theta^k||^2)
//   DeltaNorm   delta = g - g_hat; ||delta||^2 (what a LAG-WK worker does before its trigger,
//                                              written as in CpuWorkers::compute)
//   Quantize    LAQ's 4-bit quantizer (src/compress/quantizer.hpp): g and q_hat read; codes,
//               the innovation v and Q written (GB/s counts 4n*s + n/2 bytes)
//   TopK        the k = n/10 largest magnitudes of a vector (src/compress/top_k.hpp): n*s read
// against the read bandwidth at the same size and precision, measured in the same run before the
// suite (a 16-lane sum over a vector of the same bytes, median of 5).
//
// GB/s counts each input byte read once and each output byte written once: Norm2 n*s,
// Distance2 2n*s, DeltaNorm 3n*s (g and g_hat read, delta written; norm2's re-read of delta is
// not counted), s = sizeof(T). frac_read_bw = GB/s / the read reference. Sizes: 7850 (the
// softmax model's theta), 2^17 (1 MiB in fp64: the L2 cache here) and 2^24 (128 MiB: main
// memory); LAG_BENCH_MAX_N caps them (the ctest smoke run uses 2^17).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "compress/quantizer.hpp"
#include "compress/top_k.hpp"
#include "model/gradient.hpp"

namespace {

std::size_t max_size() {
  const char* s = std::getenv("LAG_BENCH_MAX_N");
  if (s == nullptr || *s == '\0') return std::size_t{1} << 24;
  return static_cast<std::size_t>(std::strtoull(s, nullptr, 10));
}

using lag::bench::uniform_pm1;

template <class T>
struct Vectors {
  std::vector<T> a, b, out;
};

// One set per size and precision, made on first use (outside the timed loops).
template <class T>
Vectors<T>& vectors(std::size_t n) {
  static std::map<std::size_t, Vectors<T>> sets;
  auto it = sets.find(n);
  if (it != sets.end()) return it->second;
  Vectors<T>& v = sets[n];
  std::uint64_t state = 20240601 + n;
  v.a.resize(n);
  v.b.resize(n);
  v.out.assign(n, T(0));
  for (T& x : v.a) x = static_cast<T>(uniform_pm1(state));
  for (T& x : v.b) x = static_cast<T>(uniform_pm1(state));
  return v;
}

using lag::bench::read_sum;

// Read GB/s per (bytes of the vector), timed before the suite.
std::map<std::size_t, double> g_read_gbs;

template <class T>
void time_read_reference(std::size_t n) {
  const Vectors<T>& v = vectors<T>(n);
  const double bytes = static_cast<double>(n * sizeof(T));
  // About 64 MB per sample, so that small vectors are timed over many calls.
  const std::size_t calls = std::max<std::size_t>(1, static_cast<std::size_t>(64e6 / bytes));
  std::vector<double> gbs;
  T sink = 0;
  for (int rep = 0; rep < 6; ++rep) {  // the first is a warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t c = 0; c < calls; ++c) {
      sink += read_sum(v.a.data(), n);
      benchmark::ClobberMemory();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) gbs.push_back(bytes * static_cast<double>(calls) / s / 1e9);
  }
  benchmark::DoNotOptimize(sink);
  std::sort(gbs.begin(), gbs.end());
  g_read_gbs[n * sizeof(T)] = gbs[gbs.size() / 2];
}

// Wall time of the timed loop (the benchmarks use UseRealTime, so this is the time reported, up
// to the loop's own few-ns overhead): GB/s and its fraction of the read reference are known
// when the loop ends.
class LoopTimer {
 public:
  LoopTimer() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

template <class T>
void set_counters(benchmark::State& state, const LoopTimer& timer, std::size_t n,
                  double bytes_per_call) {
  const double seconds = timer.seconds();
  const double bytes = bytes_per_call * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  const double gbs = seconds > 0 ? bytes / seconds / 1e9 : 0.0;
  const double ref = g_read_gbs[n * sizeof(T)];
  state.counters["GB/s"] = gbs;
  state.counters["frac_read_bw"] = ref > 0 ? gbs / ref : 0.0;
}

template <class T>
void BM_Read(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Vectors<T>& v = vectors<T>(n);
  const LoopTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(read_sum(v.a.data(), n));
  set_counters<T>(state, timer, n, static_cast<double>(n * sizeof(T)));
}

template <class T>
void BM_Norm2(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Vectors<T>& v = vectors<T>(n);
  const LoopTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(lag::cpu::norm2(v.a.data(), n));
  set_counters<T>(state, timer, n, static_cast<double>(n * sizeof(T)));
}

template <class T>
void BM_Distance2(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Vectors<T>& v = vectors<T>(n);
  const LoopTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(lag::cpu::distance2(v.a.data(), v.b.data(), n));
  set_counters<T>(state, timer, n, static_cast<double>(2 * n * sizeof(T)));
}

template <class T>
void BM_DeltaNorm(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Vectors<T>& v = vectors<T>(n);
  T* delta = v.out.data();
  const LoopTimer timer;
  for (auto _ : state) {
    for (std::size_t j = 0; j < n; ++j) delta[j] = v.a[j] - v.b[j];
    benchmark::DoNotOptimize(lag::cpu::norm2(delta, n));
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, timer, n, static_cast<double>(3 * n * sizeof(T)));
}

template <class T>
void BM_Quantize(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Vectors<T>& v = vectors<T>(n);
  std::vector<T> innovation(n), q(n);
  std::vector<std::uint8_t> codes(lag::packed_code_bytes(n, 4));
  const LoopTimer timer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        lag::quantize(v.a.data(), v.b.data(), n, 4, codes.data(), innovation.data(), q.data()));
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, timer, n, static_cast<double>(4 * n * sizeof(T) + codes.size()));
}

template <class T>
void BM_TopK(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Vectors<T>& v = vectors<T>(n);
  std::vector<std::uint32_t> indices(n / 10);
  std::vector<T> scratch;
  const LoopTimer timer;
  for (auto _ : state) {
    lag::top_k(v.a.data(), n, indices.size(), indices.data(), scratch);
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, timer, n, static_cast<double>(n * sizeof(T)));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::vector<std::size_t> sizes;
  for (std::size_t n : {std::size_t{7850}, std::size_t{1} << 17, std::size_t{1} << 24})
    if (n <= max_size()) sizes.push_back(n);
  std::printf("bench_vector: read references (GB/s, one thread, median of 5):");
  for (std::size_t n : sizes) {
    time_read_reference<double>(n);
    time_read_reference<float>(n);
    std::printf(" n=%zu fp64 %.1f fp32 %.1f;", n, g_read_gbs[n * sizeof(double)],
                g_read_gbs[n * sizeof(float)]);
  }
  std::printf("\n");
  std::fflush(stdout);

  auto add = [&](const char* name, void (*fn)(benchmark::State&)) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (std::size_t n : sizes) b->Arg(static_cast<std::int64_t>(n));
    b->UseRealTime();
    // With --benchmark_repetitions=N: the best repetition too (shrugs off load from other
    // processes on a small shared machine).
    b->ComputeStatistics("max", [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
    });
  };
  add("Read<double>", BM_Read<double>);
  add("Norm2<double>", BM_Norm2<double>);
  add("Distance2<double>", BM_Distance2<double>);
  add("DeltaNorm<double>", BM_DeltaNorm<double>);
  add("Read<float>", BM_Read<float>);
  add("Norm2<float>", BM_Norm2<float>);
  add("Distance2<float>", BM_Distance2<float>);
  add("DeltaNorm<float>", BM_DeltaNorm<float>);
  add("Quantize<double>", BM_Quantize<double>);
  add("Quantize<float>", BM_Quantize<float>);
  add("TopK<double>", BM_TopK<double>);
  add("TopK<float>", BM_TopK<float>);

  // --benchmark_format=json prints JSON instead of the table; --benchmark_out=FILE writes JSON
  // to FILE beside it.
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
