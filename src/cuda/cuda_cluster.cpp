#include "cuda/cuda_cluster.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/check.hpp"
#include "cuda/stream_capture.hpp"
#include "exchange.cuh"
#include "fused_gradient.cuh"
#include "reduce.cuh"
#include "softmax.cuh"
#include "trigger.cuh"
#include "vector_ops.cuh"

namespace lag {

std::vector<int> visible_cuda_devices() {
  int count = 0;  // left unwritten when there is no driver
  if (cudaGetDeviceCount(&count) != cudaSuccess) return {};
  std::vector<int> ids;
  for (int i = 0; i < count; ++i) ids.push_back(i);
  return ids;
}

namespace {

template <class T>
void copy_device(T* dst, const T* src, std::size_t n, cudaStream_t s) {
  LAG_CUDA(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, s));
}

// Offsets into the server's scalars_ buffer.
constexpr std::size_t kChange2 = 0, kGradNorm2 = 1, kPerWorker = 2;

// Byte offsets into the one-device graphs' host-mapped mirror: the exchange's tau and change2,
// LAG-PS's tau, then four flag arrays of M bytes: the exchange's selected and fire, the compute
// graph's flags and LAG-PS's selection.
constexpr std::size_t kMirrorTau = 0, kMirrorChange2 = 8, kMirrorPsTau = 16, kMirrorFlags = 24;
std::size_t mirror_selected(std::size_t) { return kMirrorFlags; }
std::size_t mirror_fire(std::size_t M) { return kMirrorFlags + M; }
std::size_t mirror_compute(std::size_t M) { return kMirrorFlags + 2 * M; }
std::size_t mirror_ps(std::size_t M) { return kMirrorFlags + 3 * M; }

// The mirror's bytes at `offset` as a U (host or device view).
template <class U>
U* at(unsigned char* base, std::size_t offset) {
  return reinterpret_cast<U*>(base + offset);
}

}  // namespace

template <class T>
ncclDataType_t CudaCluster<T>::nccl_type() const {
  return sizeof(T) == sizeof(double) ? ncclFloat64 : ncclFloat32;
}

