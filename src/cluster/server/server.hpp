// The server's side of a cluster (docs/architecture.md §4), implemented once for host memory
// (HostServer) and once for a GPU (DeviceServer). Every rank has one: on rank 0 it holds the
// server's state (theta^k, the aggregate gradient, theta_hat_m for LAG-PS, the receive buffers of
// the uploads); on the other ranks only the replica of theta and the buffers the protocol moves
// through the wire. Pointers are in the memory space of the rank's wire.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lag/cluster.hpp"

namespace lag {

template <class T>
class Server {
 public:
  // Offsets into scalars().
  static constexpr std::size_t kChange2 = 0, kGradNorm2 = 1, kScalars = 2;

  virtual ~Server() = default;

  // theta = theta0 (zeros when empty); on rank 0 also aggregate = 0 and theta_hat_m = theta0.
  virtual void reset(const std::vector<double>& theta0) = 0;
  // Rank 0: theta^k; elsewhere the replica, current after every step's broadcast.
  virtual T* theta() = 0;
  virtual double* scalars() = 0;      // kScalars doubles: change2, the gradient's norm^2
  virtual std::uint8_t* flags() = 0;  // one byte per worker, for exchanging flags
  virtual T* running_sum() = 0;       // one vector: the evaluation's running gradient sum
  virtual void zero(T* v) = 0;        // v = 0 (one vector)
  virtual void norm2(const T* v, double* out) = 0;  // *out = ||v||^2 (in the memory space)

  // Checkpoints, between iterations: theta (and on rank 0 the aggregate and the M theta_hat)
  // copied into `state`'s vectors, and back; the copies are complete on return. load() is given
  // vectors of the sizes save() makes.
  virtual void save(ClusterState<T>& state) = 0;
  virtual void load(const ClusterState<T>& state) = 0;

  // Rank 0 only.
  // aggregate = 0 when `replace` (GD: the senders' full gradients replace it).
  virtual void begin_upload(bool replace) = 0;
  // aggregate += what one upload's payload (Round::Upload) stands for.
  virtual void add(const void* payload, const Round& round) = 0;
  // Where rank r's packed uploads are received, with room for `bytes` (made at first for all of
  // its workers' vectors, and grown when a round's payloads are larger). Not while a receive into
  // it is posted.
  virtual std::uint8_t* inbox(int rank, std::size_t bytes) = 0;
  // theta_hat_m <- theta^k (worker m uploaded at theta^k).
  virtual void sent(std::size_t m) = 0;
  // theta^{k+1} = theta^k - step_size * aggregate; scalars()[kChange2] = ||theta^{k+1} -
  // theta^k||^2.
  virtual void step(double step_size) = 0;
  // LAG-PS: selected[m] = ps_fires(worker_smoothness[m], ||theta_hat_m - theta^k||^2, tau).
  virtual void ps_select(double tau, const std::vector<double>& worker_smoothness,
                         std::uint8_t* selected) = 0;
};

}  // namespace lag
