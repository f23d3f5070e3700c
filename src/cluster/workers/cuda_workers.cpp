#include "cluster/workers/cuda_workers.hpp"

#include <algorithm>

#include "compress.cuh"
#include "cuda/check.hpp"
#include "cuda/stream_capture.hpp"
#include "fused_gradient.cuh"
#include "gather.cuh"
#include "lag/error.hpp"
#include "reduce.cuh"
#include "trigger.cuh"
#include "vector_ops.cuh"

namespace lag {

namespace {

template <class T>
void copy_device(T* dst, const T* src, std::size_t n, cudaStream_t s) {
  LAG_CUDA(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, s));
}

}  // namespace

template <class T>
CudaWorkers<T>::CudaWorkers(const std::vector<const Shard<T>*>& shards, std::size_t features,
                            const ModelSpec& model, cuda::DeviceContext& context, bool graphs)
    : context_(context),
      model_(model),
      kind_(model.kind),
      features_(features),
      params_(parameter_count(model, features)),
      graphs_(graphs) {
  const int dev = context.device();
  const cudaStream_t s = context.stream();
  LAG_CUDA(cudaSetDevice(dev));
  const std::size_t n = shards.size(), d = params_;
  std::size_t max_rows = 0;
  for (const Shard<T>* shard : shards) max_rows = std::max(max_rows, shard->rows);
  if (!batched()) {
    shared_loss_ = std::make_unique<cuda::DeviceLoss<T>>(model, features, max_rows, dev);
    shared_workspace_ = cuda::DeviceBuffer<double>(dev, cuda::reduce_workspace_doubles());
  }
  workers_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    Worker& w = workers_[i];
    const Shard<T>& shard = *shards[i];
    w.rows = shard.rows;
    w.x = cuda::DeviceBuffer<T>(dev, shard.x.size());
    w.y = cuda::DeviceBuffer<T>(dev, shard.y.size());
    w.x.upload(shard.x.data(), shard.x.size(), s);
    w.y.upload(shard.y.data(), shard.y.size(), s);
    w.g = cuda::DeviceBuffer<T>(dev, d);
    w.g_hat = cuda::DeviceBuffer<T>(dev, d);
    w.delta = cuda::DeviceBuffer<T>(dev, d);
    w.loss_parts = cuda::DeviceBuffer<double>(dev, 2);
    w.loss_parts.zero(s);  // [1] stays 0 for linear/logistic (batched launches skip it)
    if (batched()) {
      w.loss = std::make_unique<cuda::DeviceLoss<T>>(model, features, w.rows, dev);
      w.workspace = cuda::DeviceBuffer<double>(dev, cuda::reduce_workspace_doubles());
    }
  }
  norms_ = cuda::DeviceBuffer<double>(dev, n);
  norms_.zero(s);
  selected_ = cuda::DeviceBuffer<std::uint8_t>(dev, n);
  host_selected_ = cuda::PinnedBuffer<std::uint8_t>(n);
  if (graphs_) {
    run_flags_ = cuda::PinnedBuffer<std::uint8_t>(n, /*mapped=*/true);
    std::vector<const T*> g(n), delta(n);
    std::vector<T*> g_hat(n);
    for (std::size_t i = 0; i < n; ++i) {
      g[i] = workers_[i].g.get();
      delta[i] = workers_[i].delta.get();
      g_hat[i] = workers_[i].g_hat.get();
    }
    g_table_ = cuda::DeviceBuffer<const T*>(dev, n);
    delta_table_ = cuda::DeviceBuffer<const T*>(dev, n);
    g_hat_table_ = cuda::DeviceBuffer<T*>(dev, n);
    g_table_.upload(g.data(), n, s);
    delta_table_.upload(delta.data(), n, s);
    g_hat_table_.upload(g_hat.data(), n, s);
  }
  LAG_CUDA(cudaStreamSynchronize(s));  // the host copies above go out of scope
}