template <class T>
CudaCluster<T>::CudaCluster(const Dataset<T>& data, const ModelSpec& model,
                            const std::vector<int>& device_ids, bool graphs)
    : params_(parameter_count(model, data.dim)), graphs_(graphs), kind_(model.kind) {
  if (device_ids.empty()) throw Error("no CUDA device to run on");
  const std::size_t M = data.shards.size();
  const auto D = device_ids.size();
  // Round-robin: worker m on device slot m mod D.
  std::vector<std::size_t> max_rows(D, 0);
  for (std::size_t m = 0; m < M; ++m)
    max_rows[m % D] = std::max(max_rows[m % D], data.shards[m].rows);

  devices_.resize(D);
  std::vector<ncclComm_t> comms(D);
  LAG_NCCL(ncclCommInitAll(comms.data(), static_cast<int>(D), device_ids.data()));
  for (std::size_t s = 0; s < D; ++s) {
    Device& dev = devices_[s];
    dev.id = device_ids[s];
    dev.comm = comms[s];
    LAG_CUDA(cudaSetDevice(dev.id));
    LAG_CUDA(cudaStreamCreateWithFlags(&dev.stream, cudaStreamNonBlocking));
    LAG_CUBLAS(cublasCreate(&dev.cublas));
    LAG_CUBLAS(cublasSetStream(dev.cublas, dev.stream));
    constexpr std::size_t kCublasWorkspace = 32u << 20;  // cuBLAS's recommendation for Hopper
    dev.cublas_workspace = cuda::DeviceBuffer<unsigned char>(dev.id, kCublasWorkspace);
    LAG_CUBLAS(cublasSetWorkspace(dev.cublas, dev.cublas_workspace.get(), kCublasWorkspace));
    dev.theta = cuda::DeviceBuffer<T>(dev.id, params_);
    dev.send = cuda::DeviceBuffer<T>(dev.id, params_);
    dev.norms = cuda::DeviceBuffer<double>(dev.id, M);
    dev.selected = cuda::DeviceBuffer<std::uint8_t>(dev.id, M);
    dev.fire = cuda::DeviceBuffer<std::uint8_t>(dev.id, M);
    dev.workspace = cuda::DeviceBuffer<double>(dev.id, cuda::reduce_workspace_doubles());
    if (!concurrent_workers())  // else each worker has its own (below)
      dev.loss = std::make_unique<cuda::DeviceLoss<T>>(model, data.dim, max_rows[s], dev.id);
  }
  workers_.resize(M);
  for (std::size_t m = 0; m < M; ++m) {
    Worker& w = workers_[m];
    const Shard<T>& shard = data.shards[m];
    w.slot = static_cast<int>(m % D);
    Device& dev = devices_[static_cast<std::size_t>(w.slot)];
    w.rows = shard.rows;
    w.x = cuda::DeviceBuffer<T>(dev.id, shard.x.size());
    w.y = cuda::DeviceBuffer<T>(dev.id, shard.y.size());
    w.x.upload(shard.x.data(), shard.x.size(), dev.stream);
    w.y.upload(shard.y.data(), shard.y.size(), dev.stream);
    w.g = cuda::DeviceBuffer<T>(dev.id, params_);
    w.g_hat = cuda::DeviceBuffer<T>(dev.id, params_);
    w.delta = cuda::DeviceBuffer<T>(dev.id, params_);
    w.loss_parts = cuda::DeviceBuffer<double>(dev.id, 2);
    if (concurrent_workers()) {
      w.loss = std::make_unique<cuda::DeviceLoss<T>>(model, data.dim, w.rows, dev.id);
      w.workspace = cuda::DeviceBuffer<double>(dev.id, cuda::reduce_workspace_doubles());
      w.loss_parts.zero(dev.stream);  // [1] stays 0 for these models (batched launches skip it)
    }
  }
  const int server_id = devices_.front().id;
  aggregate_ = cuda::DeviceBuffer<T>(server_id, params_);
  theta_hat_ = cuda::DeviceBuffer<T>(server_id, M * params_);
  eval_ = cuda::DeviceBuffer<T>(server_id, params_);
  for (std::size_t s = 1; s < D; ++s) recv_.emplace_back(server_id, params_);
  scalars_ = cuda::DeviceBuffer<double>(server_id, kPerWorker + 2 * M);
  rows_workspace_ = cuda::DeviceBuffer<double>(server_id, M * cuda::reduce_workspace_doubles());
  if (graphs_ && D == 1) {
    std::vector<const T*> g(M), delta(M);
    std::vector<T*> g_hat(M);
    for (std::size_t m = 0; m < M; ++m) {
      g[m] = workers_[m].g.get();
      delta[m] = workers_[m].delta.get();
      g_hat[m] = workers_[m].g_hat.get();
    }
    g_table_ = cuda::DeviceBuffer<const T*>(server_id, M);
    delta_table_ = cuda::DeviceBuffer<const T*>(server_id, M);
    g_hat_table_ = cuda::DeviceBuffer<T*>(server_id, M);
    g_table_.upload(g.data(), M, server().stream);
    delta_table_.upload(delta.data(), M, server().stream);
    g_hat_table_.upload(g_hat.data(), M, server().stream);
    LAG_CUDA(cudaStreamSynchronize(server().stream));  // the host tables go out of scope
    mirror_ = cuda::PinnedBuffer<unsigned char>(kMirrorFlags + 4 * M, /*mapped=*/true);
  }

  // Warm up the NCCL connections (broadcast, all-reduce, and each remote device's send to the
  // server) so that the first real upload is not timed with their setup.
  if (D > 1) {
    broadcast_theta();
    LAG_NCCL(ncclGroupStart());
    for (Device& dev : devices_)
      LAG_NCCL(ncclAllReduce(dev.fire.get(), dev.fire.get(), M, ncclUint8, ncclMax, dev.comm,
                             dev.stream));
    LAG_NCCL(ncclGroupEnd());
    LAG_NCCL(ncclGroupStart());
    for (std::size_t s = 1; s < D; ++s) {
      LAG_NCCL(ncclSend(devices_[s].send.get(), params_, nccl_type(), 0, devices_[s].comm,
                        devices_[s].stream));
      LAG_NCCL(ncclRecv(recv_[s - 1].get(), params_, nccl_type(), static_cast<int>(s),
                        server().comm, server().stream));
    }
    LAG_NCCL(ncclGroupEnd());
  }
  synchronize_all();
}

