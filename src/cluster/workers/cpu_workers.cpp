#include "cluster/workers/cpu_workers.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "compress/quantizer.hpp"
#include "compress/top_k.hpp"
#include "lag/error.hpp"
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
      scratch_(static_cast<std::size_t>(pool.size())),
      features_(features) {
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
  state.worker_theta_hat.clear();
  state.worker_scalars.clear();
  const bool clag = std::any_of(workers_.begin(), workers_.end(),
                                [](const Worker& w) { return !w.g_prev.empty(); });
  const bool lasg = std::any_of(workers_.begin(), workers_.end(),
                                [](const Worker& w) { return !w.theta_hat.empty(); });
  const auto put = [&](std::vector<T>& out, const std::vector<T>& v) {
    if (v.empty())
      out.insert(out.end(), params_, T(0));
    else
      out.insert(out.end(), v.begin(), v.end());
  };
  for (const Worker& w : workers_) {
    state.g_hat.insert(state.g_hat.end(), w.g_hat.begin(), w.g_hat.end());
    if (clag) put(state.g_prev, w.g_prev);
    if (lasg) put(state.worker_theta_hat, w.theta_hat);
    state.worker_scalars.push_back(w.eps_hat);
    state.worker_scalars.push_back(static_cast<double>(w.skipped));
    state.worker_scalars.push_back(w.sampler ? static_cast<double>(w.sampler->drawn()) : 0.0);
  }
}

template <class T>
void CpuWorkers<T>::load(const ClusterState<T>& state) {
  constexpr std::size_t S = ClusterState<T>::kWorkerScalars;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    const auto at = static_cast<std::ptrdiff_t>(i * params_),
               n = static_cast<std::ptrdiff_t>(params_);
    std::copy(state.g_hat.begin() + at, state.g_hat.begin() + at + n, w.g_hat.begin());
    if (state.g_prev.empty())
      w.g_prev.clear();
    else
      w.g_prev.assign(state.g_prev.begin() + at, state.g_prev.begin() + at + n);
    if (state.worker_theta_hat.empty())
      w.theta_hat.clear();
    else
      w.theta_hat.assign(state.worker_theta_hat.begin() + at,
                         state.worker_theta_hat.begin() + at + n);
    // The counts are checked (whole, in range) by the cluster.
    w.eps_hat = state.worker_scalars[S * i];
    w.skipped = static_cast<std::int64_t>(state.worker_scalars[S * i + 1]);
    if (w.sampler) w.sampler->seek(static_cast<std::uint64_t>(state.worker_scalars[S * i + 2]));
    w.fresh = w.full_fresh = false;
  }
}

template <class T>
void CpuWorkers<T>::reset(const Sampling& sampling, std::size_t first) {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    std::fill(w.g_hat.begin(), w.g_hat.end(), T(0));
    w.g_prev.clear();
    w.theta_hat.clear();
    w.eps_hat = 0;
    w.skipped = 0;
    w.fresh = w.full_fresh = false;
    w.sampler.reset();
    if (sampling.batch > 0) {
      w.sampler.emplace(w.shard->rows, sampling.batch, sampling.seed, first + i);
      w.batch_x.resize(sampling.batch * features_);
      w.batch_y.resize(sampling.batch);
      w.full_g.resize(params_);
    }
  }
}

template <class T>
void CpuWorkers<T>::mark_stale() {
  for (Worker& w : workers_) w.fresh = w.full_fresh = false;
}

