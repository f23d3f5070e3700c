// The CPU backend's workers: each holds its shard, its fresh gradient g, its last uploaded
// gradient g_hat and the delta between them, and computes on a shared thread pool. The server
// side and the exchange live in the clusters that own workers (CpuCluster in one process,
// MpiCluster across processes).
#pragma once

#include <memory>
#include <vector>

#include "cpu/loss_kernels.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"

namespace lag {

template <class T>
class CpuWorkers {
 public:
  // Rows per gradient task. Fixed (never derived from the thread count) so that the partial
  // sums, and therefore the bits of every result, are the same for any number of threads.
  static constexpr std::size_t kChunkRows = 4096;

  // `shards` and `pool` must outlive the workers; model.classes (and hidden) must be set for the
  // multi-class models.
  CpuWorkers(std::vector<const Shard<T>*> shards, std::size_t features, const ModelSpec& model,
             ThreadPool& pool);

  std::size_t count() const { return workers_.size(); }
  std::size_t params() const { return params_; }

  // g_hat = 0; nothing fresh.
  void reset();
  // For the listed workers (indices into this set): g = grad L_i(theta), loss = L_i(theta),
  // delta = g - g_hat and ||delta||^2; chunk-parallel with a fixed-order chunk reduction.
  void compute(const std::vector<int>& which, const T* theta);
  // Compute the workers that are not fresh (monitoring: g of a worker that does not upload this
  // round is scratch, so this changes nothing the run depends on).
  void compute_missing(const T* theta);
  // After a step: no result is at the new theta.
  void mark_stale();
  // g_hat <- g (a swap; g becomes scratch).
  void commit(std::size_t i) { std::swap(workers_[i].g_hat, workers_[i].g); }

  const std::vector<T>& g(std::size_t i) const { return workers_[i].g; }
  const std::vector<T>& delta(std::size_t i) const { return workers_[i].delta; }
  double loss(std::size_t i) const { return workers_[i].loss; }
  double delta_norm2(std::size_t i) const { return workers_[i].delta_norm2; }
  bool fresh(std::size_t i) const { return workers_[i].fresh; }

 private:
  struct Worker {
    const Shard<T>* shard = nullptr;
    std::size_t first_chunk = 0;  // index of its first task in partials_
    std::size_t chunks = 0;
    std::vector<T> g, g_hat, delta;
    double loss = 0;
    double delta_norm2 = 0;
    bool fresh = false;  // g and loss are at the current theta
  };

  ModelSpec model_;
  ThreadPool& pool_;
  std::unique_ptr<cpu::LossKernel<T>> kernel_;
  std::size_t params_;
  std::vector<std::vector<T>> scratch_;  // one per pool thread
  std::vector<Worker> workers_;
  std::vector<T> partials_;  // one vector per chunk (used by workers with > 1 chunk)
  std::vector<double> partial_loss_;
};

}  // namespace lag