template <class T>
CudaCluster<T>::~CudaCluster() {
  for (ExchangeGraph& g : exchange_graphs_) cudaGraphExecDestroy(g.exec);
  if (ps_graph_) cudaGraphExecDestroy(ps_graph_);
  for (Device& dev : devices_) {
    cudaSetDevice(dev.id);
    if (dev.stream) cudaStreamSynchronize(dev.stream);
    if (dev.all_workers) cudaGraphExecDestroy(dev.all_workers);
    if (dev.flagged_workers) cudaGraphExecDestroy(dev.flagged_workers);
    if (dev.comm) ncclCommDestroy(dev.comm);
    if (dev.cublas) cublasDestroy(dev.cublas);
    if (dev.stream) cudaStreamDestroy(dev.stream);
  }
}

template <class T>
void CudaCluster<T>::synchronize_all() {
  for (Device& dev : devices_) {
    LAG_CUDA(cudaSetDevice(dev.id));
    LAG_CUDA(cudaStreamSynchronize(dev.stream));
  }
  check_async_errors();
}

template <class T>
void CudaCluster<T>::check_async_errors() {
  for (Device& dev : devices_) {
    if (!dev.comm) continue;
    ncclResult_t async = ncclSuccess;
    LAG_NCCL(ncclCommGetAsyncError(dev.comm, &async));
    if (async != ncclSuccess && async != ncclInProgress) {
      // A failed communicator cannot be trusted to finish anything: abort all, do not wait.
      for (Device& d : devices_) {
        ncclCommAbort(d.comm);
        d.comm = nullptr;
      }
      throw Error(std::string("NCCL asynchronous error on device ") + std::to_string(dev.id) +
                  ": " + ncclGetErrorString(async));
    }
  }
}

template <class T>
void CudaCluster<T>::reset(const std::vector<double>& theta0) {
  Device& s = server();
  LAG_CUDA(cudaSetDevice(s.id));
  if (theta0.empty()) {
    s.theta.zero(s.stream);
  } else {
    const std::vector<T> t(theta0.begin(), theta0.end());
    s.theta.upload(t.data(), t.size(), s.stream);
    LAG_CUDA(cudaStreamSynchronize(s.stream));  // `t` goes out of scope
  }
  aggregate_.zero(s.stream);
  for (std::size_t m = 0; m < workers_.size(); ++m)
    copy_device(theta_hat_.get() + m * params_, s.theta.get(), params_, s.stream);
  for (Worker& w : workers_) {
    Device& dev = devices_[static_cast<std::size_t>(w.slot)];
    LAG_CUDA(cudaSetDevice(dev.id));
    w.g_hat.zero(dev.stream);
    w.fresh = false;
  }
  replicas_current_ = false;
  precomputed_.clear();
  physical_up_ = physical_down_ = 0;
  synchronize_all();
}

template <class T>
void CudaCluster<T>::broadcast_theta() {
  if (replicas_current_) return;
  if (devices_.size() > 1) {
    LAG_NCCL(ncclGroupStart());
    for (Device& dev : devices_)
      LAG_NCCL(ncclBroadcast(server().theta.get(), dev.theta.get(), params_, nccl_type(), 0,
                             dev.comm, dev.stream));
    LAG_NCCL(ncclGroupEnd());
    physical_down_ += (devices_.size() - 1) * params_ * sizeof(T);
  }
  replicas_current_ = true;
}

// Linear and logistic workers own their scratch, so the workers of a device can be batched;
// softmax and MLP workers share the device's scratch and run one after another.
template <class T>
bool CudaCluster<T>::concurrent_workers() const {
  return kind_ == ModelKind::LeastSquares || kind_ == ModelKind::Logistic;
}

template <class T>
void CudaCluster<T>::enqueue_worker(std::size_t m) {
  Worker& w = workers_[m];
  Device& dev = devices_[static_cast<std::size_t>(w.slot)];
  cuda::DeviceLoss<T>& loss = w.loss ? *w.loss : *dev.loss;
  double* workspace = w.loss ? w.workspace.get() : dev.workspace.get();
  loss.gradient(w.x.get(), w.y.get(), w.rows, dev.theta.get(), w.g.get(), w.loss_parts.get(),
                dev.stream, dev.cublas);
  LAG_CUDA(cuda::delta_and_norm<T>(w.g.get(), w.g_hat.get(), w.delta.get(), params_,
                                   dev.norms.get() + m, workspace, dev.stream));
  w.fresh = true;
}

// Linear and logistic workers of one device, up to the batch limits at a time: the same kernels
// with the same decompositions as enqueue_worker, so the same bits, in three launches per batch.
template <class T>
bool CudaCluster<T>::one_device_graphs() const {
  return graphs_ && devices_.size() == 1;
}