template <class T>
CudaWorkers<T>::~CudaWorkers() {
  // No replay is pending (the wire, destroyed first, has ended any NCCL operation that waited for
  // a peer).
  cudaStreamSynchronize(context_.stream());
  if (all_workers_) cudaGraphExecDestroy(all_workers_);
  if (flagged_workers_) cudaGraphExecDestroy(flagged_workers_);
}

template <class T>
bool CudaWorkers<T>::batched() const {
  return kind_ == ModelKind::LeastSquares || kind_ == ModelKind::Logistic;
}

template <class T>
cuda::WorkerVectors<T> CudaWorkers<T>::vector_tables() const {
  return {g_table_.get(), delta_table_.get(), g_hat_table_.get()};
}

template <class T>
void CudaWorkers<T>::reset(const Sampling& sampling, std::size_t first) {
  context_.use();
  const int dev = context_.device();
  const std::size_t B = sampling.batch, f = features_, d = params_;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    w.g_hat.zero(context_.stream());
    // A scaled minibatch gradient wrote ||theta||^2 into [1], which the batched launches of a
    // full-batch run never write (for them it must stay 0).
    w.loss_parts.zero(context_.stream());
    w.fresh = w.full_fresh = false;
    w.has_prev = w.has_theta_hat = false;
    w.sampler.reset();
    if (B == 0) continue;
    // The sampler refuses a batch larger than the shard, so the losses' scratch (sized for the
    // shard) holds a batch.
    w.sampler.emplace(w.rows, B, sampling.seed, first + i);
    if (w.batch_y.size() != B) {
      w.batch_x = cuda::DeviceBuffer<T>(dev, B * f);
      w.batch_y = cuda::DeviceBuffer<T>(dev, B);
    }
    if (!w.full_g.get()) {
      w.full_g = cuda::DeviceBuffer<T>(dev, d);
      w.full_loss_parts = cuda::DeviceBuffer<double>(dev, 2);
      w.full_loss_parts.zero(context_.stream());  // [1] stays 0 for linear/logistic
    }
  }
  if (B > 0 && rows_.size() != B * workers_.size())
    rows_ = cuda::DeviceBuffer<std::uint32_t>(dev, B * workers_.size());
  if (stats_.get()) {
    eps_hat_.zero(context_.stream());
    skipped_.zero(context_.stream());
  }
}

namespace {

// Rounds of LAG itself, with nothing to prepare (LASG-WK's rounds are handled before).
bool lag_round(const Round& round) {
  return round.upload != Round::Upload::Quantized && round.upload != Round::Upload::TopK &&
         round.trigger != Round::Trigger::Laq && round.trigger != Round::Trigger::Clag;
}

}  // namespace

template <class T>
void CudaWorkers<T>::ensure_compression() {
  if (stats_.get()) return;
  const int dev = context_.device();
  const std::size_t n = workers_.size(), d = params_;
  stats_ = cuda::DeviceBuffer<double>(dev, 4 * n);
  eps_hat_ = cuda::DeviceBuffer<double>(dev, n);
  skipped_ = cuda::DeviceBuffer<long long>(dev, n);
  compress_workspace_ = cuda::DeviceBuffer<double>(
      dev, cuda::quantize_workspace_doubles(d) + cuda::reduce_workspace_doubles());
  const cudaStream_t s = context_.stream();
  stats_.zero(s);
  eps_hat_.zero(s);
  skipped_.zero(s);
}

