// The workers of one rank on one GPU (workers.hpp). Linear and logistic workers own their
// scratch, so they are batched: two launches for up to 16 workers' gradients and one for their
// deltas. Softmax and MLP workers share the device's scratch and run one after another.
//
// With graphs, a round in which every worker computes (GD, LAG-WK, iteration 1) is one replay of
// a captured graph, and for linear and logistic models so is any other selection (LAG-PS, the
// IAGs): one graph holds every worker's jobs, each run only if its flag in host-mapped memory is
// set. The graphs hold fixed pointers, which is why commit() copies g into g_hat instead of
// swapping them when graphs are on.
//
// Minibatches (Sampling): each worker's rows are drawn on the host by the same MinibatchSampler
// as on the CPU, their indices uploaded, and the rows gathered on the device into a batch of the
// worker's own (kernels/gather.cuh), on which the same gradient code runs, scaled as Sampling
// says. Such rounds run one worker after another, outside the graphs. LASG-WK's gradient at
// theta_hat_m is computed on the same batch, and its rule runs on the device.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "cluster/device_context.hpp"
#include "cluster/workers/workers.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/pinned_buffer.hpp"
#include "exchange.cuh"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/sampler.hpp"
#include "model/device_loss.hpp"

namespace lag {

template <class T>
class CudaWorkers final : public Workers<T> {
 public:
  // Copies each shard to the context's device. `shards` need not outlive the workers; `context`
  // must.
  CudaWorkers(const std::vector<const Shard<T>*>& shards, std::size_t features,
              const ModelSpec& model, cuda::DeviceContext& context, bool graphs);
  ~CudaWorkers() override;

  std::size_t count() const override { return workers_.size(); }
  std::size_t params() const override { return params_; }
  void reset(const Sampling& sampling, std::size_t first) override;
  void save(ClusterState<T>& state) override;
  void load(const ClusterState<T>& state) override;
  void compute(const Flags& selected, const T* theta) override;
  void compute_missing(const T* theta) override;
  void mark_stale() override;
  // LAQ quantizes and Top-k selects on the device (kernels/compress.cuh), LASG-WK computes its
  // gradient at theta_hat, one worker after another; the rules run on the device too.
  void prepare(const Round& round, const Flags& selected) override;
  void trigger(const Round& round, const Flags& selected, std::uint8_t* flags, std::size_t first,
               std::size_t total) override;
  const void* upload_payload(std::size_t i, const Round& round) const override;
  const void* pack(const Flags& senders, const Round& round) override;
  void commit(std::size_t i, const Round& round) override;
  void add_gradients(T* sum) override;
  std::size_t loss_record_size() const override { return 2; }
  const double* loss_record(std::size_t i) const override {
    const Worker& w = workers_[i];
    return (w.sampler ? w.full_loss_parts : w.loss_parts).get();
  }
  double loss(std::size_t i, const double* record) const override;

  // For the one-GPU exchange graph (cuda_cluster.hpp): ||delta_i||^2 of every worker (device),
  // and device tables of the workers' vectors (fixed while graphs are on).
  const double* delta_norms() const { return norms_.get(); }
  cuda::WorkerVectors<T> vector_tables() const;
  bool graphs() const { return graphs_; }

