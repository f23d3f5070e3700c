// The seam between the engine and where the vectors live (backend + transport; see
// docs/architecture.md §4).
//
// A Cluster holds the server (theta^k, the aggregate gradient, theta_hat_m for LAG-PS) and the
// M workers (shard, fresh gradient g_m, last uploaded gradient g_hat_m, delta_m = g_m - g_hat_m).
// The engine drives it one step at a time and sees only scalars and per-worker flags, so the
// same engine loop runs on CPU threads, GPUs, or ranks of an MPI job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lag/error.hpp"
#include "lag/ledger.hpp"

namespace lag {

using Flags = std::vector<std::uint8_t>;  // one entry per worker, 0 or 1

// What the workers do in one iteration's exchange (the engine decides it per algorithm and
// iteration; docs/architecture.md §2):
//   trigger  None: every selected worker uploads. LagWk: ||delta_m||^2 > tau. LasgWk: the change
//            of the worker's minibatch gradient since its last upload, measured on this round's
//            minibatch, ||grad l(theta^k; xi) - grad l(theta_hat_m; xi)||^2 > tau, or the worker
//            has not uploaded for max_skip iterations (then delta_m is sent). Laq: the quantized
//            innovation's ||v_m||^2 >= tau + 3 (eps_m + eps_hat_m), or the worker has not uploaded
//            for max_skip iterations; one whose radius is 0 (Q_m = q_hat_m) then sends its flag
//            only: it does not fire, but commits (eps_hat_m = eps_m, its skips to 0). Clag:
//            ||delta_m||^2 > zeta ||g_m - g_prev_m||^2. A forced round (iteration 1) uploads every
//            selected worker but keeps the rule's bookkeeping.
//   upload   Delta: delta_m = g_m - g_hat_m (then g_hat_m = g_m). Gradient: g_m, replacing the
//            aggregate (GD). Quantized: LAQ's codes and radius (then g_hat_m = Q_m, the worker's
//            quantized gradient). TopK: the top_k largest coordinates of delta_m and their indices
//            (then g_hat_m += that).
struct Round {
  enum class Trigger { None, LagWk, LasgWk, Laq, Clag };
  enum class Upload { Delta, Gradient, Quantized, TopK };
  Trigger trigger = Trigger::None;
  Upload upload = Upload::Delta;
  bool forced = false;        // every selected worker uploads; the rule's state still moves
  double tau = 0.0;           // LagWk, LasgWk, Laq
  int bits = 4;               // Quantized
  std::int64_t max_skip = 0;  // Laq, LasgWk: 0 never forces an upload
  std::size_t top_k = 0;      // TopK
  double zeta = 0.0;          // Clag
  // Bytes one worker's upload puts on the wire for d parameters of `value_bytes` each:
  // Delta/Gradient d values; Quantized the radius and ceil(bits d / 8) bytes of codes; TopK
  // top_k values and top_k 32-bit indices.
  std::size_t payload_bytes(std::size_t d, std::size_t value_bytes) const {
    switch (upload) {
      case Upload::Quantized:
        return value_bytes + (d * static_cast<std::size_t>(bits) + 7) / 8;
      case Upload::TopK:
        return top_k * (value_bytes + sizeof(std::uint32_t));
      default:
        return d * value_bytes;
    }
  }
  // The largest compressed payload for d parameters (LAQ at 16 bits, or Top-k with k = d).
  static std::size_t largest_compressed_bytes(std::size_t d, std::size_t value_bytes) {
    const std::size_t quantized = value_bytes + 2 * d, top = d * (value_bytes + 4);
    return quantized > top ? quantized : top;
  }
};

// How the workers compute in a run: on their whole shards (batch 0), or on minibatches of `batch`
// rows drawn by MinibatchSampler(rows, batch, seed, global worker index) (lag/sampler.hpp). A
// minibatch gradient is scaled by rows / batch, so that it estimates the shard's gradient (our
// losses are sums over rows), and the regulariser is added once, as for the whole shard.
struct Sampling {
  std::size_t batch = 0;
  std::uint64_t seed = 0;
};

// The part of a run's state that a cluster holds on this process, in host memory: what a
// checkpoint saves and a resumed run restores (docs/architecture.md §6). Fresh gradients and
// deltas are not state: after a step no worker's result is at the new theta.
template <class T>
struct ClusterState {
  std::vector<T> theta;      // the server's theta^k on rank 0; the replica of it elsewhere
  std::vector<T> aggregate;  // rank 0: the aggregate gradient (empty elsewhere)
  std::vector<T> theta_hat;  // rank 0: theta_hat_m of every worker, M vectors (empty elsewhere)
  std::vector<T> g_hat;      // this process's workers' g_hat, one vector each, in worker order
  std::vector<T> g_prev;     // ... and their last fresh gradients (CLAG's rule)
  std::vector<T> worker_theta_hat;  // ... and the iterates of their last uploads (LASG-WK's rule)
  // ... and per worker kWorkerScalars: LAQ's eps_hat, the rounds skipped in a row (LAQ,
  // LASG-WK), the rows its minibatch sampler has drawn.
  std::vector<double> worker_scalars;
  static constexpr std::size_t kWorkerScalars = 3;
};

struct Evaluation {
  double loss = 0.0;       // L(theta^k) = sum_m L_m(theta^k)
  double grad_norm = 0.0;  // ||grad L(theta^k)||, the true gradient (not the stale aggregate)
};

template <class T>
class Cluster {
 public:
  virtual ~Cluster() = default;