template <class T>
void CudaCluster<T>::enqueue_batched(const std::vector<std::size_t>& which,
                                     const std::uint8_t* run_if) {
  const auto loss_kind =
      kind_ == ModelKind::Logistic ? cuda::BinaryLoss::Logistic : cuda::BinaryLoss::LeastSquares;
  constexpr std::size_t kBatch = std::min<std::size_t>(cuda::kMaxFusedBatch, cuda::kMaxDeltaBatch);
  for (std::size_t first = 0; first < which.size(); first += kBatch) {
    const std::size_t count = std::min(kBatch, which.size() - first);
    Device& dev = devices_[static_cast<std::size_t>(workers_[which[first]].slot)];
    cuda::FusedBatch<T> fused{};
    cuda::DeltaBatch<T> deltas{};
    T lambda = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t m = which[first + i];
      Worker& w = workers_[m];
      fused.job[i] = cuda::fused_gradient_job<T>(w.x.get(), w.y.get(), w.rows, params_, w.g.get(),
                                                 w.loss_parts.get(), w.loss->fused_workspace());
      const std::uint8_t* flag = run_if ? run_if + m : nullptr;
      fused.job[i].run_if = flag;
      deltas.job[i] = {w.g.get(),           w.g_hat.get(),     w.delta.get(),
                       dev.norms.get() + m, w.workspace.get(), flag};
      lambda = static_cast<T>(w.loss->lambda());
    }
    fused.count = deltas.count = static_cast<int>(count);
    LAG_CUDA(cuda::fused_gradient_batch<T>(loss_kind, fused, params_, dev.theta.get(), lambda,
                                           dev.stream));
    LAG_CUDA(cuda::delta_and_norm_batch<T>(deltas, params_, dev.stream));
  }
}

template <class T>
void CudaCluster<T>::compute_workers(const std::vector<int>& which) {
  if (which.empty()) return;
  broadcast_theta();
  for (std::size_t slot = 0; slot < devices_.size(); ++slot) {
    std::vector<std::size_t> mine;
    for (int m : which)
      if (static_cast<std::size_t>(workers_[static_cast<std::size_t>(m)].slot) == slot)
        mine.push_back(static_cast<std::size_t>(m));
    if (mine.empty()) continue;
    LAG_CUDA(cudaSetDevice(devices_[slot].id));
    if (concurrent_workers()) {
      enqueue_batched(mine);
      for (std::size_t m : mine) workers_[m].fresh = true;
    } else {
      for (std::size_t m : mine) enqueue_worker(m);
    }
  }
}

// Captures the graph in which every worker of device `slot` computes: a small worker is a few
// microseconds of launches, so linear and logistic workers are batched (enqueue_batched).
template <class T>
void CudaCluster<T>::capture_all_workers(std::size_t slot) {
  Device& dev = devices_[slot];
  std::vector<std::size_t> mine;
  for (std::size_t m = 0; m < workers_.size(); ++m)
    if (static_cast<std::size_t>(workers_[m].slot) == slot) mine.push_back(m);
  cuda::StreamCapture capture(dev.stream);
  if (concurrent_workers()) {
    enqueue_batched(mine);
  } else {
    for (std::size_t m : mine) enqueue_worker(m);
  }
  dev.all_workers = capture.finish();
}

// Every worker computes (GD, LAG-WK, iteration 1): replay one graph per device. The graph holds
// fixed pointers, which is why commits copy g into g_hat instead of swapping them when graphs
// are on.
template <class T>
void CudaCluster<T>::compute_all_with_graphs() {
  broadcast_theta();
  for (std::size_t slot = 0; slot < devices_.size(); ++slot) {
    Device& dev = devices_[slot];
    LAG_CUDA(cudaSetDevice(dev.id));
    if (!dev.all_workers) capture_all_workers(slot);
    LAG_CUDA(cudaGraphLaunch(dev.all_workers, dev.stream));
  }
  for (Worker& w : workers_) w.fresh = true;
}

