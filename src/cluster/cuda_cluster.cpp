#include "cluster/cuda_cluster.hpp"

#include <algorithm>

#include "cluster/cpu_cluster.hpp"
#include "cluster/transport/device_wire.hpp"
#include "cuda/check.hpp"
#include "cuda/stream_capture.hpp"
#include "exchange.cuh"
#include "reduce.cuh"

namespace lag {

std::vector<int> visible_cuda_devices() {
  int count = 0;  // left unwritten when there is no driver
  if (cudaGetDeviceCount(&count) != cudaSuccess) return {};
  std::vector<int> ids;
  for (int i = 0; i < count; ++i) ids.push_back(i);
  return ids;
}

template <class T>
typename CudaCluster<T>::Parts CudaCluster<T>::assemble(
    const Dataset<T>& data, const ModelSpec& model, std::shared_ptr<cuda::DeviceContext> context,
    std::unique_ptr<Wire> wire, bool graphs) {
  Parts p;
  p.workers = data.workers();
  if (!wire) wire = std::make_unique<DeviceWire>(*context);
  const int R = wire->size(), me = wire->rank();
  mpi::require_a_worker_per_rank(p.workers, R);
  const mpi::WorkerBlock b = mpi::worker_block(p.workers, R, me);
  p.local = std::make_unique<CudaWorkers<T>>(shard_block(data, b.first, b.count), data.dim, model,
                                             *context, graphs);
  p.server = std::make_unique<DeviceServer<T>>(parameter_count(model, data.dim), p.workers, me, R,
                                               *context);
  p.context = std::move(context);
  p.wire = std::move(wire);
  return p;
}

template <class T>
CudaCluster<T>::CudaCluster(Parts p)
    : ComposedCluster<T>(p.workers, p.context, std::move(p.local), std::move(p.server),
                         std::move(p.wire)),
      context_(p.context.get()) {
  if (this->ranks() == 1 && gpu_workers().graphs())
    mirror_ = cuda::PinnedBuffer<unsigned char>(sizeof(MirrorHead) + 2 * p.workers,
                                                /*mapped=*/true);
}

template <class T>
CudaCluster<T>::CudaCluster(const Dataset<T>& data, const ModelSpec& model,
                            std::shared_ptr<cuda::DeviceContext> context,
                            std::unique_ptr<Wire> wire, bool graphs)
    : CudaCluster(assemble(data, model, std::move(context), std::move(wire), graphs)) {}

template <class T>
CudaCluster<T>::CudaCluster(const Dataset<T>& data, const ModelSpec& model, int device, bool graphs)
    : CudaCluster(data, model, std::make_shared<cuda::DeviceContext>(device), nullptr, graphs) {}

template <class T>
CudaCluster<T>::~CudaCluster() {
  // No replay is pending. (Exchange graphs exist with one rank only, where no NCCL operation can
  // wait for a peer that is gone; with several, the wire ends those before anything waits.)
  if (!exchange_graphs_.empty()) cudaStreamSynchronize(context_->stream());
  for (ExchangeGraph& g : exchange_graphs_) cudaGraphExecDestroy(g.exec);
}

template <class T>
cudaGraphExec_t CudaCluster<T>::exchange_graph(bool use_trigger, bool replace, double step_size) {
  for (const ExchangeGraph& g : exchange_graphs_)
    if (g.use_trigger == use_trigger && g.replace == replace && g.step_size == step_size)
      return g.exec;
  const cudaStream_t s = context_->stream();
  const int M = this->workers();
  // A run uses at most three (use_trigger, replace) pairs and one step size; a cluster reused
  // for many step sizes keeps the newest few.
  constexpr std::size_t kMaxExchangeGraphs = 8;
  if (exchange_graphs_.size() == kMaxExchangeGraphs) {
    LAG_CUDA(cudaStreamSynchronize(s));  // no replay of the one destroyed is pending
    LAG_CUDA(cudaGraphExecDestroy(exchange_graphs_.front().exec));
    exchange_graphs_.erase(exchange_graphs_.begin());
  }
  auto* head = reinterpret_cast<MirrorHead*>(mirror_.device());
  std::uint8_t* selected = mirror_.device() + sizeof(MirrorHead);
  std::uint8_t* fire_host = selected + M;
  DeviceServer<T>& server = gpu_server();
  CudaWorkers<T>& workers = gpu_workers();
  const std::size_t d = this->dim();
  cuda::StreamCapture capture(s);
  LAG_CUDA(cuda::exchange_decide(use_trigger, &head->tau, selected, workers.delta_norms(), M,
                                 server.flags(), fire_host, s));
  LAG_CUDA(cuda::exchange_commit<T>(replace, workers.vector_tables(), server.flags(), M,
                                    server.theta(), server.theta_hat(), server.aggregate(), d, s));
  LAG_CUDA(cuda::step_and_norm<T>(server.theta(), server.aggregate(), step_size, d, &head->change2,
                                  server.workspace(), s));
  exchange_graphs_.push_back({use_trigger, replace, step_size, capture.finish()});
  return exchange_graphs_.back().exec;
}

template <class T>
double CudaCluster<T>::exchange(const Round& round, const Flags& selected, double step_size,
                                Flags& fire) {
  // The graph holds LAG's rounds: no rule (every selected worker uploads) or LAG-WK's, and
  // deltas or GD's gradients.
  const bool lag_round =
      !round.forced &&
      (round.trigger == Round::Trigger::None || round.trigger == Round::Trigger::LagWk) &&
      (round.upload == Round::Upload::Delta || round.upload == Round::Upload::Gradient);
  if (!mirror_.get() || !lag_round)  // several ranks, graphs off, other rounds: three steps
    return Cluster<T>::exchange(round, selected, step_size, fire);
  const bool use_trigger = round.trigger == Round::Trigger::LagWk;
  const bool replace = round.upload == Round::Upload::Gradient;
  const double tau = round.tau;
  const std::size_t M = selected.size();
  context_->use();
  const cudaGraphExec_t exec = exchange_graph(use_trigger, replace, step_size);
  // The previous replay finished (this call waits for its own), so the mirror is free to write.
  auto* head = reinterpret_cast<MirrorHead*>(mirror_.get());
  std::uint8_t* mirror_selected = mirror_.get() + sizeof(MirrorHead);
  head->tau = tau;
  std::copy(selected.begin(), selected.end(), mirror_selected);
  LAG_CUDA(cudaGraphLaunch(exec, context_->stream()));
  this->wire().wait("the exchange");
  fire.assign(mirror_selected + M, mirror_selected + 2 * M);
  gpu_workers().mark_stale();
  return static_cast<volatile MirrorHead*>(head)->change2;
}

template class CudaCluster<float>;
template class CudaCluster<double>;

}  // namespace lag
