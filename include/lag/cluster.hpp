// The seam between the engine and where the vectors live (backend + transport; see
// docs/architecture.md §4).
//
// A Cluster holds the server (theta^k, the aggregate gradient, theta_hat_m for LAG-PS) and the
// M workers (shard, fresh gradient g_m, last uploaded gradient g_hat_m, delta_m = g_m - g_hat_m).
// The engine drives it one step at a time and sees only scalars and per-worker flags, so the
// same engine loop runs on CPU threads, GPUs, or ranks of an MPI job.
#pragma once

#include <cstdint>
#include <vector>

#include "lag/error.hpp"
#include "lag/ledger.hpp"

namespace lag {

using Flags = std::vector<std::uint8_t>;  // one entry per worker, 0 or 1

// The part of a run's state that a cluster holds on this process, in host memory: what a
// checkpoint saves and a resumed run restores (docs/architecture.md §6). Fresh gradients and
// deltas are not state: after a step no worker's result is at the new theta.
template <class T>
struct ClusterState {
  std::vector<T> theta;      // the server's theta^k on rank 0; the replica of it elsewhere
  std::vector<T> aggregate;  // rank 0: the aggregate gradient (empty elsewhere)
  std::vector<T> theta_hat;  // rank 0: theta_hat_m of every worker, M vectors (empty elsewhere)
  std::vector<T> g_hat;      // this process's workers' g_hat, one vector each, in worker order
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
  // traffic counters to zero.
  virtual void reset(const std::vector<double>& theta0) = 0;
  // Selected workers receive theta^k and compute g_m = grad L_m(theta^k), L_m(theta^k) and
  // ||delta_m||^2 with delta_m = g_m - g_hat_m.
  virtual void compute(const Flags& selected) = 0;
  // LAG-WK trigger, evaluated where the worker lives: fire[m] = selected[m] && wk_fires(...).
  virtual void trigger(double tau, const Flags& selected, Flags& fire) = 0;
  // LAG-PS's half of plan and compute, in one call: the server applies the rule where
  // theta_hat_m lives, selected[m] = ps_fires(worker_smoothness[m], ||theta_hat_m - theta^k||^2,
  // tau), and the selected workers compute as compute(selected) does.
  virtual void select_and_compute(double tau, const std::vector<double>& worker_smoothness,
                                  Flags& selected) = 0;
  // Loss and true gradient norm at theta^k. Workers that computed at theta^k this round reuse
  // their results; the others compute for monitoring only (no state changes, not in the ledger).
  virtual Evaluation evaluate() = 0;
  // Senders upload: aggregate += sum_m delta_m in worker order, or, with `replace` (GD: every
  // worker sends its full gradient), aggregate = sum_m g_m. Then g_hat_m <- g_m and
  // theta_hat_m <- theta^k for each sender.
  virtual void upload(const Flags& senders, bool replace) = 0;
  // theta^{k+1} = theta^k - step * aggregate; returns ||theta^{k+1} - theta^k||^2.
  virtual double step(double step_size) = 0;
  // The exchange half of an iteration, in one call: fire = the LAG-WK rule over `selected`
  // when `use_trigger`, else `selected`; upload(fire, replace); returns step(step_size). A
  // backend that can do all of it in one round trip (a CUDA graph on one GPU) overrides it; the
  // results must be those of the three calls.
  virtual double exchange(bool use_trigger, double tau, const Flags& selected, bool replace,
                          double step_size, Flags& fire) {
    if (use_trigger)
      trigger(tau, selected, fire);
    else
      fire = selected;
    upload(fire, replace);
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