template <class T>
void CudaWorkers<T>::ensure_buffers(Worker& w, const Round& round) {
  const int dev = context_.device();
  const std::size_t d = params_;
  const auto need = [&](cuda::DeviceBuffer<T>& b) {
    if (!b.get()) b = cuda::DeviceBuffer<T>(dev, d);
  };
  if (round.upload == Round::Upload::Quantized) {
    need(w.q);
    need(w.v);
  }
  if (round.trigger == Round::Trigger::Clag) {
    need(w.v);  // the change g - g_prev
    need(w.g_prev);
  }
  if (round.trigger == Round::Trigger::LasgWk) {
    need(w.v);  // g - h
    need(w.h);
    if (!w.h_loss_parts.get()) w.h_loss_parts = cuda::DeviceBuffer<double>(dev, 2);
  }
  if ((round.upload == Round::Upload::Quantized || round.upload == Round::Upload::TopK) &&
      !w.payload.get())
    // The quantizer ORs whole 32-bit words of codes: a few spare bytes past the payload.
    w.payload =
        cuda::DeviceBuffer<std::uint8_t>(dev, Round::largest_compressed_bytes(d, sizeof(T)) + 8);
  if (round.upload == Round::Upload::TopK && !top_temp_.get()) {
    LAG_CUDA(cuda::top_k_temp_bytes<T>(d, &top_temp_bytes_));
    top_temp_ = cuda::DeviceBuffer<unsigned char>(dev, top_temp_bytes_);
  }
}

template <class T>
void CudaWorkers<T>::lasg_prepare(const Flags& selected) {
  context_.use();
  ensure_compression();
  Round lasg;
  lasg.trigger = Round::Trigger::LasgWk;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!selected[i]) continue;
    Worker& w = workers_[i];
    if (!w.has_theta_hat) throw Error("internal: a LASG-WK worker has no last upload");
    ensure_buffers(w, lasg);
    round_gradient(w, w.theta_hat.get(), w.h.get(), w.h_loss_parts.get());
    // ||g - h||^2 into the innovation's slot, formed as ||delta||^2 is (delta_and_norm): with the
    // whole shard as the batch, h is g_hat bit for bit and the rule decides as LAG-WK's.
    LAG_CUDA(cuda::delta_and_norm<T>(w.g.get(), w.h.get(), w.v.get(), params_,
                                     stats_.get() + 4 * i + 2, compress_workspace_.get(),
                                     context_.stream()));
  }
}

template <class T>
void CudaWorkers<T>::prepare(const Round& round, const Flags& selected) {
  if (round.trigger == Round::Trigger::LasgWk) {
    if (!round.forced) lasg_prepare(selected);
    return;
  }
  if (lag_round(round)) return;
  context_.use();
  ensure_compression();
  const cudaStream_t s = context_.stream();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!selected[i]) continue;
    Worker& w = workers_[i];
    double* stats = stats_.get() + 4 * i;
    ensure_buffers(w, round);
    if (round.trigger == Round::Trigger::Clag) {
      // ||g - g_prev||^2 against the previous round's gradient (none at the first: 0), formed and
      // summed as ||delta||^2 is (delta_and_norm): equal vectors give equal norms.
      if (w.has_prev)
        LAG_CUDA(cuda::delta_and_norm<T>(w.g.get(), w.g_prev.get(), w.v.get(), params_, stats + 3,
                                         compress_workspace_.get(), s));
      else
        LAG_CUDA(cudaMemsetAsync(stats + 3, 0, sizeof(double), s));
      copy_device(w.g_prev.get(), w.g.get(), params_, s);
      w.has_prev = true;
    }
    if (round.upload == Round::Upload::Quantized)
      LAG_CUDA(cuda::quantize<T>(w.g.get(), w.g_hat.get(), params_, round.bits, w.payload.get(),
                                 w.v.get(), w.q.get(), stats, compress_workspace_.get(), s));
    else if (round.upload == Round::Upload::TopK)
      LAG_CUDA(cuda::top_k<T>(w.delta.get(), params_, round.top_k, w.payload.get(), top_temp_.get(),
                              top_temp_bytes_, s));
  }
}

