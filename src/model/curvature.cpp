#include "model/curvature.hpp"

#include <algorithm>
#include <cmath>

#include "lag/process_group.hpp"
#include "lag/random.hpp"
#include "model/gradient.hpp"
#include "model/loss_kernels.hpp"

namespace lag {

namespace {

// Gradient of shard s's loss (data term + regulariser) at theta.
void shard_gradient(const cpu::LossKernel<double>& kernel, const Shard<double>& s, double lambda,
                    const std::vector<double>& theta, std::vector<double>& g,
                    std::vector<double>& scratch) {
  std::fill(g.begin(), g.end(), 0.0);
  kernel.gradient(s.x.data(), s.y.data(), s.rows, theta.data(), g.data(), scratch);
  for (std::size_t j = 0; j < g.size(); ++j) g[j] += lambda * theta[j];
}

// out = H_s v by central differences (|v| = 1).
void hessian_vector(const cpu::LossKernel<double>& kernel, const Shard<double>& s, double lambda,
                    const std::vector<double>& theta, const std::vector<double>& v,
                    std::vector<double>& out, std::vector<double>& scratch) {
  const std::size_t n = theta.size();
  const double eps = 1e-5 * std::max(1.0, std::sqrt(cpu::norm2(theta.data(), n)));
  std::vector<double> shifted(n), g_plus(n);
  for (std::size_t j = 0; j < n; ++j) shifted[j] = theta[j] + eps * v[j];
  shard_gradient(kernel, s, lambda, shifted, g_plus, scratch);
  for (std::size_t j = 0; j < n; ++j) shifted[j] = theta[j] - eps * v[j];
  shard_gradient(kernel, s, lambda, shifted, out, scratch);
  for (std::size_t j = 0; j < n; ++j) out[j] = (g_plus[j] - out[j]) / (2 * eps);
}

void normalise(std::vector<double>& v) {
  const double n = std::sqrt(cpu::norm2(v.data(), v.size()));
  if (n > 0)
    for (double& e : v) e /= n;
}

std::vector<double> random_unit(std::size_t n, std::uint64_t seed) {
  Random rng(seed);
  std::vector<double> v(n);
  for (double& e : v) e = rng.normal();
  normalise(v);
  return v;
}

}  // namespace

Smoothness estimate_curvature(const Dataset<double>& data, const ModelSpec& model,
                              const std::vector<double>& theta, ThreadPool& pool, int iterations) {
  return estimate_curvature(data, model, theta, pool, single_process(), iterations);
}

Smoothness estimate_curvature(const Dataset<double>& data, const ModelSpec& model,
                              const std::vector<double>& theta, ThreadPool& pool,
                              ProcessGroup& group, int iterations) {
  cpu::use_single_threaded_blas();
  const auto kernel = cpu::make_loss_kernel<double>(model, data.dim);
  const std::size_t n = theta.size();
  const int M = data.workers();
  const WorkerRange own = own_workers(group, M);
  const auto count = static_cast<std::size_t>(own.count());
  const auto shard = [&](std::size_t i) -> const Shard<double>& {
    return data.shards[static_cast<std::size_t>(own.first) + i];
  };

  // Per worker (this process's): its own power iteration, one task per worker.
  std::vector<double> mine(count, 0.0);
  pool.parallel_for(count, [&](std::size_t i) {
    const auto m = static_cast<std::size_t>(own.first) + i;
    std::vector<double> v = random_unit(n, 0x5eed + m), hv(n), scratch;
    double lambda_max = 0;
    for (int it = 0; it < iterations; ++it) {
      hessian_vector(*kernel, shard(i), model.lambda, theta, v, hv, scratch);
      lambda_max = std::fabs(cpu::dot(v.data(), hv.data(), n));
      v.swap(hv);
      normalise(v);
    }
    mine[i] = lambda_max;
  });

  // Global: H v = sum_m H_m v, each term in parallel, summed in worker order (over the processes
  // too: every process gets the sum and takes the same next v).
  Smoothness out;
  std::vector<double> v = random_unit(n, 0x5eed);
  std::vector<std::vector<double>> parts(count, std::vector<double>(n));
  std::vector<std::vector<double>> scratch(count);
  for (int it = 0; it < iterations; ++it) {
    pool.parallel_for(count, [&](std::size_t i) {
      hessian_vector(*kernel, shard(i), model.lambda, theta, v, parts[i], scratch[i]);
    });
    OrderedSum sum(group, M, n);
    for (const auto& p : parts) sum.add(p.data());
    std::vector<double> total = sum.finish(OrderedSum::Deliver::Everywhere);
    out.global = std::fabs(cpu::dot(v.data(), total.data(), n));
    v.swap(total);
    normalise(v);
  }
  out.worker = gather_workers(group, M, mine);
  return out;
}

Smoothness model_smoothness(const Dataset<double>& data, const ModelSpec& model,
                            const std::vector<double>& theta, ThreadPool& pool) {
  return model_smoothness(data, model, theta, pool, single_process());
}

Smoothness model_smoothness(const Dataset<double>& data, const ModelSpec& model,
                            const std::vector<double>& theta, ThreadPool& pool,
                            ProcessGroup& group) {
  return model.kind == ModelKind::Mlp ? estimate_curvature(data, model, theta, pool, group)
                                      : smoothness_constants(data, model, group);
}

}  // namespace lag
