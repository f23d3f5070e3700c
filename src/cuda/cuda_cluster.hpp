// CUDA backend with the NCCL transport: M logical workers mapped round-robin onto the GPUs, the
// server on the first GPU. Each iteration theta goes out by ncclBroadcast, the LAG-WK trigger is
// evaluated on each worker's GPU and the flags agreed by one tiny ncclAllReduce, and only the
// GPUs with triggered workers ncclSend their (pre-summed) delta to the server, which posts
// ncclRecv only for those. Workers on the server's GPU add their deltas directly, in worker order.
//
// With graphs on one GPU an iteration is two graph launches and one wait: the compute graph
// (every worker's gradient and delta; for a linear or logistic model, batched: two launches for
// up to 16 workers' gradients and one for their deltas) and the exchange graph (trigger, masked
// aggregation, commits and step, see kernels/exchange.cuh), whose inputs and outputs live in
// host-mapped memory. LAG-PS adds one graph and wait, which selects and computes (the jobs run
// on the device's flags); the IAGs compute from a graph whose jobs run on flags in host-mapped
// memory.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cuda/device_buffer.hpp"
#include "cuda/device_loss.hpp"
#include "cuda/pinned_buffer.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"

namespace lag {

// Device indices visible to this process (empty without a usable driver and device).
std::vector<int> visible_cuda_devices();

template <class T>
class CudaCluster final : public Cluster<T> {
 public:
  // Copies each worker's shard to its GPU. `devices` lists CUDA device indices (distinct).
  // With `graphs`, a round in which every worker computes is replayed from a CUDA graph per
  // device (captured on first use): one launch instead of a few per worker, which is what
  // dominates small problems; on one device the exchange is a graph too (see exchange()).
  CudaCluster(const Dataset<T>& data, const ModelSpec& model, const std::vector<int>& devices,
              bool graphs = true);
  ~CudaCluster() override;

  int workers() const override { return static_cast<int>(workers_.size()); }
  std::size_t dim() const override { return params_; }
  void reset(const std::vector<double>& theta0) override;
  void compute(const Flags& selected) override;
  void trigger(double tau, const Flags& selected, Flags& fire) override;
  void select_and_compute(double tau, const std::vector<double>& worker_smoothness,
                          Flags& selected) override {
    ps_select(tau, worker_smoothness, selected);
    compute(selected);
  }
  Evaluation evaluate() override;
  void upload(const Flags& senders, bool replace) override;
  double step(double step_size) override;
  // On one device with graphs: one replay of a captured graph per (use_trigger, replace,
  // step_size) and one wait; otherwise trigger, upload and step.
  double exchange(bool use_trigger, double tau, const Flags& selected, bool replace,
                  double step_size, Flags& fire) override;
  std::vector<T> theta() const override;
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override;

  // Which worker lives on which device slot (index into the devices list).
  int device_slot_of(int worker) const { return workers_[worker].slot; }

 private:
  void ps_select(double tau, const std::vector<double>& worker_smoothness, Flags& selected);
  struct Device {
    int id = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    ncclComm_t comm = nullptr;
    cuda::DeviceBuffer<T> theta;       // replica of theta (slot 0: the server's own)
    cuda::DeviceBuffer<T> send;        // pre-summed uploads of this device's senders
    cuda::DeviceBuffer<double> norms;  // ||delta_m||^2 for the workers on this device (index m)
    cuda::DeviceBuffer<std::uint8_t> selected, fire;  // M flags each
    cuda::DeviceBuffer<double> workspace;
    cuda::DeviceBuffer<unsigned char> cublas_workspace;  // fixed, so that captures never allocate
    std::unique_ptr<cuda::DeviceLoss<T>> loss;           // softmax/MLP: shared scratch
    cudaGraphExec_t all_workers = nullptr;               // every worker of this device computes
    cudaGraphExec_t flagged_workers = nullptr;           // those flagged in the mirror (one device)
  };
  struct Worker {
    int slot = 0;  // device slot
    std::size_t rows = 0;
    cuda::DeviceBuffer<T> x, y, g, g_hat, delta;
    cuda::DeviceBuffer<double> loss_parts;  // see DeviceLoss::gradient
    // Linear and logistic models: the worker's own fused-gradient and reduction workspaces, so
    // that the workers of a device can be batched into one launch.
    std::unique_ptr<cuda::DeviceLoss<T>> loss;
    cuda::DeviceBuffer<double> workspace;
    bool fresh = false;
  };
  struct ExchangeGraph {
    bool use_trigger = false, replace = false;
    double step_size = 0;
    cudaGraphExec_t exec = nullptr;
  };

  void broadcast_theta();
  void compute_workers(const std::vector<int>& which);
  void enqueue_worker(std::size_t m);  // gradient and delta of worker m on its device's stream
  // The same for linear/logistic workers, batched; with `run_if`, worker m's jobs run only if
  // run_if[m] != 0 when they execute. Unlike enqueue_worker, it does not mark them fresh.
  void enqueue_batched(const std::vector<std::size_t>& workers,
                       const std::uint8_t* run_if = nullptr);
  void compute_flagged_with_graph(const Flags& selected);
  bool one_device_graphs() const;
  void compute_all_with_graphs();
  void capture_all_workers(std::size_t slot);
  cudaGraphExec_t exchange_graph(bool use_trigger, bool replace, double step_size);
  bool concurrent_workers() const;
  void synchronize_all();
  void check_async_errors();
  Device& server() { return devices_.front(); }
  ncclDataType_t nccl_type() const;

  std::size_t params_;
  std::vector<Device> devices_;
  std::vector<Worker> workers_;
  // Server state (on the first device).
  cuda::DeviceBuffer<T> aggregate_, theta_hat_, eval_;
  std::vector<cuda::DeviceBuffer<T>> recv_;    // one per remote device
  cuda::DeviceBuffer<double> scalars_;         // change2, grad norm2, M stale distances, M L_m
  cuda::DeviceBuffer<double> rows_workspace_;  // the stale distances' reduction workspace
  std::vector<double> smoothness_on_device_;   // the L_m in scalars_, as last uploaded
  bool replicas_current_ = false;
  bool graphs_ = true;
  std::uint64_t physical_up_ = 0, physical_down_ = 0;
  Flags host_flags_;
  // The one-device exchange graph: worker-vector pointer tables, and its host-mapped inputs
  // and outputs (tau, change2, selected[M], fire[M]; offsets in cuda_cluster.cpp).
  ModelKind kind_;
  cuda::DeviceBuffer<const T*> g_table_, delta_table_;
  cuda::DeviceBuffer<T*> g_hat_table_;
  cuda::PinnedBuffer<unsigned char> mirror_;  // mapped
  std::vector<ExchangeGraph> exchange_graphs_;
  cudaGraphExec_t ps_graph_ = nullptr;  // stale distances, the LAG-PS rule, its workers' compute
  Flags precomputed_;  // the selection ps_select's replay computed at the current theta
};

}  // namespace lag
