// The CUDA backend with the MPI job as transport: one engine and one GPU per rank (SPMD), the
// rank's block of workers (worker_blocks.hpp) on that GPU, rank 0 the server. The GPU data moves
// by NCCL over a communicator bootstrapped through MPI (nccl_job.hpp); MPI itself carries only
// host values (the NCCL id, the evaluation's scalars, the time-limit decision).
//
// Per iteration, the protocol of MpiCluster with NCCL operations on each rank's stream:
//   step       theta^{k+1} and ||theta^{k+1} - theta^k||^2 from rank 0 to all (two
//              ncclBroadcasts in one group): every replica is current for the next compute, and
//              every engine gets the step norm its threshold tau needs
//   trigger    LAG-WK: each rank evaluates its workers' rule on its GPU; one ncclAllReduce (MAX)
//              over the M flag bytes agrees them
//   ps_select  LAG-PS: rank 0 evaluates the rule on its GPU; ncclBroadcast of the M flag bytes
//   upload     each rank with senders ncclSends ONE buffer to rank 0, its senders' vectors packed
//              in worker order; rank 0 posts an ncclRecv only for the ranks that send (every rank
//              knows the agreed flags) and adds the vectors in global worker order
// Rank 0 adds one vector at a time, in worker order, with the kernel and order of CudaCluster on
// one GPU: the same worker on the same kind of GPU computes the same bits, so R ranks give the
// single-GPU run's iterates and decisions. Physical bytes are counted as in MpiCluster (the
// payload handed to NCCL, for the whole job, the same numbers on every rank).
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
#include "mpi/fault_injection.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi/nccl_job.hpp"
#include "mpi/worker_blocks.hpp"

namespace lag {

template <class T>
class MpiCudaCluster final : public Cluster<T> {
 public:
  // Collective: every rank constructs its cluster at the same point. `data` holds all M shards
  // (only this rank's block is copied to `device`). With `graphs`, a round in which every local
  // worker computes is replayed from a CUDA graph. Throws lag::Error when M < R.
  MpiCudaCluster(MpiSession& session, const Dataset<T>& data, const ModelSpec& model, int device,
                 bool graphs = true);
  ~MpiCudaCluster() override;

  int workers() const override { return workers_total_; }
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
  // Rank 0: the server's theta; other ranks: their replica, current after every step.
  std::vector<T> theta() const override;
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override;
  bool agree(bool value) override;

 private:
  void ps_select(double tau, const std::vector<double>& worker_smoothness, Flags& selected);
  struct Worker {
    std::size_t rows = 0;
    cuda::DeviceBuffer<T> x, y, g, g_hat, delta;
    cuda::DeviceBuffer<double> loss_parts;  // see DeviceLoss::gradient
    bool fresh = false;                     // g computed at the current theta
  };

  bool server() const { return session_.rank() == 0; }
  int ranks() const { return session_.size(); }
  std::uint64_t others() const { return static_cast<std::uint64_t>(session_.size() - 1); }
  ncclDataType_t nccl_type() const;
  void enqueue_worker(std::size_t i);  // gradient and delta of local worker i
  void compute_local(const std::vector<std::size_t>& which);
  void compute_all_with_graph();
  void warm_up();
  void wait(const char* during, int peer = -1) const;

  MpiSession& session_;
  int workers_total_;
  mpi::WorkerBlock block_;  // this rank's workers: local i is global worker block_.first + i
  std::size_t params_;
  int device_;
  bool graphs_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cuda::DeviceBuffer<unsigned char> cublas_workspace_;  // fixed, so that captures never allocate
  std::unique_ptr<cuda::DeviceLoss<T>> loss_;
  cudaGraphExec_t all_workers_ = nullptr;
  std::vector<Worker> workers_;
  cuda::DeviceBuffer<T> theta_;           // rank 0: theta^k; elsewhere the replica
  cuda::DeviceBuffer<T> outbox_;          // this rank's senders' vectors, packed
  cuda::DeviceBuffer<T> eval_;            // the evaluation's running gradient sum
  cuda::DeviceBuffer<double> norms_;      // ||delta_m||^2 at global index m (this rank's m only)
  cuda::DeviceBuffer<double> scalars_;    // change2, grad norm2, M stale distances, M L_m
  cuda::DeviceBuffer<double> workspace_;  // of the reductions
  cuda::DeviceBuffer<std::uint8_t> selected_, fire_;  // M flags each
  // Rank 0 only: the server's state and each rank's receive buffer.
  cuda::DeviceBuffer<T> aggregate_, theta_hat_;  // theta_hat_: M vectors
  std::vector<cuda::DeviceBuffer<T>> inbox_;
  // Host ends of the copies (pinned, so that a copy never blocks and every wait is polled).
  cuda::PinnedBuffer<std::uint8_t> host_flags_;  // M in, M out
  cuda::PinnedBuffer<double> host_scalars_;      // as scalars_, then 2 per local worker
  mutable cuda::PinnedBuffer<T> host_theta_;
  std::uint64_t physical_up_ = 0, physical_down_ = 0;
  std::int64_t iterations_ = 0;  // compute() calls, for the fault injection
  mpi::FaultInjection fault_;
  // Last: destroyed first, while the buffers its operations used still exist.
  std::unique_ptr<mpi::NcclJob> nccl_;
};

}  // namespace lag