  virtual int workers() const = 0;
  virtual std::size_t dim() const = 0;

  // theta = theta0 (zeros when empty), aggregate = 0, g_hat_m = 0, theta_hat_m = theta0;
  // traffic counters to zero; the workers compute as `sampling` says from now on (their samplers
  // at the start of their streams).
  virtual void reset(const std::vector<double>& theta0, const Sampling& sampling) = 0;
  // Selected workers receive theta^k and compute g_m = grad L_m(theta^k), L_m(theta^k) and
  // ||delta_m||^2 with delta_m = g_m - g_hat_m.
  virtual void compute(const Flags& selected) = 0;
  // The round's rule, evaluated where the worker lives (Round): fire[m] = selected[m] && the
  // rule fires (for Trigger::None or a forced round, fire = selected). The workers also prepare
  // what they would upload (LAQ's codes, Top-k's coordinates).
  virtual void trigger(const Round& round, const Flags& selected, Flags& fire) = 0;
  // LAG-PS's and LASG-PS's half of plan and compute, in one call: the server applies the rule
  // where theta_hat_m lives, selected[m] = forced[m] || ps_fires(worker_smoothness[m],
  // ||theta_hat_m - theta^k||^2, tau), and the selected workers compute as compute(selected)
  // does. (`forced`, the same on every process: LASG-PS's workers skipped too long.)
  virtual void select_and_compute(double tau, const std::vector<double>& worker_smoothness,
                                  const Flags& forced, Flags& selected) = 0;
  // Loss and true gradient norm at theta^k. Workers that computed at theta^k this round reuse
  // their results; the others compute for monitoring only (no state changes, not in the ledger).
  virtual Evaluation evaluate() = 0;
  // Senders upload the round's payload (Round::Upload), which the server adds to the aggregate in
  // worker order (with Upload::Gradient, GD: aggregate = sum_m g_m). Then each sender's g_hat_m
  // moves as the payload says and theta_hat_m <- theta^k.
  virtual void upload(const Flags& senders, const Round& round) = 0;
  // theta^{k+1} = theta^k - step * aggregate; returns ||theta^{k+1} - theta^k||^2.
  virtual double step(double step_size) = 0;
  // The exchange half of an iteration, in one call: trigger(round, selected, fire);
  // upload(fire, round); returns step(step_size). A backend that can do all of it in one round
  // trip (a CUDA graph on one GPU) overrides it; the results must be those of the three calls.
  virtual double exchange(const Round& round, const Flags& selected, double step_size,
                          Flags& fire) {
    trigger(round, selected, fire);
    upload(fire, round);
    return step(step_size);
  }
  // This process's part of the run's state (between iterations: after a step, before the next
  // compute), and the same put back after reset(); restore_state throws lag::Error when the
  // sizes are not this cluster's. A cluster that cannot checkpoint throws from both.
  virtual ClusterState<T> save_state() { throw Error("this cluster cannot save its state"); }
  virtual void restore_state(const ClusterState<T>&) {
    throw Error("this cluster cannot restore a saved state");
  }
  // Copy of the server's theta (length dim(): the model's parameter count).
  virtual std::vector<T> theta() const = 0;
  // Bytes that crossed a device or network boundary since the last call (then reset).
  virtual void take_physical_bytes(std::uint64_t& up, std::uint64_t& down) = 0;
  // The server's `value` on every process. SPMD runs (one engine per MPI rank) must take the
  // same decisions; the only one that depends on local state is the wall-clock time limit.
  // Within one process there is nothing to agree on.
  [[nodiscard]] virtual bool agree(bool value) { return value; }
  // The element-wise maximum of every process's `n` values, on every process (decisions that any
  // rank may trigger, such as a signal it received). Within one process: the values as they are.
  virtual void agree_max(double* /*values*/, int /*n*/) {}
};

}  // namespace lag