// Some workers compute (LAG-PS, the IAGs) on one device: one graph holds every worker's jobs,
// each guarded by its flag in the mirror, so any selection is one replay.
template <class T>
void CudaCluster<T>::compute_flagged_with_graph(const Flags& selected) {
  Device& dev = server();
  const std::size_t M = workers_.size();
  LAG_CUDA(cudaSetDevice(dev.id));
  // A replay still running reads the flags: let it finish before they change.
  LAG_CUDA(cudaStreamSynchronize(dev.stream));
  std::copy(selected.begin(), selected.end(), at<std::uint8_t>(mirror_.get(), mirror_compute(M)));
  if (!dev.flagged_workers) {
    std::vector<std::size_t> all(M);
    for (std::size_t m = 0; m < M; ++m) all[m] = m;
    cuda::StreamCapture capture(dev.stream);
    enqueue_batched(all, at<std::uint8_t>(mirror_.device(), mirror_compute(M)));
    dev.flagged_workers = capture.finish();
  }
  LAG_CUDA(cudaGraphLaunch(dev.flagged_workers, dev.stream));
  for (std::size_t m = 0; m < M; ++m)
    if (selected[m]) workers_[m].fresh = true;
}

template <class T>
void CudaCluster<T>::compute(const Flags& selected) {
  if (!precomputed_.empty() && selected == precomputed_) {  // done by ps_select's replay
    for (std::size_t m = 0; m < workers_.size(); ++m)
      if (selected[m]) workers_[m].fresh = true;
    precomputed_.clear();
    return;
  }
  precomputed_.clear();
  std::vector<int> which;
  for (int m = 0; m < workers(); ++m)
    if (selected[static_cast<std::size_t>(m)]) which.push_back(m);
  if (graphs_ && which.size() == workers_.size())
    compute_all_with_graphs();
  else if (one_device_graphs() && concurrent_workers() && !which.empty())
    compute_flagged_with_graph(selected);
  else
    compute_workers(which);
}

template <class T>
void CudaCluster<T>::trigger(double tau, const Flags& selected, Flags& fire) {
  const std::size_t M = workers_.size();
  // Each device decides for its own workers; the others are masked out of its flags.
  host_flags_.assign(devices_.size() * M, 0);
  for (std::size_t m = 0; m < M; ++m)
    host_flags_[static_cast<std::size_t>(workers_[m].slot) * M + m] = selected[m];
  for (std::size_t s = 0; s < devices_.size(); ++s) {
    Device& dev = devices_[s];
    LAG_CUDA(cudaSetDevice(dev.id));
    dev.selected.upload(host_flags_.data() + s * M, M, dev.stream);
    LAG_CUDA(cuda::wk_trigger(dev.norms.get(), dev.selected.get(), tau, static_cast<int>(M),
                              dev.fire.get(), dev.stream));
  }
  // One tiny collective so that every rank agrees on who sends.
  if (devices_.size() > 1) {
    LAG_NCCL(ncclGroupStart());
    for (Device& dev : devices_)
      LAG_NCCL(ncclAllReduce(dev.fire.get(), dev.fire.get(), M, ncclUint8, ncclMax, dev.comm,
                             dev.stream));
    LAG_NCCL(ncclGroupEnd());
    physical_up_ += (devices_.size() - 1) * M;
    physical_down_ += (devices_.size() - 1) * M;
  }
  fire.assign(M, 0);
  Device& s = server();
  LAG_CUDA(cudaSetDevice(s.id));
  LAG_CUDA(cudaMemcpyAsync(fire.data(), s.fire.get(), M, cudaMemcpyDeviceToHost, s.stream));
  LAG_CUDA(cudaStreamSynchronize(s.stream));
  // The uploads of host_flags_ on the other streams must finish before the buffer is reused.
  synchronize_all();
}

