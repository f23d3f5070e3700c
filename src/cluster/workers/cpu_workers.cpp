#include "cluster/workers/cpu_workers.hpp"

#include <algorithm>
#include <utility>

#include "lag/trigger_rules.hpp"
#include "model/gradient.hpp"

namespace lag {

template <class T>
CpuWorkers<T>::CpuWorkers(std::vector<const Shard<T>*> shards, std::size_t features,
                          const ModelSpec& model, ThreadPool& pool)
    : model_(model),
      pool_(pool),
      kernel_(cpu::make_loss_kernel<T>(model, features)),
      params_(parameter_count(model, features)),
      scratch_(static_cast<std::size_t>(pool.size())) {
  if (is_multiclass(model.kind)) cpu::use_single_threaded_blas();
  std::size_t chunk = 0;
  workers_.resize(shards.size());
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    Worker& w = workers_[m];
    w.shard = shards[m];
    w.first_chunk = chunk;
    w.chunks = std::max<std::size_t>(1, (w.shard->rows + kChunkRows - 1) / kChunkRows);
    chunk += w.chunks;
    w.g.assign(params_, T(0));
    w.g_hat.assign(params_, T(0));
    w.delta.assign(params_, T(0));
  }
  partials_.assign(chunk * params_, T(0));
  partial_loss_.assign(chunk, 0.0);
}

template <class T>
void CpuWorkers<T>::save(std::vector<T>& g_hat) {
  g_hat.clear();
  for (const Worker& w : workers_) g_hat.insert(g_hat.end(), w.g_hat.begin(), w.g_hat.end());
}

template <class T>
void CpuWorkers<T>::load(const std::vector<T>& g_hat) {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const auto first = g_hat.begin() + static_cast<std::ptrdiff_t>(i * params_);
    std::copy(first, first + static_cast<std::ptrdiff_t>(params_), workers_[i].g_hat.begin());
    workers_[i].fresh = false;
  }
}

template <class T>
void CpuWorkers<T>::reset() {
  for (Worker& w : workers_) {
    std::fill(w.g_hat.begin(), w.g_hat.end(), T(0));
    w.fresh = false;
  }
}

template <class T>
void CpuWorkers<T>::mark_stale() {
  for (Worker& w : workers_) w.fresh = false;
}

template <class T>
void CpuWorkers<T>::compute_listed(const std::vector<int>& which, const T* theta) {
  if (which.empty()) return;
  const std::size_t n = params_;
  // Phase 1: one task per chunk of every listed worker.
  std::vector<std::pair<int, std::size_t>> tasks;  // (worker, chunk within worker)
  std::size_t work = 0;                            // elements of X and of the partials
  for (int m : which) {
    const Worker& w = workers_[static_cast<std::size_t>(m)];
    for (std::size_t c = 0; c < w.chunks; ++c) tasks.emplace_back(m, c);
    work += (w.shard->rows + w.chunks) * n;
  }
  pool_.parallel_for(
      tasks.size(),
      [&](std::size_t t) {
        Worker& w = workers_[static_cast<std::size_t>(tasks[t].first)];
        const std::size_t c = tasks[t].second;
        const Shard<T>& s = *w.shard;
        const std::size_t begin = c * kChunkRows;
        const std::size_t rows = std::min(kChunkRows, s.rows - begin);
        // A worker with a single chunk accumulates straight into g.
        T* out = w.chunks == 1 ? w.g.data() : partials_.data() + (w.first_chunk + c) * n;
        std::fill(out, out + n, T(0));
        partial_loss_[w.first_chunk + c] =
            kernel_->gradient(s.row(begin), s.y.data() + begin, rows, theta, out,
                              scratch_[static_cast<std::size_t>(ThreadPool::slot())]);
      },
      work);
  // Phase 2: per worker, sum its chunks in order, add the regulariser, form delta.
  const T lambda = static_cast<T>(model_.lambda);
  const double reg = model_.kind == ModelKind::LeastSquares ? 0.0 : model_.lambda;
  const double theta_norm2 = reg > 0 ? cpu::norm2(theta, n) : 0.0;
  pool_.parallel_for(
      which.size(),
      [&](std::size_t i) {
        Worker& w = workers_[static_cast<std::size_t>(which[i])];
        double loss = partial_loss_[w.first_chunk];
        if (w.chunks > 1) {
          const T* p = partials_.data() + w.first_chunk * n;
          std::copy(p, p + n, w.g.begin());
          for (std::size_t c = 1; c < w.chunks; ++c) {
            p = partials_.data() + (w.first_chunk + c) * n;
            for (std::size_t j = 0; j < n; ++j) w.g[j] += p[j];
            loss += partial_loss_[w.first_chunk + c];
          }
        }
        if (reg > 0) {
          for (std::size_t j = 0; j < n; ++j) w.g[j] += lambda * theta[j];
          loss += 0.5 * reg * theta_norm2;
        }
        w.loss = loss;
        for (std::size_t j = 0; j < n; ++j) w.delta[j] = w.g[j] - w.g_hat[j];
        w.delta_norm2 = cpu::norm2(w.delta.data(), n);
        w.fresh = true;
      },
      work);
}

template <class T>
void CpuWorkers<T>::compute(const Flags& selected, const T* theta) {
  which_.clear();
  for (std::size_t i = 0; i < workers_.size(); ++i)
    if (selected[i]) which_.push_back(static_cast<int>(i));
  compute_listed(which_, theta);
}

template <class T>
void CpuWorkers<T>::compute_missing(const T* theta) {
  which_.clear();
  for (std::size_t i = 0; i < workers_.size(); ++i)
    if (!workers_[i].fresh) which_.push_back(static_cast<int>(i));
  compute_listed(which_, theta);
}

template <class T>
void CpuWorkers<T>::trigger(double tau, const Flags& selected, std::uint8_t* flags,
                            std::size_t first, std::size_t total) {
  std::fill(flags, flags + total, std::uint8_t{0});
  for (std::size_t i = 0; i < workers_.size(); ++i)
    flags[first + i] = selected[i] && wk_fires(workers_[i].delta_norm2, tau) ? 1 : 0;
}

template <class T>
const T* CpuWorkers<T>::pack(const Flags& senders, bool replace) {
  outbox_.resize(workers_.size() * params_);
  std::size_t packed = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!senders[i]) continue;
    const T* v = upload_vector(i, replace);
    std::copy(v, v + params_, outbox_.begin() + static_cast<std::ptrdiff_t>(packed * params_));
    ++packed;
  }
  return outbox_.data();
}

template <class T>
void CpuWorkers<T>::add_gradients(T* sum) {
  for (const Worker& w : workers_)
    for (std::size_t j = 0; j < params_; ++j) sum[j] += w.g[j];
}

template class CpuWorkers<float>;
template class CpuWorkers<double>;

}  // namespace lag