template <class T>
void CudaWorkers<T>::save(ClusterState<T>& state) {
  context_.use();
  const cudaStream_t s = context_.stream();
  const std::size_t n = workers_.size(), d = params_;
  state.g_hat.resize(n * d);
  state.g_prev.clear();
  constexpr std::size_t S = ClusterState<T>::kWorkerScalars;
  state.worker_theta_hat.clear();
  state.worker_scalars.assign(S * n, 0.0);
  const bool prev =
      std::any_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.has_prev; });
  if (prev) state.g_prev.assign(n * d, T(0));
  const bool lasg = std::any_of(workers_.begin(), workers_.end(),
                                [](const Worker& w) { return w.has_theta_hat; });
  if (lasg) state.worker_theta_hat.assign(n * d, T(0));
  for (std::size_t i = 0; i < n; ++i) {
    LAG_CUDA(cudaMemcpyAsync(state.g_hat.data() + i * d, workers_[i].g_hat.get(), d * sizeof(T),
                             cudaMemcpyDeviceToHost, s));
    if (workers_[i].has_prev)
      LAG_CUDA(cudaMemcpyAsync(state.g_prev.data() + i * d, workers_[i].g_prev.get(), d * sizeof(T),
                               cudaMemcpyDeviceToHost, s));
    if (workers_[i].has_theta_hat)
      LAG_CUDA(cudaMemcpyAsync(state.worker_theta_hat.data() + i * d, workers_[i].theta_hat.get(),
                               d * sizeof(T), cudaMemcpyDeviceToHost, s));
  }
  std::vector<double> eps_hat(n, 0.0);
  std::vector<long long> skipped(n, 0);
  if (stats_.get()) {
    LAG_CUDA(cudaMemcpyAsync(eps_hat.data(), eps_hat_.get(), n * sizeof(double),
                             cudaMemcpyDeviceToHost, s));
    LAG_CUDA(cudaMemcpyAsync(skipped.data(), skipped_.get(), n * sizeof(long long),
                             cudaMemcpyDeviceToHost, s));
  }
  LAG_CUDA(cudaStreamSynchronize(s));
  for (std::size_t i = 0; i < n; ++i) {
    state.worker_scalars[S * i] = eps_hat[i];
    state.worker_scalars[S * i + 1] = static_cast<double>(skipped[i]);
    if (workers_[i].sampler)
      state.worker_scalars[S * i + 2] = static_cast<double>(workers_[i].sampler->drawn());
  }
}

template <class T>
void CudaWorkers<T>::load(const ClusterState<T>& state) {
  context_.use();
  const cudaStream_t s = context_.stream();
  const std::size_t n = workers_.size(), d = params_;
  // Into the same buffers (the graphs hold their pointers).
  constexpr std::size_t S = ClusterState<T>::kWorkerScalars;
  for (std::size_t i = 0; i < n; ++i) {
    Worker& w = workers_[i];
    w.g_hat.upload(state.g_hat.data() + i * d, d, s);
    w.fresh = w.full_fresh = false;
    w.has_prev = false;
    w.has_theta_hat = !state.worker_theta_hat.empty();
    if (w.has_theta_hat) {
      if (!w.theta_hat.get()) w.theta_hat = cuda::DeviceBuffer<T>(context_.device(), d);
      w.theta_hat.upload(state.worker_theta_hat.data() + i * d, d, s);
    }
    // The counts are checked (whole, in range) by the cluster.
    if (w.sampler) w.sampler->seek(static_cast<std::uint64_t>(state.worker_scalars[S * i + 2]));
  }
  std::vector<double> eps_hat(n);
  std::vector<long long> skipped(n);
  for (std::size_t i = 0; i < n; ++i) {
    eps_hat[i] = state.worker_scalars[S * i];
    skipped[i] = static_cast<long long>(state.worker_scalars[S * i + 1]);
  }
  const bool any_scalar =
      std::any_of(eps_hat.begin(), eps_hat.end(), [](double e) { return e != 0; }) ||
      std::any_of(skipped.begin(), skipped.end(), [](long long k) { return k != 0; });
  if (!state.g_prev.empty() || any_scalar) {
    ensure_compression();
    Round clag;
    clag.trigger = Round::Trigger::Clag;
    for (std::size_t i = 0; i < n && !state.g_prev.empty(); ++i) {
      ensure_buffers(workers_[i], clag);
      workers_[i].g_prev.upload(state.g_prev.data() + i * d, d, s);
      workers_[i].has_prev = true;
    }
    eps_hat_.upload(eps_hat.data(), n, s);
    skipped_.upload(skipped.data(), n, s);
  }
  LAG_CUDA(cudaStreamSynchronize(s));  // pageable sources: the vectors above may go away
}