template <class T>
void CudaCluster<T>::ps_select(double tau, const std::vector<double>& worker_smoothness,
                               Flags& selected) {
  const std::size_t M = workers_.size();
  Device& s = server();
  LAG_CUDA(cudaSetDevice(s.id));
  double* distances = scalars_.get() + kPerWorker;
  double* smoothness = distances + M;
  if (worker_smoothness != smoothness_on_device_) {  // the same for a whole run
    LAG_CUDA(cudaMemcpyAsync(smoothness, worker_smoothness.data(), M * sizeof(double),
                             cudaMemcpyHostToDevice, s.stream));
    LAG_CUDA(cudaStreamSynchronize(s.stream));  // before the host vector may change
    smoothness_on_device_ = worker_smoothness;
  }
  if (one_device_graphs()) {
    // One replay and one wait: tau and the selection pass through the mirror. For linear and
    // logistic models the same replay computes the selected workers (their jobs run on the
    // device's flags), which compute() then finds done.
    if (!ps_graph_) {
      cuda::StreamCapture capture(s.stream);
      LAG_CUDA(cuda::distance2_rows<T>(theta_hat_.get(), s.theta.get(), params_,
                                       static_cast<int>(M), distances, rows_workspace_.get(),
                                       s.stream));
      LAG_CUDA(cuda::exchange_ps_select(
          at<double>(mirror_.device(), kMirrorPsTau), distances, smoothness, static_cast<int>(M),
          s.selected.get(), at<std::uint8_t>(mirror_.device(), mirror_ps(M)), s.stream));
      if (concurrent_workers()) {
        std::vector<std::size_t> all(M);
        for (std::size_t m = 0; m < M; ++m) all[m] = m;
        enqueue_batched(all, s.selected.get());
      }
      ps_graph_ = capture.finish();
    }
    *at<double>(mirror_.get(), kMirrorPsTau) = tau;
    LAG_CUDA(cudaGraphLaunch(ps_graph_, s.stream));
    LAG_CUDA(cudaStreamSynchronize(s.stream));
    const std::uint8_t* chosen = at<std::uint8_t>(mirror_.get(), mirror_ps(M));
    selected.assign(chosen, chosen + M);
    if (concurrent_workers()) {
      replicas_current_ = true;  // one device: the workers read the server's theta
      precomputed_ = selected;
    }
    return;
  }
  LAG_CUDA(cuda::distance2_rows<T>(theta_hat_.get(), s.theta.get(), params_, static_cast<int>(M),
                                   distances, rows_workspace_.get(), s.stream));
  LAG_CUDA(
      cuda::ps_select(distances, smoothness, tau, static_cast<int>(M), s.selected.get(), s.stream));
  selected.assign(M, 0);
  LAG_CUDA(cudaMemcpyAsync(selected.data(), s.selected.get(), M, cudaMemcpyDeviceToHost, s.stream));
  LAG_CUDA(cudaStreamSynchronize(s.stream));
}

template <class T>
Evaluation CudaCluster<T>::evaluate() {
  std::vector<int> missing;
  for (int m = 0; m < workers(); ++m)
    if (!workers_[static_cast<std::size_t>(m)].fresh) missing.push_back(m);
  // Monitoring only: g of a worker that does not send this round is scratch (see CpuCluster).
  compute_workers(missing);
  // Full gradient: each device sums its workers' g in worker order, the server adds the devices'
  // sums in device order (peer copies, not in the ledger: monitoring).
  Device& s = server();
  for (std::size_t slot = 0; slot < devices_.size(); ++slot) {
    Device& dev = devices_[slot];
    LAG_CUDA(cudaSetDevice(dev.id));
    T* sum = slot == 0 ? eval_.get() : dev.send.get();
    LAG_CUDA(cudaMemsetAsync(sum, 0, params_ * sizeof(T), dev.stream));
    for (const Worker& w : workers_)
      if (static_cast<std::size_t>(w.slot) == slot)
        LAG_CUDA(cuda::axpy<T>(T(1), w.g.get(), sum, params_, dev.stream));
    if (slot > 0) {
      LAG_CUDA(cudaStreamSynchronize(dev.stream));
      LAG_CUDA(cudaMemcpyPeerAsync(recv_[slot - 1].get(), s.id, sum, dev.id, params_ * sizeof(T),
                                   s.stream));
    }
  }
  LAG_CUDA(cudaSetDevice(s.id));
  for (std::size_t slot = 1; slot < devices_.size(); ++slot)
    LAG_CUDA(cuda::axpy<T>(T(1), recv_[slot - 1].get(), eval_.get(), params_, s.stream));
  LAG_CUDA(cuda::squared_norm<T>(eval_.get(), params_, scalars_.get() + kGradNorm2,
                                 s.workspace.get(), s.stream));
  Evaluation e;
  double norm2 = 0;
  LAG_CUDA(cudaMemcpyAsync(&norm2, scalars_.get() + kGradNorm2, sizeof(double),
                           cudaMemcpyDeviceToHost, s.stream));
  std::vector<double> parts(2 * workers_.size());
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    Device& dev = devices_[static_cast<std::size_t>(workers_[m].slot)];
    LAG_CUDA(cudaSetDevice(dev.id));
    LAG_CUDA(cudaMemcpyAsync(parts.data() + 2 * m, workers_[m].loss_parts.get(), 2 * sizeof(double),
                             cudaMemcpyDeviceToHost, dev.stream));
  }
  synchronize_all();
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    const Worker& w = workers_[m];
    const cuda::DeviceLoss<T>& loss =
        w.loss ? *w.loss : *devices_[static_cast<std::size_t>(w.slot)].loss;
    e.loss += loss.loss(parts.data() + 2 * m);
  }
  e.grad_norm = std::sqrt(norm2);
  return e;
}

