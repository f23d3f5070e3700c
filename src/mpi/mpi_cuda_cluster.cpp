#include "mpi/mpi_cuda_cluster.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include "cuda/check.hpp"
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

// Offsets into scalars_ and host_scalars_ (the layout of CudaCluster's); host_scalars_ then
// holds two loss parts per local worker.
constexpr std::size_t kChange2 = 0, kGradNorm2 = 1, kPerWorker = 2;

using Phase = MpiSession::Phase;

}  // namespace

template <class T>
ncclDataType_t MpiCudaCluster<T>::nccl_type() const {
  return sizeof(T) == sizeof(double) ? ncclFloat64 : ncclFloat32;
}

template <class T>
MpiCudaCluster<T>::MpiCudaCluster(MpiSession& session, const Dataset<T>& data,
                                  const ModelSpec& model, int device, bool graphs)
    : session_(session),
      workers_total_(data.workers()),
      block_(mpi::worker_block(data.workers(), session.size(), session.rank())),
      params_(parameter_count(model, data.dim)),
      device_(device),
      graphs_(graphs),
      fault_(session) {
  if (workers_total_ < session.size())
    throw Error("--workers " + std::to_string(workers_total_) + " is fewer than the " +
                std::to_string(session.size()) + " MPI ranks: every rank needs a worker");
  const auto M = static_cast<std::size_t>(workers_total_);
  const std::size_t d = params_;
  LAG_CUDA(cudaSetDevice(device));
  LAG_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  LAG_CUBLAS(cublasCreate(&cublas_));
  LAG_CUBLAS(cublasSetStream(cublas_, stream_));
  constexpr std::size_t kCublasWorkspace = 32u << 20;  // as CudaCluster: cuBLAS's for Hopper
  cublas_workspace_ = cuda::DeviceBuffer<unsigned char>(device, kCublasWorkspace);
  LAG_CUBLAS(cublasSetWorkspace(cublas_, cublas_workspace_.get(), kCublasWorkspace));

  std::size_t max_rows = 0;
  for (int m = block_.first; m < block_.end(); ++m)
    max_rows = std::max(max_rows, data.shards[static_cast<std::size_t>(m)].rows);
  loss_ = std::make_unique<cuda::DeviceLoss<T>>(model, data.dim, max_rows, device);
  workers_.resize(static_cast<std::size_t>(block_.count));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    const Shard<T>& shard = data.shards[static_cast<std::size_t>(block_.first) + i];
    w.rows = shard.rows;
    w.x = cuda::DeviceBuffer<T>(device, shard.x.size());
    w.y = cuda::DeviceBuffer<T>(device, shard.y.size());
    w.x.upload(shard.x.data(), shard.x.size(), stream_);
    w.y.upload(shard.y.data(), shard.y.size(), stream_);
    w.g = cuda::DeviceBuffer<T>(device, d);
    w.g_hat = cuda::DeviceBuffer<T>(device, d);
    w.delta = cuda::DeviceBuffer<T>(device, d);
    w.loss_parts = cuda::DeviceBuffer<double>(device, 2);
  }
  theta_ = cuda::DeviceBuffer<T>(device, d);
  outbox_ = cuda::DeviceBuffer<T>(device, workers_.size() * d);
  eval_ = cuda::DeviceBuffer<T>(device, d);
  norms_ = cuda::DeviceBuffer<double>(device, M);
  scalars_ = cuda::DeviceBuffer<double>(device, kPerWorker + 2 * M);
  workspace_ = cuda::DeviceBuffer<double>(device, cuda::reduce_workspace_doubles());
  selected_ = cuda::DeviceBuffer<std::uint8_t>(device, M);
  fire_ = cuda::DeviceBuffer<std::uint8_t>(device, M);
  // Only this rank's entries of norms_ are ever written; the others stay 0 (and unselected).
  norms_.zero(stream_);
  selected_.zero(stream_);
  fire_.zero(stream_);
  eval_.zero(stream_);
  if (server()) {
    aggregate_ = cuda::DeviceBuffer<T>(device, d);
    theta_hat_ = cuda::DeviceBuffer<T>(device, M * d);
    inbox_.resize(static_cast<std::size_t>(ranks()));
    for (int r = 1; r < ranks(); ++r)
      inbox_[static_cast<std::size_t>(r)] = cuda::DeviceBuffer<T>(
          device,
          static_cast<std::size_t>(mpi::worker_block(workers_total_, ranks(), r).count) * d);
  }
  host_flags_ = cuda::PinnedBuffer<std::uint8_t>(2 * M);
  host_scalars_ = cuda::PinnedBuffer<double>(kPerWorker + 2 * M + 2 * workers_.size());
  host_theta_ = cuda::PinnedBuffer<T>(d);
  nccl_ = std::make_unique<mpi::NcclJob>(session, device);
  warm_up();
}