template <class T>
void CudaWorkers<T>::mark_stale() {
  for (Worker& w : workers_) w.fresh = w.full_fresh = false;
}

template <class T>
void CudaWorkers<T>::gather_batches(const std::vector<std::size_t>& which) {
  const std::size_t B = workers_[0].sampler->batch();
  host_rows_.resize(which.size() * B);
  for (std::size_t j = 0; j < which.size(); ++j) {
    Worker& w = workers_[which[j]];
    w.sampler->draw(w.batch);
    std::copy(w.batch.begin(), w.batch.end(),
              host_rows_.begin() + static_cast<std::ptrdiff_t>(j * B));
  }
  // From pageable memory. host_rows_ is next written by the next round's draw, and every round
  // ends with a wait on the stream (the step, or the exchange on one rank), so the copy has
  // read it by then, whether or not cudaMemcpyAsync from pageable memory returned early.
  rows_.upload(host_rows_.data(), host_rows_.size(), context_.stream());
  for (std::size_t j = 0; j < which.size(); ++j) {
    Worker& w = workers_[which[j]];
    LAG_CUDA(cuda::gather_rows<T>(w.x.get(), w.y.get(), features_, rows_.get() + j * B, B,
                                  w.batch_x.get(), w.batch_y.get(), context_.stream()));
  }
}

template <class T>
void CudaWorkers<T>::round_gradient(Worker& w, const T* theta, T* out, double* loss_parts) {
  if (!w.sampler) {
    loss_of(w).gradient(w.x.get(), w.y.get(), w.rows, theta, out, loss_parts, context_.stream(),
                        context_.cublas());
    return;
  }
  const std::size_t B = w.sampler->batch();
  const double scale = static_cast<double>(w.rows) / static_cast<double>(B);
  loss_of(w).gradient(w.batch_x.get(), w.batch_y.get(), B, theta, out, loss_parts,
                      context_.stream(), context_.cublas(), scale);
}

template <class T>
void CudaWorkers<T>::enqueue_one(std::size_t i, const T* theta) {
  Worker& w = workers_[i];
  round_gradient(w, theta, w.g.get(), w.loss_parts.get());
  LAG_CUDA(cuda::delta_and_norm<T>(w.g.get(), w.g_hat.get(), w.delta.get(), params_,
                                   norms_.get() + i, workspace_of(w), context_.stream()));
}

// Linear and logistic workers, up to the batch limits at a time: the same kernels with the same
// decompositions as enqueue_one, so the same bits, in three launches per batch.
template <class T>
void CudaWorkers<T>::enqueue(const std::vector<std::size_t>& which, const T* theta,
                             const std::uint8_t* run_if) {
  if (!batched() || minibatches()) {
    for (std::size_t i : which) enqueue_one(i, theta);
    return;
  }
  const auto loss_kind =
      kind_ == ModelKind::Logistic ? cuda::BinaryLoss::Logistic : cuda::BinaryLoss::LeastSquares;
  constexpr std::size_t kBatch = std::min<std::size_t>(cuda::kMaxFusedBatch, cuda::kMaxDeltaBatch);
  for (std::size_t first = 0; first < which.size(); first += kBatch) {
    const std::size_t n = std::min(kBatch, which.size() - first);
    cuda::FusedBatch<T> fused{};
    cuda::DeltaBatch<T> deltas{};
    T lambda = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = which[first + j];
      Worker& w = workers_[i];
      fused.job[j] = cuda::fused_gradient_job<T>(w.x.get(), w.y.get(), w.rows, params_, w.g.get(),
                                                 w.loss_parts.get(), w.loss->fused_workspace());
      const std::uint8_t* flag = run_if ? run_if + i : nullptr;
      fused.job[j].run_if = flag;
      deltas.job[j] = {w.g.get(),        w.g_hat.get(),     w.delta.get(),
                       norms_.get() + i, w.workspace.get(), flag};
      lambda = static_cast<T>(w.loss->lambda());
    }
    fused.count = deltas.count = static_cast<int>(n);
    LAG_CUDA(
        cuda::fused_gradient_batch<T>(loss_kind, fused, params_, theta, lambda, context_.stream()));
    LAG_CUDA(cuda::delta_and_norm_batch<T>(deltas, params_, context_.stream()));
  }
}