 private:
  struct Worker {
    std::size_t rows = 0;
    cuda::DeviceBuffer<T> x, y, g, g_hat, delta;
    cuda::DeviceBuffer<double> loss_parts;  // see DeviceLoss::gradient
    // Linear and logistic models: the worker's own fused-gradient and reduction workspaces.
    std::unique_ptr<cuda::DeviceLoss<T>> loss;
    cuda::DeviceBuffer<double> workspace;
    bool fresh = false;
    // Compressed rounds (allocated at first use): LAQ's Q and innovation v, CLAG's previous
    // gradient, the payload (LAQ's radius and codes, or Top-k's values and indices).
    cuda::DeviceBuffer<T> q, v, g_prev;
    cuda::DeviceBuffer<std::uint8_t> payload;
    bool has_prev = false;
    // Minibatches: the sampler, this round's rows (host) and the batch gathered from them, and
    // the whole-shard gradient and loss of the evaluation. LASG-WK: theta_hat, the gradient at it
    // on the round's batch (h) and its loss.
    std::optional<MinibatchSampler> sampler;
    std::vector<std::uint32_t> batch;
    cuda::DeviceBuffer<T> batch_x, batch_y, full_g, theta_hat, h;
    cuda::DeviceBuffer<double> full_loss_parts, h_loss_parts;
    bool full_fresh = false, has_theta_hat = false;
  };

  void ensure_compression();                           // the shared buffers
  void ensure_buffers(Worker& w, const Round& round);  // what the round needs of worker w

  bool batched() const;
  bool minibatches() const { return !workers_.empty() && workers_[0].sampler.has_value(); }
  cuda::DeviceLoss<T>& loss_of(Worker& w) { return w.loss ? *w.loss : *shared_loss_; }
  double* workspace_of(Worker& w) { return w.loss ? w.workspace.get() : shared_workspace_.get(); }
  // The listed workers draw their next minibatches and gather them on the device.
  void gather_batches(const std::vector<std::size_t>& which);
  // The gradient of worker w at theta on this round's rows (its gathered batch, else its shard)
  // into out and loss_parts.
  void round_gradient(Worker& w, const T* theta, T* out, double* loss_parts);
  void lasg_prepare(const Flags& selected);
  // Gradient and delta of the listed workers; with `run_if` (batched only), worker i's jobs run
  // only if run_if[i] != 0 when they execute.
  void enqueue(const std::vector<std::size_t>& which, const T* theta,
               const std::uint8_t* run_if = nullptr);
  void enqueue_one(std::size_t i, const T* theta);
  void replay(cudaGraphExec_t& graph, const T* theta, const std::uint8_t* run_if);

  cuda::DeviceContext& context_;
  ModelSpec model_;
  ModelKind kind_;
  std::size_t features_, params_;
  bool graphs_;
  std::vector<Worker> workers_;
  std::unique_ptr<cuda::DeviceLoss<T>> shared_loss_;  // softmax/MLP
  cuda::DeviceBuffer<double> shared_workspace_;
  cuda::DeviceBuffer<double> norms_;           // ||delta_i||^2
  cuda::DeviceBuffer<std::uint8_t> selected_;  // trigger's input
  cuda::PinnedBuffer<std::uint8_t> host_selected_;
  cuda::PinnedBuffer<std::uint8_t> run_flags_;  // mapped: the flagged graph's selection
  cuda::DeviceBuffer<std::uint8_t> outbox_;     // pack()'s message
  std::vector<std::uint32_t> host_rows_;        // the round's minibatch rows, worker after worker
  cuda::DeviceBuffer<std::uint32_t> rows_;      // ... on the device
  const T* theta_ = nullptr;  // where the last compute() was (LASG-WK's theta_hat on upload)
  // Compressed rounds: per worker [R, eps, ||v||^2, ||g - g_prev||^2], LAQ's eps_hat and
  // skipped rounds, and the kernels' scratch.
  cuda::DeviceBuffer<double> stats_, eps_hat_, compress_workspace_;
  cuda::DeviceBuffer<long long> skipped_;
  cuda::DeviceBuffer<unsigned char> top_temp_;
  std::size_t top_temp_bytes_ = 0;
  cuda::DeviceBuffer<const T*> g_table_, delta_table_;
  cuda::DeviceBuffer<T*> g_hat_table_;
  const T* graph_theta_ = nullptr;  // the theta the graphs were captured with
  cudaGraphExec_t all_workers_ = nullptr, flagged_workers_ = nullptr;
  std::vector<std::size_t> which_;
};

}  // namespace lag