template <class T>
void CudaCluster<T>::upload(const Flags& senders, bool replace) {
  precomputed_.clear();  // g_hat changes: deltas computed before are stale
  Device& s = server();
  const std::size_t D = devices_.size();
  std::vector<bool> device_sends(D, false);
  // Remote devices pre-sum their senders' vectors, in worker order.
  for (std::size_t slot = 1; slot < D; ++slot) {
    Device& dev = devices_[slot];
    LAG_CUDA(cudaSetDevice(dev.id));
    for (std::size_t m = 0; m < workers_.size(); ++m) {
      const Worker& w = workers_[m];
      if (!senders[m] || static_cast<std::size_t>(w.slot) != slot) continue;
      const T* v = replace ? w.g.get() : w.delta.get();
      if (!device_sends[slot])
        copy_device(dev.send.get(), v, params_, dev.stream);
      else
        LAG_CUDA(cuda::axpy<T>(T(1), v, dev.send.get(), params_, dev.stream));
      device_sends[slot] = true;
    }
  }
  // The server's own workers add straight into the aggregate, in worker order (with one GPU this
  // is the CPU backend's arithmetic exactly).
  LAG_CUDA(cudaSetDevice(s.id));
  if (replace) aggregate_.zero(s.stream);
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    const Worker& w = workers_[m];
    if (!senders[m] || w.slot != 0) continue;
    LAG_CUDA(cuda::axpy<T>(T(1), replace ? w.g.get() : w.delta.get(), aggregate_.get(), params_,
                           s.stream));
  }
  // Only devices with a sender send; the server posts a receive only for those.
  if (std::find(device_sends.begin() + 1, device_sends.end(), true) != device_sends.end()) {
    LAG_NCCL(ncclGroupStart());
    for (std::size_t slot = 1; slot < D; ++slot) {
      if (!device_sends[slot]) continue;
      LAG_NCCL(ncclSend(devices_[slot].send.get(), params_, nccl_type(), 0, devices_[slot].comm,
                        devices_[slot].stream));
      LAG_NCCL(ncclRecv(recv_[slot - 1].get(), params_, nccl_type(), static_cast<int>(slot), s.comm,
                        s.stream));
      physical_up_ += params_ * sizeof(T);
    }
    LAG_NCCL(ncclGroupEnd());
    LAG_CUDA(cudaSetDevice(s.id));
    for (std::size_t slot = 1; slot < D; ++slot)
      if (device_sends[slot])
        LAG_CUDA(cuda::axpy<T>(T(1), recv_[slot - 1].get(), aggregate_.get(), params_, s.stream));
  }
  // Senders: g_hat <- g (a swap of buffers, or a copy when graphs hold the pointers),
  // theta_hat <- theta on the server.
  for (std::size_t m = 0; m < workers_.size(); ++m) {
    if (!senders[m]) continue;
    Worker& w = workers_[m];
    if (graphs_) {
      Device& dev = devices_[static_cast<std::size_t>(w.slot)];
      LAG_CUDA(cudaSetDevice(dev.id));
      copy_device(w.g_hat.get(), w.g.get(), params_, dev.stream);
      LAG_CUDA(cudaSetDevice(s.id));
    } else {
      w.g_hat.swap(w.g);
    }
    copy_device(theta_hat_.get() + m * params_, s.theta.get(), params_, s.stream);
  }
}

template <class T>
double CudaCluster<T>::step(double step_size) {
  Device& s = server();
  LAG_CUDA(cudaSetDevice(s.id));
  // The server's stream must see the remote devices' work (their sends) complete first; NCCL
  // orders send/recv pairs, so waiting on the server stream is enough for the aggregate.
  LAG_CUDA(cuda::step_and_norm<T>(s.theta.get(), aggregate_.get(), step_size, params_,
                                  scalars_.get() + kChange2, s.workspace.get(), s.stream));
  double change2 = 0;
  LAG_CUDA(cudaMemcpyAsync(&change2, scalars_.get() + kChange2, sizeof(double),
                           cudaMemcpyDeviceToHost, s.stream));
  LAG_CUDA(cudaStreamSynchronize(s.stream));
  check_async_errors();
  for (Worker& w : workers_) w.fresh = false;
  replicas_current_ = false;
  precomputed_.clear();
  return change2;
}