// Replays `graph`, capturing it on first use: every worker's jobs, guarded by `run_if` when given.
template <class T>
void CudaWorkers<T>::replay(cudaGraphExec_t& graph, const T* theta, const std::uint8_t* run_if) {
  if (graph_theta_ && graph_theta_ != theta)
    throw Error("internal: the workers' graphs were captured with another theta");
  if (!graph) {
    std::vector<std::size_t> all(workers_.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    cuda::StreamCapture capture(context_.stream());
    enqueue(all, theta, run_if);
    graph = capture.finish();
    graph_theta_ = theta;
  }
  LAG_CUDA(cudaGraphLaunch(graph, context_.stream()));
}

template <class T>
void CudaWorkers<T>::compute(const Flags& selected, const T* theta) {
  context_.use();
  theta_ = theta;
  which_.clear();
  for (std::size_t i = 0; i < workers_.size(); ++i)
    if (selected[i]) which_.push_back(i);
  if (which_.empty()) return;
  if (minibatches()) {
    gather_batches(which_);
    enqueue(which_, theta);
  } else if (graphs_ && which_.size() == workers_.size()) {
    replay(all_workers_, theta, nullptr);
  } else if (graphs_ && batched()) {
    // The flags are read by the replay when it runs: the previous one must be done. Every step
    // of the protocol ends with a wait, so the stream is idle here (a plain synchronisation
    // would bypass the deadline of an MPI job's waits).
    context_.require_idle("the workers' flagged graph");
    std::copy(selected.begin(), selected.end(), run_flags_.get());
    replay(flagged_workers_, theta, run_flags_.device());
  } else {
    enqueue(which_, theta);
  }
  for (std::size_t i : which_) workers_[i].fresh = true;
}

template <class T>
void CudaWorkers<T>::compute_missing(const T* theta) {
  context_.use();
  if (minibatches()) {
    // Minibatch gradients are not the shard's: the evaluation's are computed apart.
    for (Worker& w : workers_) {
      if (w.full_fresh) continue;
      loss_of(w).gradient(w.x.get(), w.y.get(), w.rows, theta, w.full_g.get(),
                          w.full_loss_parts.get(), context_.stream(), context_.cublas());
      w.full_fresh = true;
    }
    return;
  }
  which_.clear();
  for (std::size_t i = 0; i < workers_.size(); ++i)
    if (!workers_[i].fresh) which_.push_back(i);
  enqueue(which_, theta);
  for (std::size_t i : which_) workers_[i].fresh = true;
}

template <class T>
void CudaWorkers<T>::trigger(const Round& round, const Flags& selected, std::uint8_t* flags,
                             std::size_t first, std::size_t total) {
  context_.use();
  const cudaStream_t s = context_.stream();
  const std::size_t n = workers_.size();
  // The previous trigger's copy from host_selected_ finished: its wait came before this call.
  std::copy(selected.begin(), selected.end(), host_selected_.get());
  selected_.upload(host_selected_.get(), n, s);
  LAG_CUDA(cudaMemsetAsync(flags, 0, total, s));
  if (round.trigger == Round::Trigger::Laq || round.trigger == Round::Trigger::Clag ||
      round.trigger == Round::Trigger::LasgWk) {
    ensure_compression();
    const cuda::StatefulRule rule = round.trigger == Round::Trigger::Laq ? cuda::StatefulRule::Laq
                                    : round.trigger == Round::Trigger::Clag
                                        ? cuda::StatefulRule::Clag
                                        : cuda::StatefulRule::LasgWk;
    LAG_CUDA(cuda::compressed_trigger(rule, stats_.get(), norms_.get(), eps_hat_.get(),
                                      skipped_.get(), selected_.get(), round.tau, round.zeta,
                                      round.max_skip, static_cast<int>(n), flags + first, s));
    return;
  }
  LAG_CUDA(cuda::wk_trigger(norms_.get(), selected_.get(), round.tau, static_cast<int>(n),
                            flags + first, s));
}

template <class T>
const void* CudaWorkers<T>::upload_payload(std::size_t i, const Round& round) const {
  const Worker& w = workers_[i];
  switch (round.upload) {
    case Round::Upload::Gradient:
      return w.g.get();
    case Round::Upload::Delta:
      return w.delta.get();
    default:
      return w.payload.get();
  }
}

template <class T>
const void* CudaWorkers<T>::pack(const Flags& senders, const Round& round) {
  context_.use();
  const std::size_t bytes = round.payload_bytes(params_, sizeof(T));
  std::size_t n = 0;
  for (std::uint8_t f : senders) n += f != 0;
  // Only ranks other than 0 pack; a lone sender's payload goes as it is.
  if (n > 1 && outbox_.size() < workers_.size() * bytes)
    outbox_ = cuda::DeviceBuffer<std::uint8_t>(context_.device(), workers_.size() * bytes);
  std::size_t packed = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!senders[i]) continue;
    if (n == 1) return upload_payload(i, round);
    LAG_CUDA(cudaMemcpyAsync(outbox_.get() + packed * bytes, upload_payload(i, round), bytes,
                             cudaMemcpyDeviceToDevice, context_.stream()));
    ++packed;
  }
  return outbox_.get();
}

