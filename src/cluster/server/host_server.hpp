// The server in host memory (CPU workers, in one process or on rank 0 of an MPI job).
#pragma once

#include <vector>

#include "cluster/server/server.hpp"

namespace lag {

template <class T>
class HostServer final : public Server<T> {
 public:
  // `params` parameters, `workers` workers in all; `rank` of `ranks` (rank 0 holds the state).
  HostServer(std::size_t params, int workers, int rank, int ranks);

  void reset(const std::vector<double>& theta0) override;
  T* theta() override { return theta_.data(); }
  double* scalars() override { return scalars_; }
  std::uint8_t* flags() override { return flags_.data(); }
  T* running_sum() override { return running_sum_.data(); }
  void zero(T* v) override;
  void norm2(const T* v, double* out) override;
  void save(ClusterState<T>& state) override;
  void load(const ClusterState<T>& state) override;

  void begin_upload(bool replace) override;
  void add(const void* payload, const Round& round) override;
  std::uint8_t* inbox(int rank, std::size_t bytes) override {
    auto& box = inbox_[static_cast<std::size_t>(rank)];
    if (box.size() < bytes) box.resize(bytes);
    return box.data();
  }
  void sent(std::size_t m) override { theta_hat_[m] = theta_; }
  void step(double step_size) override;
  void ps_select(double tau, const std::vector<double>& worker_smoothness,
                 std::uint8_t* selected) override;

 private:
  std::vector<T> theta_, running_sum_;
  double scalars_[Server<T>::kScalars] = {};
  std::vector<std::uint8_t> flags_;
  // Rank 0 only.
  std::vector<T> aggregate_;
  std::vector<std::vector<T>> theta_hat_;
  std::vector<std::vector<std::uint8_t>> inbox_;
  std::vector<T> decoded_;  // a quantized upload's innovation
};

}  // namespace lag
