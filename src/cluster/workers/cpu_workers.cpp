#include "cluster/workers/cpu_workers.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "compress/quantizer.hpp"
#include "compress/top_k.hpp"
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
void CpuWorkers<T>::save(ClusterState<T>& state) {
  state.g_hat.clear();
  state.g_prev.clear();
  state.worker_scalars.clear();
  const bool clag = std::any_of(workers_.begin(), workers_.end(),
                                [](const Worker& w) { return !w.g_prev.empty(); });
  for (const Worker& w : workers_) {
    state.g_hat.insert(state.g_hat.end(), w.g_hat.begin(), w.g_hat.end());
    if (clag) {
      if (w.g_prev.empty())
        state.g_prev.insert(state.g_prev.end(), params_, T(0));
      else
        state.g_prev.insert(state.g_prev.end(), w.g_prev.begin(), w.g_prev.end());
    }
    state.worker_scalars.push_back(w.eps_hat);
    state.worker_scalars.push_back(static_cast<double>(w.skipped));
  }
}

template <class T>
void CpuWorkers<T>::load(const ClusterState<T>& state) {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    const auto at = static_cast<std::ptrdiff_t>(i * params_),
               n = static_cast<std::ptrdiff_t>(params_);
    std::copy(state.g_hat.begin() + at, state.g_hat.begin() + at + n, w.g_hat.begin());
    if (state.g_prev.empty())
      w.g_prev.clear();
    else
      w.g_prev.assign(state.g_prev.begin() + at, state.g_prev.begin() + at + n);
    w.eps_hat = state.worker_scalars[2 * i];
    w.skipped =
        static_cast<std::int64_t>(state.worker_scalars[2 * i + 1]);  // checked by the cluster
    w.fresh = false;
  }
}

template <class T>
void CpuWorkers<T>::reset() {
  for (Worker& w : workers_) {
    std::fill(w.g_hat.begin(), w.g_hat.end(), T(0));
    w.g_prev.clear();
    w.eps_hat = 0;
    w.skipped = 0;
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
void CpuWorkers<T>::prepare(const Round& round, const Flags& selected) {
  const std::size_t d = params_;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!selected[i]) continue;
    Worker& w = workers_[i];
    if (round.trigger == Round::Trigger::Clag) {
      // ||g - g_prev||^2 against the gradient of the previous round (none at the first: 0),
      // formed and summed exactly as ||delta||^2 is (difference in T, then cpu::norm2): the
      // rule compares the two, and equal vectors must give equal norms, not rounding noise.
      double change2 = 0;
      if (!w.g_prev.empty()) {
        w.v.resize(d);
        for (std::size_t j = 0; j < d; ++j) w.v[j] = w.g[j] - w.g_prev[j];
        change2 = cpu::norm2(w.v.data(), d);
      }
      w.prev_change2 = change2;
      w.g_prev = w.g;
    }
    if (round.upload == Round::Upload::Quantized) {
      w.q.resize(d);
      w.v.resize(d);
      w.payload.resize(round.payload_bytes(d, sizeof(T)));
      const Quantized r = quantize(w.g.data(), w.g_hat.data(), d, round.bits,
                                   w.payload.data() + sizeof(T), w.v.data(), w.q.data());
      const T radius = static_cast<T>(r.radius);
      std::memcpy(w.payload.data(), &radius, sizeof radius);
      w.eps = r.error2;
      w.innovation2 = r.innovation2;
    } else if (round.upload == Round::Upload::TopK) {
      const std::size_t k = round.top_k;
      w.top.resize(k);
      top_k(w.delta.data(), d, k, w.top.data(), top_scratch_);
      w.payload.resize(round.payload_bytes(d, sizeof(T)));
      T* values = reinterpret_cast<T*>(w.payload.data());
      for (std::size_t j = 0; j < k; ++j) values[j] = w.delta[w.top[j]];
      std::memcpy(w.payload.data() + k * sizeof(T), w.top.data(), k * sizeof(std::uint32_t));
    }
  }
}

template <class T>
void CpuWorkers<T>::trigger(const Round& round, const Flags& selected, std::uint8_t* flags,
                            std::size_t first, std::size_t total) {
  std::fill(flags, flags + total, std::uint8_t{0});
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!selected[i]) continue;
    Worker& w = workers_[i];
    bool fire = false;
    switch (round.trigger) {
      case Round::Trigger::None:
        fire = true;
        break;
      case Round::Trigger::LagWk:
        fire = wk_fires(w.delta_norm2, round.tau);
        break;
      case Round::Trigger::Laq:
        fire = laq_fires(w.innovation2, round.tau, w.eps, w.eps_hat) ||
               (round.max_skip > 0 && w.skipped >= round.max_skip);
        if (!fire) ++w.skipped;
        break;
      case Round::Trigger::Clag:
        fire = clag_fires(w.delta_norm2, round.zeta, w.prev_change2);
        break;
    }
    flags[first + i] = fire ? 1 : 0;
  }
}

template <class T>
const void* CpuWorkers<T>::upload_payload(std::size_t i, const Round& round) const {
  const Worker& w = workers_[i];
  switch (round.upload) {
    case Round::Upload::Gradient:
      return w.g.data();
    case Round::Upload::Delta:
      return w.delta.data();
    default:
      return w.payload.data();
  }
}

template <class T>
const void* CpuWorkers<T>::pack(const Flags& senders, const Round& round) {
  const std::size_t bytes = round.payload_bytes(params_, sizeof(T));
  outbox_.resize(workers_.size() * bytes);
  std::size_t packed = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!senders[i]) continue;
    std::memcpy(outbox_.data() + packed * bytes, upload_payload(i, round), bytes);
    ++packed;
  }
  return outbox_.data();
}

template <class T>
void CpuWorkers<T>::commit(std::size_t i, const Round& round) {
  Worker& w = workers_[i];
  switch (round.upload) {
    case Round::Upload::Delta:
    case Round::Upload::Gradient:
      std::swap(w.g_hat, w.g);
      break;
    case Round::Upload::Quantized:
      std::swap(w.g_hat, w.q);  // g_hat is LAQ's q_hat
      w.eps_hat = w.eps;
      break;
    case Round::Upload::TopK:
      // g_hat + the sent coordinates of delta, as the server adds them.
      for (std::uint32_t j : w.top) w.g_hat[j] += w.delta[j];
      break;
  }
  w.skipped = 0;
}

template <class T>
void CpuWorkers<T>::add_gradients(T* sum) {
  for (const Worker& w : workers_)
    for (std::size_t j = 0; j < params_; ++j) sum[j] += w.g[j];
}

template class CpuWorkers<float>;
template class CpuWorkers<double>;

}  // namespace lag