template <class T>
void CudaWorkers<T>::commit(std::size_t i, const Round& round) {
  context_.use();
  const cudaStream_t s = context_.stream();
  Worker& w = workers_[i];
  switch (round.upload) {
    case Round::Upload::Delta:
    case Round::Upload::Gradient:
      if (graphs_)
        copy_device(w.g_hat.get(), w.g.get(), params_, s);
      else
        w.g_hat.swap(w.g);
      break;
    case Round::Upload::Quantized:
      copy_device(w.g_hat.get(), w.q.get(), params_, s);  // g_hat is LAQ's q_hat
      copy_device(eps_hat_.get() + i, stats_.get() + 4 * i + 1, 1, s);
      break;
    case Round::Upload::TopK:
      LAG_CUDA(
          cuda::commit_top_k<T>(w.payload.get(), round.top_k, w.delta.get(), w.g_hat.get(), s));
      break;
  }
  if (round.trigger == Round::Trigger::LasgWk) {
    if (!w.theta_hat.get()) w.theta_hat = cuda::DeviceBuffer<T>(context_.device(), params_);
    copy_device(w.theta_hat.get(), theta_, params_, s);
    w.has_theta_hat = true;
  }
  if (stats_.get()) LAG_CUDA(cudaMemsetAsync(skipped_.get() + i, 0, sizeof(long long), s));
}

template <class T>
void CudaWorkers<T>::add_gradients(T* sum) {
  context_.use();
  for (const Worker& w : workers_)
    LAG_CUDA(
        cuda::axpy<T>(T(1), (w.sampler ? w.full_g : w.g).get(), sum, params_, context_.stream()));
}

template <class T>
double CudaWorkers<T>::loss(std::size_t i, const double* record) const {
  const Worker& w = workers_[i];
  return (w.loss ? *w.loss : *shared_loss_).loss(record);
}

template class CudaWorkers<float>;
template class CudaWorkers<double>;

}  // namespace lag
