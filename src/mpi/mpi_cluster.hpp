// The CPU backend with the MPI transport: one engine per rank (SPMD), each over its local
// workers; rank 0 hosts the server. Results are bit-identical to CpuCluster in one process: the
// workers compute the same bits at the same theta, and rank 0 adds the uploads in global worker
// order (workers sit on ranks in contiguous blocks, see worker_blocks.hpp).
//
// Per iteration on the wire (R ranks, M workers, d parameters of sizeof(T) bytes):
//   step       theta^{k+1} || ||theta^{k+1} - theta^k||^2 from rank 0 to all (one MPI_Ibcast):
//              every replica is current for the next compute, and every engine gets the step
//              norm that its threshold tau needs
//   trigger    LAG-WK: one MPI_Iallreduce (MAX) over the M flag bytes
//   ps_select  LAG-PS: rank 0's M flag bytes by MPI_Ibcast
//   upload     each rank with senders sends ONE message to rank 0: its senders' vectors packed in
//              worker order; ranks without senders send nothing, and rank 0 expects nothing
// Physical bytes (take_physical_bytes) are the payload of these operations counted for the whole
// job, the same numbers on every rank (all are known from agreed flags): a broadcast of n bytes
// counts n down for each of the R - 1 other ranks, the flag all-reduce M up and M down for each
// of them, an upload its packed size up. Evaluation (monitoring) and agree() are not counted,
// as in the other backends.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/cpu_workers.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"
#include "mpi/fault_injection.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi/worker_blocks.hpp"

namespace lag {

template <class T>
class MpiCluster final : public Cluster<T> {
 public:
  // `data` holds all M shards (only this rank's block is read); `session`, `data` and `pool`
  // must outlive the cluster. Throws lag::Error when M < R or a message would be too large.
  MpiCluster(MpiSession& session, const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool);

  int workers() const override { return workers_total_; }
  std::size_t dim() const override { return local_.params(); }
  void reset(const std::vector<double>& theta0) override;
  void compute(const Flags& selected) override;
  void trigger(double tau, const Flags& selected, Flags& fire) override;
  void ps_select(double tau, const std::vector<double>& worker_smoothness,
                 Flags& selected) override;
  Evaluation evaluate() override;
  void upload(const Flags& senders, bool replace) override;
  double step(double step_size) override;
  // Rank 0: the server's theta; other ranks: their replica, current after every step.
  std::vector<T> theta() const override { return theta_; }
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override;
  bool agree(bool value) override;

 private:
  bool server() const { return session_.rank() == 0; }
  std::uint64_t others() const { return static_cast<std::uint64_t>(session_.size() - 1); }
  std::size_t vector_bytes() const { return local_.params() * sizeof(T); }

  MpiSession& session_;
  int workers_total_;
  mpi::WorkerBlock block_;  // this rank's workers
  CpuWorkers<T> local_;     // indexed from 0: local i is global worker block_.first + i
  std::vector<T> theta_;    // rank 0: theta^k; elsewhere the replica
  // Rank 0 only: the server's state and the receive buffer of each rank's uploads.
  std::vector<T> aggregate_;
  std::vector<std::vector<T>> theta_hat_;
  std::vector<std::vector<T>> inbox_;
  std::vector<T> outbox_;                // this rank's packed uploads
  std::vector<unsigned char> step_msg_;  // theta || change2
  std::vector<unsigned char> eval_msg_;  // running loss || running gradient sum
  std::vector<T> eval_grad_;
  std::uint64_t physical_up_ = 0, physical_down_ = 0;
  std::int64_t iterations_ = 0;  // compute() calls, for the fault injection
  mpi::FaultInjection fault_;
};

}  // namespace lag
