#include "cpu/cpu_cluster.hpp"

#include <algorithm>
#include <cmath>

#include "cpu/gradient.hpp"

namespace lag {

namespace {
template <class T>
std::vector<const Shard<T>*> shard_pointers(const Dataset<T>& data) {
  std::vector<const Shard<T>*> out;
  for (const auto& s : data.shards) out.push_back(&s);
  return out;
}
}  // namespace

template <class T>
CpuCluster<T>::CpuCluster(const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool)
    : workers_(shard_pointers(data), data.dim, model, pool),
      theta_(workers_.params(), T(0)),
      aggregate_(workers_.params(), T(0)),
      eval_grad_(workers_.params(), T(0)),
      theta_hat_(workers_.count(), std::vector<T>(workers_.params(), T(0))) {}

template <class T>
void CpuCluster<T>::reset(const std::vector<double>& theta0) {
  if (theta0.empty())
    std::fill(theta_.begin(), theta_.end(), T(0));
  else
    std::transform(theta0.begin(), theta0.end(), theta_.begin(),
                   [](double v) { return static_cast<T>(v); });
  std::fill(aggregate_.begin(), aggregate_.end(), T(0));
  for (auto& t : theta_hat_) t = theta_;
  workers_.reset();
}

template <class T>
void CpuCluster<T>::compute(const Flags& selected) {
  std::vector<int> which;
  for (int m = 0; m < workers(); ++m)
    if (selected[static_cast<std::size_t>(m)]) which.push_back(m);
  workers_.compute(which, theta_.data());
}

template <class T>
void CpuCluster<T>::trigger(double tau, const Flags& selected, Flags& fire) {
  fire.assign(workers_.count(), 0);
  for (std::size_t m = 0; m < workers_.count(); ++m)
    fire[m] = selected[m] && wk_fires(workers_.delta_norm2(m), tau) ? 1 : 0;
}

template <class T>
void CpuCluster<T>::ps_select(double tau, const std::vector<double>& worker_smoothness,
                              Flags& selected) {
  selected.assign(workers_.count(), 0);
  for (std::size_t m = 0; m < workers_.count(); ++m) {
    const double d2 = cpu::distance2(theta_hat_[m].data(), theta_.data(), theta_.size());
    selected[m] = ps_fires(worker_smoothness[m], d2, tau) ? 1 : 0;
  }
}

template <class T>
Evaluation CpuCluster<T>::evaluate() {
  workers_.compute_missing(theta_.data());
  Evaluation e;
  std::fill(eval_grad_.begin(), eval_grad_.end(), T(0));
  for (std::size_t m = 0; m < workers_.count(); ++m) {
    e.loss += workers_.loss(m);
    const std::vector<T>& g = workers_.g(m);
    for (std::size_t j = 0; j < g.size(); ++j) eval_grad_[j] += g[j];
  }
  e.grad_norm = std::sqrt(cpu::norm2(eval_grad_.data(), eval_grad_.size()));
  return e;
}

template <class T>
void CpuCluster<T>::upload(const Flags& senders, bool replace) {
  if (replace) std::fill(aggregate_.begin(), aggregate_.end(), T(0));
  for (std::size_t m = 0; m < workers_.count(); ++m) {
    if (!senders[m]) continue;
    const std::vector<T>& v = replace ? workers_.g(m) : workers_.delta(m);
    for (std::size_t j = 0; j < v.size(); ++j) aggregate_[j] += v[j];
    workers_.commit(m);
    theta_hat_[m] = theta_;
  }
}

template <class T>
double CpuCluster<T>::step(double step_size) {
  const T s = static_cast<T>(step_size);
  double change2 = 0;
  for (std::size_t j = 0; j < theta_.size(); ++j) {
    const T next = theta_[j] - s * aggregate_[j];
    const double d = static_cast<double>(next) - static_cast<double>(theta_[j]);
    change2 += d * d;
    theta_[j] = next;
  }
  workers_.mark_stale();
  return change2;
}

template class CpuCluster<float>;
template class CpuCluster<double>;

}  // namespace lag
