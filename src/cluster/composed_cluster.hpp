// One cluster, composed of three parts each written once (docs/architecture.md §4): a rank's
// Workers (CPU threads or one GPU), the Server (host or device memory) and a Wire (one rank
// alone, MPI, or NCCL over MPI). This class is the protocol between them, the only place where
// it is written: who sends what, in which order the server adds it, and how many bytes that puts
// on the wire (the physical bytes of the ledger, counted here for every transport alike).
//
// Every process of an MPI job runs one engine over its own ComposedCluster (SPMD). Workers sit
// on ranks in contiguous blocks (worker_blocks.hpp) and rank 0 is the server. Per iteration, with
// R ranks, M workers and d parameters of sizeof(T) bytes:
//   compute     each rank's selected workers, at its replica of theta^k (nothing moves)
//   trigger     LAG-WK: each rank decides for its own workers; one element-wise maximum over the
//               M flag bytes agrees them (M bytes up and M down for each of the R - 1 other ranks)
//   select      LAG-PS: rank 0 applies the rule; a broadcast of the M flag bytes (M down each)
//   upload      each rank with senders sends rank 0 ONE message, its senders' vectors packed in
//               worker order (their bytes up); rank 0 receives exactly from the ranks that send
//               (every rank knows the agreed flags) and adds its own senders' vectors, then each
//               rank's, one vector at a time: global worker order, the single-process sum bit
//               for bit. Ranks without senders send nothing.
//   step        rank 0 steps; theta^{k+1} and ||theta^{k+1} - theta^k||^2 are broadcast (d
//               sizeof(T) + 8 bytes down for each other rank): the replicas are current for the
//               next compute, and every engine gets the step norm its threshold tau needs
//   evaluate    the full gradient's running sum travels along the ranks in rank order, each
//               adding its workers' gradients (worker order again); the workers' losses are
//               gathered to the last rank and added in worker order. Monitoring: not counted.
// With one rank nothing moves and nothing is counted.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cluster/server/server.hpp"
#include "cluster/transport/wire.hpp"
#include "cluster/workers/workers.hpp"
#include "lag/cluster.hpp"
#include "mpi/worker_blocks.hpp"

namespace lag {

template <class T>
class ComposedCluster : public Cluster<T> {
 public:
  // `context` is what the parts share and must outlive them (a GPU's stream and handles); it is
  // destroyed last. The wire is destroyed first (an NCCL communicator ends its kernels before
  // the memory they use is freed). Throws lag::Error when there are fewer workers than ranks.
  ComposedCluster(int workers, std::shared_ptr<void> context, std::unique_ptr<Workers<T>> local,
                  std::unique_ptr<Server<T>> server, std::unique_ptr<Wire> wire);

  int workers() const override { return workers_total_; }
  std::size_t dim() const override { return params_; }
  void reset(const std::vector<double>& theta0, const Sampling& sampling) override;
  void compute(const Flags& selected) override;
  void select_and_compute(double tau, const std::vector<double>& worker_smoothness,
                          const Flags& forced, Flags& selected) override;
  void trigger(const Round& round, const Flags& selected, Flags& fire) override;
  Evaluation evaluate() override;
  void upload(const Flags& senders, const Round& round) override;
  double step(double step_size) override;
  // Rank 0: the server's theta; other ranks: their replica, current after every step.
  std::vector<T> theta() const override;
  ClusterState<T> save_state() override;
  void restore_state(const ClusterState<T>& state) override;
  void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) override;
  bool agree(bool value) override { return wire_->root_decision(value); }
  void agree_max(double* values, int n) override {
    if (ranks() > 1) wire_->max_host(values, n, "the agreement on whether to stop");
  }

  // The workers' block on this rank.
  mpi::WorkerBlock block() const { return block_; }

 protected:
  bool server_rank() const { return wire_->rank() == 0; }
  int ranks() const { return wire_->size(); }
  // This rank's entries of global flags.
  const Flags& local(const Flags& global);
  Workers<T>& local_workers() { return *workers_; }
  Server<T>& server() { return *server_; }
  Wire& wire() { return *wire_; }

 private:
  std::uint64_t others() const { return static_cast<std::uint64_t>(ranks() - 1); }

  std::shared_ptr<void> context_;
  int workers_total_;
  std::size_t params_;
  mpi::WorkerBlock block_;
  std::unique_ptr<Workers<T>> workers_;
  std::unique_ptr<Server<T>> server_;
  Flags local_flags_;
  std::vector<double> loss_records_, losses_, all_losses_;  // scratch, kept between calls
  std::vector<std::size_t> sending_;
  std::vector<int> rank_of_;  // the rank of each worker
  std::vector<int> block_counts_;
  std::uint64_t physical_up_ = 0, physical_down_ = 0;
  std::unique_ptr<Wire> wire_;  // last: destroyed first
};

}  // namespace lag