template <class T>
cudaGraphExec_t CudaCluster<T>::exchange_graph(bool use_trigger, bool replace, double step_size) {
  for (const ExchangeGraph& g : exchange_graphs_)
    if (g.use_trigger == use_trigger && g.replace == replace && g.step_size == step_size)
      return g.exec;
  Device& s = server();
  const int M = workers();
  // A run uses at most three (use_trigger, replace) pairs and one step size; a cluster reused
  // for many step sizes keeps the newest few.
  constexpr std::size_t kMaxExchangeGraphs = 8;
  if (exchange_graphs_.size() == kMaxExchangeGraphs) {
    LAG_CUDA(cudaStreamSynchronize(s.stream));  // no replay of the one destroyed is pending
    LAG_CUDA(cudaGraphExecDestroy(exchange_graphs_.front().exec));
    exchange_graphs_.erase(exchange_graphs_.begin());
  }
  cuda::StreamCapture capture(s.stream);
  LAG_CUDA(cuda::exchange_decide(use_trigger, at<double>(mirror_.device(), kMirrorTau),
                                 at<std::uint8_t>(mirror_.device(), mirror_selected(M)),
                                 s.norms.get(), M, s.fire.get(),
                                 at<std::uint8_t>(mirror_.device(), mirror_fire(M)), s.stream));
  const cuda::WorkerVectors<T> vectors{g_table_.get(), delta_table_.get(), g_hat_table_.get()};
  LAG_CUDA(cuda::exchange_commit<T>(replace, vectors, s.fire.get(), M, s.theta.get(),
                                    theta_hat_.get(), aggregate_.get(), params_, s.stream));
  LAG_CUDA(cuda::step_and_norm<T>(s.theta.get(), aggregate_.get(), step_size, params_,
                                  at<double>(mirror_.device(), kMirrorChange2), s.workspace.get(),
                                  s.stream));
  exchange_graphs_.push_back({use_trigger, replace, step_size, capture.finish()});
  return exchange_graphs_.back().exec;
}

template <class T>
double CudaCluster<T>::exchange(bool use_trigger, double tau, const Flags& selected, bool replace,
                                double step_size, Flags& fire) {
  if (!graphs_ || devices_.size() != 1)
    return Cluster<T>::exchange(use_trigger, tau, selected, replace, step_size, fire);
  const std::size_t M = workers_.size();
  Device& s = server();
  LAG_CUDA(cudaSetDevice(s.id));
  const cudaGraphExec_t exec = exchange_graph(use_trigger, replace, step_size);
  // The previous replay finished (this call waits for its own), so the mirror is free to write.
  *at<double>(mirror_.get(), kMirrorTau) = tau;
  std::copy(selected.begin(), selected.end(), at<std::uint8_t>(mirror_.get(), mirror_selected(M)));
  LAG_CUDA(cudaGraphLaunch(exec, s.stream));
  LAG_CUDA(cudaStreamSynchronize(s.stream));
  check_async_errors();
  const std::uint8_t* fired = at<std::uint8_t>(mirror_.get(), mirror_fire(M));
  fire.assign(fired, fired + M);
  for (Worker& w : workers_) w.fresh = false;
  replicas_current_ = false;
  precomputed_.clear();
  return *at<volatile double>(mirror_.get(), kMirrorChange2);
}

template <class T>
std::vector<T> CudaCluster<T>::theta() const {
  const Device& s = devices_.front();
  std::vector<T> out(params_);
  LAG_CUDA(cudaSetDevice(s.id));
  LAG_CUDA(cudaMemcpyAsync(out.data(), s.theta.get(), params_ * sizeof(T), cudaMemcpyDeviceToHost,
                           s.stream));
  LAG_CUDA(cudaStreamSynchronize(s.stream));
  return out;
}

template <class T>
void CudaCluster<T>::take_physical_bytes(std::uint64_t& up, std::uint64_t& down) {
  up = physical_up_;
  down = physical_down_;
  physical_up_ = physical_down_ = 0;
}

template class CudaCluster<float>;
template class CudaCluster<double>;

}  // namespace lag