template <class T>
template <class Finish>
void CpuWorkers<T>::run(const std::vector<Job>& jobs, const Finish& finish) {
  if (jobs.empty()) return;
  const std::size_t n = params_;
  // Phase 1: one task per chunk of every job. A job's chunks use its worker's partials (one job
  // per worker at a time), a single chunk accumulates straight into the output.
  const auto chunks_of = [](const Job& job) {
    return std::max<std::size_t>(1, (job.rows + kChunkRows - 1) / kChunkRows);
  };
  std::vector<std::pair<std::size_t, std::size_t>> tasks;  // (job, chunk within job)
  std::size_t work = 0;                                    // elements of X and of the partials
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const std::size_t chunks = chunks_of(jobs[j]);
    for (std::size_t c = 0; c < chunks; ++c) tasks.emplace_back(j, c);
    work += (jobs[j].rows + chunks) * n;
  }
  pool_.parallel_for(
      tasks.size(),
      [&](std::size_t t) {
        const Job& job = jobs[tasks[t].first];
        Worker& w = *job.worker;
        const std::size_t c = tasks[t].second;
        const std::size_t begin = c * kChunkRows;
        const std::size_t rows = std::min(kChunkRows, job.rows - begin);
        if (job.gather) gather(w, begin, rows);
        T* out = chunks_of(job) == 1 ? job.out : partials_.data() + (w.first_chunk + c) * n;
        std::fill(out, out + n, T(0));
        partial_loss_[w.first_chunk + c] =
            kernel_->gradient(job.x + begin * features_, job.y + begin, rows, job.theta, out,
                              scratch_[static_cast<std::size_t>(ThreadPool::slot())]);
      },
      work);
  // Phase 2: per job, sum its chunks in order, scale, add the regulariser, finish.
  const T lambda = static_cast<T>(model_.lambda);
  const double reg = model_.kind == ModelKind::LeastSquares ? 0.0 : model_.lambda;
  pool_.parallel_for(
      jobs.size(),
      [&](std::size_t j) {
        const Job& job = jobs[j];
        const Worker& w = *job.worker;
        T* g = job.out;
        double loss = partial_loss_[w.first_chunk];
        const std::size_t chunks = chunks_of(job);
        if (chunks > 1) {
          const T* p = partials_.data() + w.first_chunk * n;
          std::copy(p, p + n, g);
          for (std::size_t c = 1; c < chunks; ++c) {
            p = partials_.data() + (w.first_chunk + c) * n;
            for (std::size_t k = 0; k < n; ++k) g[k] += p[k];
            loss += partial_loss_[w.first_chunk + c];
          }
        }
        if (job.scale != 1.0) {
          const T s = static_cast<T>(job.scale);
          for (std::size_t k = 0; k < n; ++k) g[k] *= s;
          loss *= job.scale;
        }
        if (reg > 0) {
          for (std::size_t k = 0; k < n; ++k) g[k] += lambda * job.theta[k];
          loss += 0.5 * reg * cpu::norm2(job.theta, n);
        }
        *job.loss = loss;
        finish(j);
      },
      work);
}

template <class T>
void CpuWorkers<T>::gather(Worker& w, std::size_t begin, std::size_t rows) const {
  const std::size_t f = features_;
  const Shard<T>& s = *w.shard;
  for (std::size_t r = begin; r < begin + rows; ++r) {
    std::copy(s.row(w.batch[r]), s.row(w.batch[r]) + f, w.batch_x.data() + r * f);
    w.batch_y[r] = s.y[w.batch[r]];
  }
}

template <class T>
typename CpuWorkers<T>::Job CpuWorkers<T>::round_job(Worker& w, const T* theta, T* out,
                                                     double* loss) const {
  if (!w.sampler)
    return {&w, w.shard->x.data(), w.shard->y.data(), w.shard->rows, theta, out, loss, 1.0};
  const double scale = static_cast<double>(w.shard->rows) / static_cast<double>(w.batch.size());
  return {&w, w.batch_x.data(), w.batch_y.data(), w.batch.size(), theta, out, loss, scale};
}

