// Softmax and MLP gradient throughput on the CPU, in GFLOP/s against the BLAS GEMM peak measured
// in the same run. Problem size: Fashion-MNIST's (60000 x 785 with bias, K = 10; MLP h = 64),
// overridable with LAG_BENCH_ROWS / LAG_BENCH_DIM / LAG_BENCH_HIDDEN.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "cluster/cpu_cluster.hpp"
#include "lag/random.hpp"
#include "model/blas.hpp"
#include "model/loss_kernels.hpp"

namespace {

using lag::bench::env_size;

const std::size_t kRows = env_size("LAG_BENCH_ROWS", 60000);
const std::size_t kDim = env_size("LAG_BENCH_DIM", 785);
const int kHidden = static_cast<int>(env_size("LAG_BENCH_HIDDEN", 64));
constexpr int kClasses = 10;

template <class T>
const lag::Dataset<T>& data() {
  static const lag::Dataset<T> d = [] {
    lag::Random rng(7);
    lag::Dataset<T> out;
    out.dim = kDim;
    lag::Shard<T> s;
    s.source = "bench";
    s.rows = kRows;
    s.dim = kDim;
    s.x.resize(kRows * kDim);
    s.y.resize(kRows);
    for (auto& v : s.x) v = static_cast<T>(rng.uniform());
    for (auto& v : s.y) v = static_cast<T>(rng.below(kClasses));
    out.shards.push_back(std::move(s));
    return out;
  }();
  return d;
}

// GEMM peak: C (n x n) = A B with n = 1024, one BLAS thread (how the kernels call it).
template <class T>
void BM_GemmPeak(benchmark::State& state) {
  lag::cpu::use_single_threaded_blas();
  const std::size_t n = 1024;
  std::vector<T> a(n * n, T(0.5)), b(n * n, T(0.25)), c(n * n);
  for (auto _ : state) {
    lag::cpu::gemm(false, false, n, n, n, T(1), a.data(), n, b.data(), n, T(0), c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

lag::ModelSpec model_of(bool mlp) {
  return mlp ? lag::ModelSpec{lag::ModelKind::Mlp, 0, kClasses, kHidden}
             : lag::ModelSpec{lag::ModelKind::Softmax, 0, kClasses, 0};
}

// One worker's gradient through the loss kernel, single thread.
template <class T>
void BM_KernelGradient(benchmark::State& state) {
  lag::cpu::use_single_threaded_blas();
  const bool mlp = state.range(0) != 0;
  const auto model = model_of(mlp);
  const auto& s = data<T>().shards[0];
  const auto kernel = lag::cpu::make_loss_kernel<T>(model, kDim);
  std::vector<T> theta(lag::parameter_count(model, kDim), T(0.01)), g(theta.size()), scratch;
  for (auto _ : state) {
    std::fill(g.begin(), g.end(), T(0));
    benchmark::DoNotOptimize(
        kernel->gradient(s.x.data(), s.y.data(), s.rows, theta.data(), g.data(), scratch));
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(kernel->gradient_flops(s.rows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  // X's bytes, counted once per gradient (each 64-row block is read from memory by the first
  // GEMM and from cache by the second).
  state.counters["GB/s of X"] = benchmark::Counter(
      static_cast<double>(s.rows * kDim * sizeof(T)) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(mlp ? "mlp" : "softmax");
}

// The trainer's path: CpuCluster::compute over the thread pool (rows in 4004-row tasks).
template <class T>
void BM_ClusterGradient(benchmark::State& state) {
  const bool mlp = state.range(0) != 0;
  const int threads = static_cast<int>(state.range(1));
  const auto model = model_of(mlp);
  lag::ThreadPool pool(threads);
  lag::CpuCluster<T> cluster(data<T>(), model, pool);
  cluster.reset({}, {});
  const lag::Flags all{1};
  for (auto _ : state) cluster.compute(all);
  const auto kernel = lag::cpu::make_loss_kernel<T>(model, kDim);
  state.counters["GFLOP/s"] =
      benchmark::Counter(kernel->gradient_flops(kRows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["GB/s of X"] = benchmark::Counter(
      static_cast<double>(kRows * kDim * sizeof(T)) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(mlp ? "mlp" : "softmax") + ", " + std::to_string(threads) +
                 " threads");
}

BENCHMARK_TEMPLATE(BM_GemmPeak, double)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK_TEMPLATE(BM_GemmPeak, float)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK_TEMPLATE(BM_KernelGradient, double)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_KernelGradient, float)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ClusterGradient, double)
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
