#include "cluster/server/host_server.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "compress/quantizer.hpp"
#include "lag/error.hpp"
#include "lag/trigger_rules.hpp"
#include "model/gradient.hpp"
#include "mpi/worker_blocks.hpp"

namespace lag {

template <class T>
HostServer<T>::HostServer(std::size_t params, int workers, int rank, int ranks)
    : theta_(params, T(0)),
      running_sum_(params, T(0)),
      flags_(static_cast<std::size_t>(workers), 0) {
  if (rank != 0) return;
  aggregate_.assign(params, T(0));
  theta_hat_.assign(static_cast<std::size_t>(workers), theta_);
  inbox_.resize(static_cast<std::size_t>(ranks));
  for (int r = 1; r < ranks; ++r)
    inbox_[static_cast<std::size_t>(r)].resize(
        static_cast<std::size_t>(mpi::worker_block(workers, ranks, r).count) * params * sizeof(T));
}

template <class T>
void HostServer<T>::reset(const std::vector<double>& theta0) {
  if (theta0.empty())
    std::fill(theta_.begin(), theta_.end(), T(0));
  else
    std::transform(theta0.begin(), theta0.end(), theta_.begin(),
                   [](double v) { return static_cast<T>(v); });
  std::fill(aggregate_.begin(), aggregate_.end(), T(0));
  for (auto& t : theta_hat_) t = theta_;
}

template <class T>
void HostServer<T>::save(ClusterState<T>& state) {
  state.theta = theta_;
  state.aggregate = aggregate_;
  state.theta_hat.clear();
  for (const auto& t : theta_hat_)
    state.theta_hat.insert(state.theta_hat.end(), t.begin(), t.end());
}

template <class T>
void HostServer<T>::load(const ClusterState<T>& state) {
  theta_ = state.theta;
  aggregate_ = state.aggregate;
  const std::size_t d = theta_.size();
  for (std::size_t m = 0; m < theta_hat_.size(); ++m)
    theta_hat_[m].assign(state.theta_hat.begin() + static_cast<std::ptrdiff_t>(m * d),
                         state.theta_hat.begin() + static_cast<std::ptrdiff_t>((m + 1) * d));
}

template <class T>
void HostServer<T>::zero(T* v) {
  std::fill(v, v + theta_.size(), T(0));
}

template <class T>
void HostServer<T>::norm2(const T* v, double* out) {
  *out = cpu::norm2(v, theta_.size());
}

template <class T>
void HostServer<T>::begin_upload(bool replace) {
  if (replace) std::fill(aggregate_.begin(), aggregate_.end(), T(0));
}

template <class T>
void HostServer<T>::add(const void* payload, const Round& round) {
  const std::size_t d = aggregate_.size();
  const auto* bytes = static_cast<const std::uint8_t*>(payload);
  switch (round.upload) {
    case Round::Upload::Delta:
    case Round::Upload::Gradient: {
      const T* v = static_cast<const T*>(payload);
      for (std::size_t j = 0; j < d; ++j) aggregate_[j] += v[j];
      break;
    }
    case Round::Upload::Quantized: {
      T radius;
      std::memcpy(&radius, bytes, sizeof radius);
      decoded_.resize(d);
      decode_innovation(bytes + sizeof(T), radius, d, round.bits, decoded_.data());
      for (std::size_t j = 0; j < d; ++j) aggregate_[j] += decoded_[j];
      break;
    }
    case Round::Upload::TopK: {
      // Values, then indices; a payload in the inbox need not be aligned for either.
      const std::size_t k = round.top_k;
      for (std::size_t j = 0; j < k; ++j) {
        T value;
        std::uint32_t index;
        std::memcpy(&value, bytes + j * sizeof(T), sizeof value);
        std::memcpy(&index, bytes + k * sizeof(T) + j * sizeof index, sizeof index);
        if (index >= d)
          throw Error("internal: a Top-k upload names coordinate " + std::to_string(index) +
                      " of " + std::to_string(d));
        aggregate_[index] += value;
      }
      break;
    }
  }
}

template <class T>
void HostServer<T>::step(double step_size) {
  const T s = static_cast<T>(step_size);
  double change2 = 0;
  for (std::size_t j = 0; j < theta_.size(); ++j) {
    const T next = theta_[j] - s * aggregate_[j];
    const double d = static_cast<double>(next) - static_cast<double>(theta_[j]);
    change2 += d * d;
    theta_[j] = next;
  }
  scalars_[Server<T>::kChange2] = change2;
}

template <class T>
void HostServer<T>::ps_select(double tau, const std::vector<double>& worker_smoothness,
                              std::uint8_t* selected) {
  for (std::size_t m = 0; m < theta_hat_.size(); ++m) {
    const double d2 = cpu::distance2(theta_hat_[m].data(), theta_.data(), theta_.size());
    selected[m] = ps_fires(worker_smoothness[m], d2, tau) ? 1 : 0;
  }
}

template class HostServer<float>;
template class HostServer<double>;

}  // namespace lag