template <class T>
void CpuWorkers<T>::compute_listed(const std::vector<int>& which, const T* theta) {
  theta_ = theta;
  if (which.empty()) return;
  jobs_.clear();
  for (int m : which) {
    Worker& w = workers_[static_cast<std::size_t>(m)];
    if (w.sampler) w.sampler->draw(w.batch);  // the rows are gathered by the job's tasks
    jobs_.push_back(round_job(w, theta, w.g.data(), &w.loss));
    jobs_.back().gather = w.sampler.has_value();
  }
  const std::size_t n = params_;
  run(jobs_, [&](std::size_t j) {
    Worker& w = *jobs_[j].worker;
    for (std::size_t k = 0; k < n; ++k) w.delta[k] = w.g[k] - w.g_hat[k];
    w.delta_norm2 = cpu::norm2(w.delta.data(), n);
    w.fresh = true;
    if (!w.sampler) {
      w.full_loss = w.loss;
      w.full_fresh = true;
    }
  });
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
  if (!minibatches()) {
    which_.clear();
    for (std::size_t i = 0; i < workers_.size(); ++i)
      if (!workers_[i].fresh) which_.push_back(static_cast<int>(i));
    const T* at = theta_;
    compute_listed(which_, theta);
    theta_ = at;
    return;
  }
  // Minibatch gradients are not the shard's: the evaluation's are computed apart.
  jobs_.clear();
  for (Worker& w : workers_)
    if (!w.full_fresh)
      jobs_.push_back({&w, w.shard->x.data(), w.shard->y.data(), w.shard->rows, theta,
                       w.full_g.data(), &w.full_loss, 1.0});
  run(jobs_, [&](std::size_t j) { jobs_[j].worker->full_fresh = true; });
}

template <class T>
void CpuWorkers<T>::prepare(const Round& round, const Flags& selected) {
  const std::size_t d = params_;
  if (round.trigger == Round::Trigger::LasgWk && !round.forced) {
    // The gradient at theta_hat on the rows the worker drew this round; ||g - h||^2 formed as
    // ||delta||^2 is, so that with the whole shard as the batch (h = g_hat bit for bit) the rule
    // decides as LAG-WK's.
    jobs_.clear();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      Worker& w = workers_[i];
      if (!selected[i]) continue;
      if (w.theta_hat.empty()) throw Error("internal: a LASG-WK worker has no last upload");
      w.h.resize(d);
      w.v.resize(d);
      jobs_.push_back(round_job(w, w.theta_hat.data(), w.h.data(), &w.h_loss));
    }
    run(jobs_, [&](std::size_t j) {
      Worker& w = *jobs_[j].worker;
      for (std::size_t k = 0; k < d; ++k) w.v[k] = w.g[k] - w.h[k];
      w.lasg_change2 = cpu::norm2(w.v.data(), d);
    });
  }
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
      w.radius = r.radius;
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
      case Round::Trigger::LasgWk:
        fire = wk_fires(w.lasg_change2, round.tau) ||
               (round.max_skip > 0 && w.skipped >= round.max_skip);
        if (!fire) ++w.skipped;
        break;
      case Round::Trigger::Laq:
        fire = laq_fires(w.innovation2, round.tau, w.eps, w.eps_hat) ||
               (round.max_skip > 0 && w.skipped >= round.max_skip);
        if (fire && w.radius == 0) {
          // Q = q_hat: the upload would carry nothing, so only the flag goes (docs: LAQ). The
          // worker commits as for an upload; the server has nothing to add.
          w.eps_hat = w.eps;
          w.skipped = 0;
          fire = false;
        } else if (!fire) {
          ++w.skipped;
        }
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
  if (round.trigger == Round::Trigger::LasgWk) w.theta_hat.assign(theta_, theta_ + params_);
  w.skipped = 0;
}

template <class T>
void CpuWorkers<T>::add_gradients(T* sum) {
  const bool apart = minibatches();
  for (const Worker& w : workers_) {
    const std::vector<T>& g = apart ? w.full_g : w.g;
    for (std::size_t j = 0; j < params_; ++j) sum[j] += g[j];
  }
}

template class CpuWorkers<float>;
template class CpuWorkers<double>;

}  // namespace lag
