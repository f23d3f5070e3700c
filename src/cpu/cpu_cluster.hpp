// CPU backend with the in-process transport: M logical workers on a thread pool, sharing memory
// with the server, so no bytes cross a device or network boundary.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/cpu_workers.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"

namespace lag {

template <class T>
class CpuCluster final : public Cluster<T> {
 public:
  static constexpr std::size_t kChunkRows = CpuWorkers<T>::kChunkRows;

  // `data` and `pool` must outlive the cluster; model.classes (and hidden) must be set for the
  // multi-class models.
  CpuCluster(const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool);

  int workers() const override { return static_cast<int>(workers_.count()); }
  std::size_t dim() const override { return workers_.params(); }
  void reset(const std::vector<double>& theta0) override;
  void compute(const Flags& selected) override;
  void trigger(double tau, const Flags& selected, Flags& fire) override;
  void ps_select(double tau, const std::vector<double>& worker_smoothness,
                 Flags& selected) override;
  Evaluation evaluate() override;
  void upload(const Flags& senders, bool replace) override;
  double step(double step_size) override;
  std::vector<T> theta() const override { return theta_; }
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override { up = down = 0; }

 private:
  CpuWorkers<T> workers_;
  // The server: theta, the aggregate gradient, theta_hat_m (LAG-PS), the evaluation sum.
  std::vector<T> theta_, aggregate_, eval_grad_;
  std::vector<std::vector<T>> theta_hat_;
};

}  // namespace lag
