// The server on a GPU (server.hpp): every operation is a kernel on the context's stream.
#pragma once

#include <vector>

#include "cluster/device_context.hpp"
#include "cluster/server/server.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/pinned_buffer.hpp"

namespace lag {

template <class T>
class DeviceServer final : public Server<T> {
 public:
  // `params` parameters, `workers` workers in all; `rank` of `ranks` (rank 0 holds the state).
  // `context` must outlive the server.
  DeviceServer(std::size_t params, int workers, int rank, int ranks, cuda::DeviceContext& context);

  void reset(const std::vector<double>& theta0) override;
  T* theta() override { return theta_.get(); }
  double* scalars() override { return scalars_.get(); }
  std::uint8_t* flags() override { return flags_.get(); }
  T* running_sum() override { return running_sum_.get(); }
  void zero(T* v) override;
  void norm2(const T* v, double* out) override;
  void save(ClusterState<T>& state) override;
  void load(const ClusterState<T>& state) override;

  void begin_upload(bool replace) override;
  void add(const void* payload, const Round& round) override;
  std::uint8_t* inbox(int rank, std::size_t bytes) override;
  void sent(std::size_t m) override;
  void step(double step_size) override;
  void ps_select(double tau, const std::vector<double>& worker_smoothness,
                 std::uint8_t* selected) override;

  // For the one-GPU exchange graph (cuda_cluster.hpp).
  T* aggregate() { return aggregate_.get(); }
  T* theta_hat() { return theta_hat_.get(); }
  double* workspace() { return workspace_.get(); }

 private:
  cuda::DeviceContext& context_;
  std::size_t params_, workers_;
  cuda::DeviceBuffer<T> theta_, running_sum_;
  // kScalars, then on rank 0 the M stale distances and the M smoothness constants.
  cuda::DeviceBuffer<double> scalars_;
  cuda::DeviceBuffer<std::uint8_t> flags_;
  cuda::DeviceBuffer<double> workspace_;  // of the reductions
  cuda::PinnedBuffer<T> host_theta_;
  // Rank 0 only.
  cuda::DeviceBuffer<T> aggregate_, theta_hat_;  // theta_hat_: M vectors
  std::vector<cuda::DeviceBuffer<std::uint8_t>> inbox_;
  cuda::DeviceBuffer<double> rows_workspace_;  // the stale distances' reduction
  cuda::PinnedBuffer<double> host_smoothness_;
  std::vector<double> smoothness_on_device_;
};

}  // namespace lag