template <class T>
MpiCudaCluster<T>::~MpiCudaCluster() {
  // Unwinding after an error: end the NCCL kernels first (one may wait for a peer that is gone),
  // or freeing the memory below would wait for them.
  if (nccl_ && std::uncaught_exceptions() > 0) nccl_->abort();
  cudaSetDevice(device_);  // nothing here may throw
  if (all_workers_) cudaGraphExecDestroy(all_workers_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

template <class T>
void MpiCudaCluster<T>::wait(const char* during, int peer) const {
  nccl_->wait(stream_, during, peer);
}

// Opens every connection the iterations use (the collectives, each rank's upload to rank 0, the
// evaluation's chain from rank to rank), so that the first iteration is not timed with their
// setup. The buffers hold nothing yet.
template <class T>
void MpiCudaCluster<T>::warm_up() {
  const char* during = "the set-up of NCCL's connections";
  const int R = ranks(), me = session_.rank();
  mpi::NcclJob& job = *nccl_;
  ncclComm_t comm = job.comm();
  if (R > 1) {
    job.check(ncclBroadcast(eval_.get(), eval_.get(), params_, nccl_type(), 0, comm, stream_),
              during, Phase::Setup);
    job.check(ncclAllReduce(fire_.get(), fire_.get(), static_cast<std::size_t>(workers_total_),
                            ncclUint8, ncclMax, comm, stream_),
              during, Phase::Setup);
    job.check(ncclGroupStart(), during, Phase::Setup);
    if (server())
      for (int r = 1; r < R; ++r)
        job.check(ncclRecv(inbox_[static_cast<std::size_t>(r)].get(), params_, nccl_type(), r, comm,
                           stream_),
                  during, Phase::Setup);
    else
      job.check(ncclSend(outbox_.get(), params_, nccl_type(), 0, comm, stream_), during,
                Phase::Setup);
    job.check(ncclGroupEnd(), during, Phase::Setup);
    if (me > 0)
      job.check(ncclRecv(eval_.get(), params_, nccl_type(), me - 1, comm, stream_), during,
                Phase::Setup);
    if (me + 1 < R)
      job.check(ncclSend(eval_.get(), params_, nccl_type(), me + 1, comm, stream_), during,
                Phase::Setup);
  }
  job.wait(stream_, during, -1, Phase::Setup);
}

template <class T>
void MpiCudaCluster<T>::reset(const std::vector<double>& theta0) {
  LAG_CUDA(cudaSetDevice(device_));
  const std::size_t d = params_;
  // Every rank starts from the same theta0, so the replicas start current without a message.
  if (theta0.empty()) {
    theta_.zero(stream_);
  } else {
    for (std::size_t j = 0; j < d; ++j) host_theta_[j] = static_cast<T>(theta0[j]);
    theta_.upload(host_theta_.get(), d, stream_);
  }
  if (server()) {
    aggregate_.zero(stream_);
    for (std::size_t m = 0; m < static_cast<std::size_t>(workers_total_); ++m)
      copy_device(theta_hat_.get() + m * d, theta_.get(), d, stream_);
  }
  for (Worker& w : workers_) {
    w.g_hat.zero(stream_);
    w.fresh = false;
  }
  physical_up_ = physical_down_ = 0;
  wait("the reset of the workers");
}

template <class T>
void MpiCudaCluster<T>::enqueue_worker(std::size_t i) {
  Worker& w = workers_[i];
  loss_->gradient(w.x.get(), w.y.get(), w.rows, theta_.get(), w.g.get(), w.loss_parts.get(),
                  stream_, cublas_);
  LAG_CUDA(cuda::delta_and_norm<T>(w.g.get(), w.g_hat.get(), w.delta.get(), params_,
                                   norms_.get() + block_.first + i, workspace_.get(), stream_));
  w.fresh = true;
}

template <class T>
void MpiCudaCluster<T>::compute_local(const std::vector<std::size_t>& which) {
  for (std::size_t i : which) enqueue_worker(i);
}

// Every local worker computes (GD, LAG-WK, iteration 1): replay one graph. It holds fixed
// pointers, which is why commits copy g into g_hat instead of swapping them when graphs are on.
template <class T>
void MpiCudaCluster<T>::compute_all_with_graph() {
  if (!all_workers_) {
    cudaGraph_t graph = nullptr;
    LAG_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    for (std::size_t i = 0; i < workers_.size(); ++i) enqueue_worker(i);
    LAG_CUDA(cudaStreamEndCapture(stream_, &graph));
    const cudaError_t made = cudaGraphInstantiate(&all_workers_, graph, 0);
    cudaGraphDestroy(graph);
    LAG_CUDA(made);
  }
  LAG_CUDA(cudaGraphLaunch(all_workers_, stream_));
  for (Worker& w : workers_) w.fresh = true;
}

template <class T>
void MpiCudaCluster<T>::compute(const Flags& selected) {
  fault_.at_iteration(++iterations_);
  LAG_CUDA(cudaSetDevice(device_));
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < workers_.size(); ++i)
    if (selected[static_cast<std::size_t>(block_.first) + i]) which.push_back(i);
  // theta_ is current on every rank (reset, then each step's broadcast): nothing to send here.
  if (graphs_ && !which.empty() && which.size() == workers_.size())
    compute_all_with_graph();
  else
    compute_local(which);
}

template <class T>
void MpiCudaCluster<T>::trigger(double tau, const Flags& selected, Flags& fire) {
  const auto M = static_cast<std::size_t>(workers_total_);
  LAG_CUDA(cudaSetDevice(device_));
  // This rank decides for its own workers only; the others are masked out of its flags.
  std::uint8_t* in = host_flags_.get();
  std::uint8_t* out = in + M;
  std::fill(in, in + M, std::uint8_t{0});
  for (int m = block_.first; m < block_.end(); ++m)
    in[static_cast<std::size_t>(m)] = selected[static_cast<std::size_t>(m)];
  selected_.upload(in, M, stream_);
  LAG_CUDA(
      cuda::wk_trigger(norms_.get(), selected_.get(), tau, workers_total_, fire_.get(), stream_));
  const char* during = "the exchange of trigger flags (ncclAllReduce)";
  if (ranks() > 1) {
    // Each rank set only its own workers' flags; MAX leaves every flag as its owner set it.
    nccl_->check(
        ncclAllReduce(fire_.get(), fire_.get(), M, ncclUint8, ncclMax, nccl_->comm(), stream_),
        during);
    physical_up_ += others() * M;
    physical_down_ += others() * M;
  }
  LAG_CUDA(cudaMemcpyAsync(out, fire_.get(), M, cudaMemcpyDeviceToHost, stream_));
  wait(during);
  fire.assign(out, out + M);
}

template <class T>
void MpiCudaCluster<T>::ps_select(double tau, const std::vector<double>& worker_smoothness,
                                  Flags& selected) {
  const auto M = static_cast<std::size_t>(workers_total_);
  const std::size_t d = params_;
  LAG_CUDA(cudaSetDevice(device_));
  if (server()) {
    double* distances = scalars_.get() + kPerWorker;
    double* smoothness = distances + M;
    for (std::size_t m = 0; m < M; ++m)
      LAG_CUDA(cuda::distance2<T>(theta_hat_.get() + m * d, theta_.get(), d, distances + m,
                                  workspace_.get(), stream_));
    double* host_smoothness = host_scalars_.get() + kPerWorker + M;
    std::copy(worker_smoothness.begin(), worker_smoothness.begin() + static_cast<std::ptrdiff_t>(M),
              host_smoothness);
    LAG_CUDA(cudaMemcpyAsync(smoothness, host_smoothness, M * sizeof(double),
                             cudaMemcpyHostToDevice, stream_));
    LAG_CUDA(cuda::ps_select(distances, smoothness, tau, workers_total_, selected_.get(), stream_));
  }
  const char* during = "the broadcast of the server's requests (ncclBroadcast)";
  if (ranks() > 1) {
    nccl_->check(
        ncclBroadcast(selected_.get(), selected_.get(), M, ncclUint8, 0, nccl_->comm(), stream_),
        during);
    physical_down_ += others() * M;
  }
  std::uint8_t* out = host_flags_.get() + M;
  LAG_CUDA(cudaMemcpyAsync(out, selected_.get(), M, cudaMemcpyDeviceToHost, stream_));
  wait(during, server() ? -1 : 0);
  selected.assign(out, out + M);
}

template <class T>
void MpiCudaCluster<T>::upload(const Flags& senders, bool replace) {
  const int R = ranks();
  const std::size_t d = params_;
  LAG_CUDA(cudaSetDevice(device_));
  // How many senders each rank holds: known on every rank from the agreed flags, so rank 0
  // posts receives exactly for the ranks that send.
  std::vector<std::size_t> sending(static_cast<std::size_t>(R), 0);
  for (int m = 0; m < workers_total_; ++m)
    if (senders[static_cast<std::size_t>(m)]) ++sending[mpi::rank_of_worker(workers_total_, R, m)];
  for (int r = 1; r < R; ++r) physical_up_ += sending[static_cast<std::size_t>(r)] * d * sizeof(T);
  const auto vector_of = [&](std::size_t i) -> const T* {
    return replace ? workers_[i].g.get() : workers_[i].delta.get();
  };
  const auto is_sender = [&](std::size_t i) {
    return senders[static_cast<std::size_t>(block_.first) + i] != 0;
  };
  // g_hat <- g: a copy when the graph holds the pointers, else a swap. Enqueued after the
  // vector's last reader (the send or the addition), on the same stream.
  const auto commit = [&](std::size_t i) {
    Worker& w = workers_[i];
    if (graphs_)
      copy_device(w.g_hat.get(), w.g.get(), d, stream_);
    else
      w.g_hat.swap(w.g);
  };

  if (!server()) {
    const std::size_t mine = sending[static_cast<std::size_t>(session_.rank())];
    if (mine == 0) return;
    // One buffer with the senders' vectors one after another, not their sum: rank 0 must add
    // them one by one in worker order, or the sum (and every iterate after it) would differ
    // from the single-GPU run in the last bits. A lone sender's vector goes as it is.
    const T* payload = nullptr;
    std::size_t packed = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!is_sender(i)) continue;
      if (mine == 1) {
        payload = vector_of(i);
      } else {
        copy_device(outbox_.get() + packed * d, vector_of(i), d, stream_);
        payload = outbox_.get();
      }
      ++packed;
    }
    nccl_->check(ncclSend(payload, mine * d, nccl_type(), 0, nccl_->comm(), stream_),
                 "the upload to rank 0 (ncclSend)");
    for (std::size_t i = 0; i < workers_.size(); ++i)
      if (is_sender(i)) commit(i);
    return;  // step() waits for the stream
  }

  // Rank 0's own senders first (the lowest worker indices), in worker order, as CudaCluster
  // adds them on one GPU.
  if (replace) aggregate_.zero(stream_);
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!is_sender(i)) continue;
    LAG_CUDA(cuda::axpy<T>(T(1), vector_of(i), aggregate_.get(), d, stream_));
    commit(i);
  }
  const bool remote =
      std::any_of(sending.begin() + 1, sending.end(), [](std::size_t n) { return n > 0; });
  if (remote) {
    const char* during = "the uploads to rank 0 (ncclRecv)";
    nccl_->check(ncclGroupStart(), during);
    for (int r = 1; r < R; ++r) {
      const std::size_t n = sending[static_cast<std::size_t>(r)];
      if (n > 0)
        nccl_->check(ncclRecv(inbox_[static_cast<std::size_t>(r)].get(), n * d, nccl_type(), r,
                              nccl_->comm(), stream_),
                     during);
    }
    nccl_->check(ncclGroupEnd(), during);
    // Then rank by rank, each rank's senders in worker order: global worker order.
    for (int r = 1; r < R; ++r)
      for (std::size_t j = 0; j < sending[static_cast<std::size_t>(r)]; ++j)
        LAG_CUDA(cuda::axpy<T>(T(1), inbox_[static_cast<std::size_t>(r)].get() + j * d,
                               aggregate_.get(), d, stream_));
  }
  for (std::size_t m = 0; m < static_cast<std::size_t>(workers_total_); ++m)
    if (senders[m]) copy_device(theta_hat_.get() + m * d, theta_.get(), d, stream_);
}

