// CPU backend with the in-process transport: M logical workers on a thread pool, sharing memory
// with the server, so no bytes cross a device or network boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/loss_kernels.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"

namespace lag {

template <class T>
class CpuCluster final : public Cluster<T> {
 public:
  // `data` and `pool` must outlive the cluster; model.classes (and hidden) must be set for the
  // multi-class models.
  CpuCluster(const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool);

  int workers() const override { return static_cast<int>(workers_.size()); }
  std::size_t dim() const override { return dim_; }
  void reset(const std::vector<double>& theta0) override;
  void compute(const Flags& selected) override;
  void trigger(double tau, const Flags& selected, Flags& fire) override;
  void stale_distances(std::vector<double>& out) override;
  Evaluation evaluate() override;
  void upload(const Flags& senders, bool replace) override;
  double step(double step_size) override;
  std::vector<T> theta() const override { return theta_; }
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override { up = down = 0; }

  // Rows per gradient task. Fixed (never derived from the thread count) so that the partial
  // sums, and therefore the bits of every result, are the same for any number of threads.
  static constexpr std::size_t kChunkRows = 4096;

 private:
  struct Worker {
    const Shard<T>* shard = nullptr;
    std::size_t first_chunk = 0;  // index of its first task in partials_
    std::size_t chunks = 0;
    std::vector<T> g, g_hat, delta, theta_hat;
    double loss = 0;
    double delta_norm2 = 0;
    bool fresh = false;  // g and loss are at the current theta
  };

  // g_m and L_m(theta) for the listed workers, chunk-parallel, fixed-order chunk reduction.
  void compute_gradients(const std::vector<int>& which);

  const Dataset<T>& data_;
  ModelSpec model_;
  ThreadPool& pool_;
  std::unique_ptr<cpu::LossKernel<T>> kernel_;
  std::size_t dim_;                      // parameters
  std::vector<std::vector<T>> scratch_;  // one per pool thread
  std::vector<Worker> workers_;
  std::vector<T> partials_;  // one dim-vector per chunk (used by workers with > 1 chunk)
  std::vector<double> partial_loss_;
  std::vector<T> theta_, aggregate_, eval_grad_;
};

}  // namespace lag
