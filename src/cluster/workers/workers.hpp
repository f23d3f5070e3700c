// The workers of one rank (docs/architecture.md §4): each holds its shard, its fresh gradient
// g_i, its last uploaded gradient g_hat_i and delta_i = g_i - g_hat_i, computes them, and
// evaluates the LAG-WK rule where it lives. Implemented once for CPU threads (CpuWorkers) and
// once for the workers of one GPU (CudaWorkers, with batched launches and CUDA graphs). Indices
// are local: worker i of a rank whose block starts at global worker `first` is global worker
// first + i. Vectors live in the memory space of the rank's wire (wire.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lag/cluster.hpp"

namespace lag {

template <class T>
class Workers {
 public:
  virtual ~Workers() = default;

  virtual std::size_t count() const = 0;
  virtual std::size_t params() const = 0;

  // g_hat = 0 for every worker; nothing fresh. The workers compute as `sampling` says
  // (lag/cluster.hpp): worker i's sampler is that of global worker first + i, at its start.
  virtual void reset(const Sampling& sampling, std::size_t first) = 0;
  // Checkpoints, between iterations: the workers' state (ClusterState's g_hat, g_prev and
  // worker_scalars, count() entries each in worker order) copied to the host and back (complete
  // on return).
  virtual void save(ClusterState<T>& state) = 0;
  virtual void load(const ClusterState<T>& state) = 0;
  // The workers with selected[i] != 0 compute, at `theta`: g_i, L_i(theta), delta_i and
  // ||delta_i||^2 (with minibatches: each draws its next minibatch and g_i is the gradient on it,
  // scaled as Sampling says). `theta` stays valid until the step (commit reads it).
  virtual void compute(const Flags& selected, const T* theta) = 0;
  // Every worker's loss and gradient on its whole shard at `theta` (monitoring: without
  // minibatches, the workers that are not fresh compute, as g of a worker that does not upload
  // this round is scratch; with minibatches into buffers of their own). Changes nothing the run
  // depends on.
  virtual void compute_missing(const T* theta) = 0;
  // After a step: no result is at the new theta.
  virtual void mark_stale() = 0;
  // The selected workers prepare the round (Round): LAQ quantizes, Top-k selects, CLAG measures
  // ||g_i - g_prev_i||^2 and keeps g_i as g_prev_i, LASG-WK computes the gradient at theta_hat_i
  // on the round's minibatch. Nothing for LAG's rounds.
  virtual void prepare(const Round& round, const Flags& selected) = 0;
  // The round's rule (after prepare): flags[first + i] = selected[i] && the rule fires; the other
  // of the `total` bytes at `flags` are set to 0, so that an element-wise maximum over the ranks
  // leaves every flag as its owner set it. LAQ counts the rounds each worker skips.
  virtual void trigger(const Round& round, const Flags& selected, std::uint8_t* flags,
                       std::size_t first, std::size_t total) = 0;
  // What worker i uploads in the round: round.payload_bytes(params(), sizeof(T)) bytes.
  virtual const void* upload_payload(std::size_t i, const Round& round) const = 0;
  // The payloads of the workers with senders[i] != 0, one after another in worker order: one
  // message for the rank. (Not their sum: the server adds them one by one in worker order, so
  // that the sum is the single-process sum bit for bit.)
  virtual const void* pack(const Flags& senders, const Round& round) = 0;
  // Worker i uploaded: g_hat_i moves as the round's payload says (Round), ordered after every use
  // of the worker's vectors posted so far; in LASG-WK's rounds theta_hat_i <- the theta it
  // computed at.
  virtual void commit(std::size_t i, const Round& round) = 0;
  // sum += every worker's whole-shard gradient, in worker order (the evaluation's full gradient,
  // after compute_missing).
  virtual void add_gradients(T* sum) = 0;
  // Worker i's loss as a record of loss_record_size() doubles in the memory space, and the loss
  // from its copy on the host (a GPU worker keeps partial sums that the host finishes).
  virtual std::size_t loss_record_size() const = 0;
  virtual const double* loss_record(std::size_t i) const = 0;
  virtual double loss(std::size_t i, const double* record) const = 0;
};

}  // namespace lag