template <class T>
double MpiCudaCluster<T>::step(double step_size) {
  LAG_CUDA(cudaSetDevice(device_));
  double* change2 = scalars_.get() + kChange2;
  if (server())
    LAG_CUDA(cuda::step_and_norm<T>(theta_.get(), aggregate_.get(), step_size, params_, change2,
                                    workspace_.get(), stream_));
  const char* during = "the broadcast of theta (ncclBroadcast)";
  if (ranks() > 1) {
    // theta and its step norm in one group: the replicas are current for the next compute (or
    // evaluation), and every engine pushes the same step norm into its threshold history.
    ncclComm_t comm = nccl_->comm();
    nccl_->check(ncclGroupStart(), during);
    nccl_->check(ncclBroadcast(theta_.get(), theta_.get(), params_, nccl_type(), 0, comm, stream_),
                 during);
    nccl_->check(ncclBroadcast(change2, change2, 1, ncclFloat64, 0, comm, stream_), during);
    nccl_->check(ncclGroupEnd(), during);
    physical_down_ += others() * (params_ * sizeof(T) + sizeof(double));
  }
  LAG_CUDA(cudaMemcpyAsync(host_scalars_.get() + kChange2, change2, sizeof(double),
                           cudaMemcpyDeviceToHost, stream_));
  // Rank 0's stream also holds the receives of this iteration's uploads; the other ranks' holds
  // their sends.
  wait(during, server() ? -1 : 0);
  for (Worker& w : workers_) w.fresh = false;
  return host_scalars_[kChange2];
}

