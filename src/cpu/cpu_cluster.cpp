#include "cpu/cpu_cluster.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "cpu/gradient.hpp"

namespace lag {

template <class T>
CpuCluster<T>::CpuCluster(const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool)
    : data_(data),
      model_(model),
      pool_(pool),
      kernel_(cpu::make_loss_kernel<T>(model, data.dim)),
      dim_(parameter_count(model, data.dim)),
      scratch_(static_cast<std::size_t>(pool.size())) {
  if (is_multiclass(model.kind)) cpu::use_single_threaded_blas();
  std::size_t chunk = 0;
  workers_.resize(data.shards.size());
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    Worker& w = workers_[m];
    w.shard = &data.shards[m];
    w.first_chunk = chunk;
    w.chunks = std::max<std::size_t>(1, (w.shard->rows + kChunkRows - 1) / kChunkRows);
    chunk += w.chunks;
    w.g.assign(dim_, T(0));
    w.g_hat.assign(dim_, T(0));
    w.delta.assign(dim_, T(0));
    w.theta_hat.assign(dim_, T(0));
  }
  partials_.assign(chunk * dim_, T(0));
  partial_loss_.assign(chunk, 0.0);
  theta_.assign(dim_, T(0));
  aggregate_.assign(dim_, T(0));
  eval_grad_.assign(dim_, T(0));
}

template <class T>
void CpuCluster<T>::reset(const std::vector<double>& theta0) {
  if (theta0.empty())
    std::fill(theta_.begin(), theta_.end(), T(0));
  else
    std::transform(theta0.begin(), theta0.end(), theta_.begin(),
                   [](double v) { return static_cast<T>(v); });
  std::fill(aggregate_.begin(), aggregate_.end(), T(0));
  for (Worker& w : workers_) {
    std::fill(w.g_hat.begin(), w.g_hat.end(), T(0));
    w.theta_hat = theta_;
    w.fresh = false;
  }
}

template <class T>
void CpuCluster<T>::compute_gradients(const std::vector<int>& which) {
  if (which.empty()) return;
  // Phase 1: one task per chunk of every listed worker.
  std::vector<std::pair<int, std::size_t>> tasks;  // (worker, chunk within worker)
  for (int m : which)
    for (std::size_t c = 0; c < workers_[m].chunks; ++c) tasks.emplace_back(m, c);
  const T* theta = theta_.data();
  pool_.parallel_for(tasks.size(), [&](std::size_t t) {
    Worker& w = workers_[tasks[t].first];
    const std::size_t c = tasks[t].second;
    const Shard<T>& s = *w.shard;
    const std::size_t begin = c * kChunkRows;
    const std::size_t rows = std::min(kChunkRows, s.rows - begin);
    // A worker with a single chunk accumulates straight into g.
    T* out = w.chunks == 1 ? w.g.data() : partials_.data() + (w.first_chunk + c) * dim_;
    std::fill(out, out + dim_, T(0));
    partial_loss_[w.first_chunk + c] =
        kernel_->gradient(s.row(begin), s.y.data() + begin, rows, theta, out,
                          scratch_[static_cast<std::size_t>(ThreadPool::slot())]);
  });
  // Phase 2: per worker, sum its chunks in order, add the regulariser, form delta.
  const T lambda = static_cast<T>(model_.lambda);
  const double reg = model_.kind == ModelKind::LeastSquares ? 0.0 : model_.lambda;
  const double theta_norm2 = reg > 0 ? cpu::norm2(theta, dim_) : 0.0;
  pool_.parallel_for(which.size(), [&](std::size_t i) {
    Worker& w = workers_[which[i]];
    double loss = partial_loss_[w.first_chunk];
    if (w.chunks > 1) {
      const T* p = partials_.data() + w.first_chunk * dim_;
      std::copy(p, p + dim_, w.g.begin());
      for (std::size_t c = 1; c < w.chunks; ++c) {
        p = partials_.data() + (w.first_chunk + c) * dim_;
        for (std::size_t j = 0; j < dim_; ++j) w.g[j] += p[j];
        loss += partial_loss_[w.first_chunk + c];
      }
    }
    if (reg > 0) {
      for (std::size_t j = 0; j < dim_; ++j) w.g[j] += lambda * theta[j];
      loss += 0.5 * reg * theta_norm2;
    }
    w.loss = loss;
    for (std::size_t j = 0; j < dim_; ++j) w.delta[j] = w.g[j] - w.g_hat[j];
    w.delta_norm2 = cpu::norm2(w.delta.data(), dim_);
    w.fresh = true;
  });
}

template <class T>
void CpuCluster<T>::compute(const Flags& selected) {
  std::vector<int> which;
  for (int m = 0; m < workers(); ++m)
    if (selected[m]) which.push_back(m);
  compute_gradients(which);
}

template <class T>
void CpuCluster<T>::trigger(double tau, const Flags& selected, Flags& fire) {
  fire.assign(workers_.size(), 0);
  for (std::size_t m = 0; m < workers_.size(); ++m)
    fire[m] = selected[m] && wk_fires(workers_[m].delta_norm2, tau) ? 1 : 0;
}

template <class T>
void CpuCluster<T>::stale_distances(std::vector<double>& out) {
  out.resize(workers_.size());
  for (std::size_t m = 0; m < workers_.size(); ++m)
    out[m] = cpu::distance2(workers_[m].theta_hat.data(), theta_.data(), dim_);
}

template <class T>
Evaluation CpuCluster<T>::evaluate() {
  std::vector<int> missing;
  for (int m = 0; m < workers(); ++m)
    if (!workers_[m].fresh) missing.push_back(m);
  // Monitoring only: g is scratch until the worker is selected, and upload() only ever uses g
  // of the senders, which compute() refreshed this round, so nothing here changes the run.
  compute_gradients(missing);
  Evaluation e;
  std::fill(eval_grad_.begin(), eval_grad_.end(), T(0));
  for (const Worker& w : workers_) {
    e.loss += w.loss;
    for (std::size_t j = 0; j < dim_; ++j) eval_grad_[j] += w.g[j];
  }
  e.grad_norm = std::sqrt(cpu::norm2(eval_grad_.data(), dim_));
  return e;
}

template <class T>
void CpuCluster<T>::upload(const Flags& senders, bool replace) {
  if (replace) std::fill(aggregate_.begin(), aggregate_.end(), T(0));
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    if (!senders[m]) continue;
    Worker& w = workers_[m];
    const std::vector<T>& v = replace ? w.g : w.delta;
    for (std::size_t j = 0; j < dim_; ++j) aggregate_[j] += v[j];
    std::swap(w.g_hat, w.g);  // g_hat <- g; the old g_hat becomes scratch
    w.theta_hat = theta_;
  }
}

template <class T>
double CpuCluster<T>::step(double step_size) {
  const T s = static_cast<T>(step_size);
  double change2 = 0;
  for (std::size_t j = 0; j < dim_; ++j) {
    const T next = theta_[j] - s * aggregate_[j];
    const double d = static_cast<double>(next) - static_cast<double>(theta_[j]);
    change2 += d * d;
    theta_[j] = next;
  }
  for (Worker& w : workers_) w.fresh = false;
  return change2;
}

template class CpuCluster<float>;
template class CpuCluster<double>;

}  // namespace lag