template <class T>
Evaluation MpiCudaCluster<T>::evaluate() {
  LAG_CUDA(cudaSetDevice(device_));
  // Monitoring only: g of a worker that does not send this round is scratch (see CpuCluster).
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < workers_.size(); ++i)
    if (!workers_[i].fresh) missing.push_back(i);
  compute_local(missing);
  // The full gradient summed in worker order, as CudaCluster sums it on one GPU: the running
  // sum travels along the ranks in rank order, each adding its block (R - 1 messages of one
  // vector instead of gathering M).
  const int R = ranks(), me = session_.rank();
  const char* during = "the evaluation's running sum (ncclSend/ncclRecv)";
  if (me > 0)
    nccl_->check(ncclRecv(eval_.get(), params_, nccl_type(), me - 1, nccl_->comm(), stream_),
                 during);
  else
    eval_.zero(stream_);
  for (const Worker& w : workers_)
    LAG_CUDA(cuda::axpy<T>(T(1), w.g.get(), eval_.get(), params_, stream_));
  if (me + 1 < R) {
    nccl_->check(ncclSend(eval_.get(), params_, nccl_type(), me + 1, nccl_->comm(), stream_),
                 during);
  } else {
    LAG_CUDA(cuda::squared_norm<T>(eval_.get(), params_, scalars_.get() + kGradNorm2,
                                   workspace_.get(), stream_));
    LAG_CUDA(cudaMemcpyAsync(host_scalars_.get() + kGradNorm2, scalars_.get() + kGradNorm2,
                             sizeof(double), cudaMemcpyDeviceToHost, stream_));
  }
  const auto M = static_cast<std::size_t>(workers_total_);
  double* parts = host_scalars_.get() + kPerWorker + 2 * M;
  for (std::size_t i = 0; i < workers_.size(); ++i)
    LAG_CUDA(cudaMemcpyAsync(parts + 2 * i, workers_[i].loss_parts.get(), 2 * sizeof(double),
                             cudaMemcpyDeviceToHost, stream_));
  wait(during, me > 0 ? me - 1 : -1);

  // The loss: the workers' losses added in worker order on the last rank (host values: MPI).
  std::vector<double> losses(M, 0.0);
  for (std::size_t i = 0; i < workers_.size(); ++i)
    losses[static_cast<std::size_t>(block_.first) + i] = loss_->loss(parts + 2 * i);
  Evaluation e;
  if (R > 1) {
    std::vector<int> counts(static_cast<std::size_t>(R)), firsts(static_cast<std::size_t>(R));
    for (int r = 0; r < R; ++r) {
      const mpi::WorkerBlock b = mpi::worker_block(workers_total_, R, r);
      counts[static_cast<std::size_t>(r)] = b.count;
      firsts[static_cast<std::size_t>(r)] = b.first;
    }
    std::vector<double> mine(losses.begin() + block_.first, losses.begin() + block_.end());
    MPI_Request request;
    LAG_MPI(MPI_Igatherv(mine.data(), block_.count, MPI_DOUBLE, losses.data(), counts.data(),
                         firsts.data(), MPI_DOUBLE, R - 1, MPI_COMM_WORLD, &request));
    session_.wait(request, "the gathering of the workers' losses (MPI_Igatherv)", R - 1);
  }
  if (me == R - 1) {
    for (double l : losses) e.loss += l;
    e.grad_norm = std::sqrt(host_scalars_[kGradNorm2]);
  }
  if (R == 1) return e;
  // The last rank holds the result; every engine takes its stopping decisions on it.
  double result[2] = {e.loss, e.grad_norm};
  session_.broadcast(result, 2, R - 1, "the broadcast of the evaluation (MPI_Ibcast)");
  e.loss = result[0];
  e.grad_norm = result[1];
  return e;
}

template <class T>
std::vector<T> MpiCudaCluster<T>::theta() const {
  LAG_CUDA(cudaSetDevice(device_));
  LAG_CUDA(cudaMemcpyAsync(host_theta_.get(), theta_.get(), params_ * sizeof(T),
                           cudaMemcpyDeviceToHost, stream_));
  wait("the copy of theta to the host");
  return std::vector<T>(host_theta_.get(), host_theta_.get() + params_);
}

template <class T>
void MpiCudaCluster<T>::take_physical_bytes(std::uint64_t& up, std::uint64_t& down) {
  up = physical_up_;
  down = physical_down_;
  physical_up_ = physical_down_ = 0;
}

template <class T>
bool MpiCudaCluster<T>::agree(bool value) {
  return session_.root_decision(value, "the broadcast of rank 0's time-limit decision, MPI_Ibcast");
}

template class MpiCudaCluster<float>;
template class MpiCudaCluster<double>;

}  // namespace lag
