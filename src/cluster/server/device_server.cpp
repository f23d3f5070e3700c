#include "cluster/server/device_server.hpp"

#include <algorithm>

#include "compress.cuh"
#include "cuda/check.hpp"
#include "lag/error.hpp"
#include "mpi/worker_blocks.hpp"
#include "reduce.cuh"
#include "trigger.cuh"
#include "vector_ops.cuh"

namespace lag {

template <class T>
DeviceServer<T>::DeviceServer(std::size_t params, int workers, int rank, int ranks,
                              cuda::DeviceContext& context)
    : context_(context), params_(params), workers_(static_cast<std::size_t>(workers)) {
  const int dev = context.device();
  const std::size_t d = params, M = workers_;
  theta_ = cuda::DeviceBuffer<T>(dev, d);
  running_sum_ = cuda::DeviceBuffer<T>(dev, d);
  scalars_ = cuda::DeviceBuffer<double>(dev, Server<T>::kScalars + 2 * M);
  flags_ = cuda::DeviceBuffer<std::uint8_t>(dev, M);
  workspace_ = cuda::DeviceBuffer<double>(dev, cuda::reduce_workspace_doubles());
  host_theta_ = cuda::PinnedBuffer<T>(d);
  const cudaStream_t s = context.stream();
  scalars_.zero(s);
  flags_.zero(s);
  running_sum_.zero(s);
  if (rank != 0) return;
  aggregate_ = cuda::DeviceBuffer<T>(dev, d);
  theta_hat_ = cuda::DeviceBuffer<T>(dev, M * d);
  inbox_.resize(static_cast<std::size_t>(ranks));
  for (int r = 1; r < ranks; ++r)
    inbox_[static_cast<std::size_t>(r)] = cuda::DeviceBuffer<std::uint8_t>(
        dev, static_cast<std::size_t>(mpi::worker_block(workers, ranks, r).count) * d * sizeof(T));
  rows_workspace_ = cuda::DeviceBuffer<double>(dev, M * cuda::reduce_workspace_doubles());
  host_smoothness_ = cuda::PinnedBuffer<double>(M);
}

template <class T>
void DeviceServer<T>::reset(const std::vector<double>& theta0) {
  const cudaStream_t s = context_.stream();
  context_.use();
  if (theta0.empty()) {
    theta_.zero(s);
  } else {
    // The previous reset's copy from host_theta_ was waited for (reset ends with a wait).
    for (std::size_t j = 0; j < params_; ++j) host_theta_[j] = static_cast<T>(theta0[j]);
    theta_.upload(host_theta_.get(), params_, s);
  }
  if (!aggregate_.get()) return;
  aggregate_.zero(s);
  for (std::size_t m = 0; m < workers_; ++m)
    LAG_CUDA(cudaMemcpyAsync(theta_hat_.get() + m * params_, theta_.get(), params_ * sizeof(T),
                             cudaMemcpyDeviceToDevice, s));
}

template <class T>
void DeviceServer<T>::save(ClusterState<T>& state) {
  context_.use();
  const cudaStream_t s = context_.stream();
  const auto copy = [&](std::vector<T>& out, const T* from, std::size_t n) {
    out.resize(n);
    LAG_CUDA(cudaMemcpyAsync(out.data(), from, n * sizeof(T), cudaMemcpyDeviceToHost, s));
  };
  copy(state.theta, theta_.get(), params_);
  state.aggregate.clear();
  state.theta_hat.clear();
  if (aggregate_.get()) {
    copy(state.aggregate, aggregate_.get(), params_);
    copy(state.theta_hat, theta_hat_.get(), workers_ * params_);
  }
  LAG_CUDA(cudaStreamSynchronize(s));
}

template <class T>
void DeviceServer<T>::load(const ClusterState<T>& state) {
  context_.use();
  const cudaStream_t s = context_.stream();
  theta_.upload(state.theta.data(), params_, s);
  if (aggregate_.get()) {
    aggregate_.upload(state.aggregate.data(), params_, s);
    theta_hat_.upload(state.theta_hat.data(), workers_ * params_, s);
  }
  // Pageable sources: wait, so that the caller's vectors may go away.
  LAG_CUDA(cudaStreamSynchronize(s));
}

template <class T>
void DeviceServer<T>::zero(T* v) {
  context_.use();
  LAG_CUDA(cudaMemsetAsync(v, 0, params_ * sizeof(T), context_.stream()));
}

template <class T>
void DeviceServer<T>::norm2(const T* v, double* out) {
  context_.use();
  LAG_CUDA(cuda::squared_norm<T>(v, params_, out, workspace_.get(), context_.stream()));
}

template <class T>
void DeviceServer<T>::begin_upload(bool replace) {
  context_.use();
  if (replace) aggregate_.zero(context_.stream());
}

template <class T>
std::uint8_t* DeviceServer<T>::inbox(int rank, std::size_t bytes) {
  auto& box = inbox_[static_cast<std::size_t>(rank)];
  if (box.size() < bytes) {
    // Only between rounds (several ranks: no exchange graph holds the old buffer).
    LAG_CUDA(cudaStreamSynchronize(context_.stream()));
    box = cuda::DeviceBuffer<std::uint8_t>(context_.device(), bytes);
  }
  return box.get();
}

template <class T>
void DeviceServer<T>::add(const void* payload, const Round& round) {
  context_.use();
  const cudaStream_t s = context_.stream();
  const auto* bytes = static_cast<const std::uint8_t*>(payload);
  switch (round.upload) {
    case Round::Upload::Quantized:
      LAG_CUDA(cuda::add_quantized<T>(bytes, params_, round.bits, aggregate_.get(), s));
      break;
    case Round::Upload::TopK:
      LAG_CUDA(cuda::add_top_k<T>(bytes, round.top_k, aggregate_.get(), s));
      break;
    default:
      LAG_CUDA(cuda::axpy<T>(T(1), static_cast<const T*>(payload), aggregate_.get(), params_, s));
  }
}

template <class T>
void DeviceServer<T>::sent(std::size_t m) {
  context_.use();
  LAG_CUDA(cudaMemcpyAsync(theta_hat_.get() + m * params_, theta_.get(), params_ * sizeof(T),
                           cudaMemcpyDeviceToDevice, context_.stream()));
}

template <class T>
void DeviceServer<T>::step(double step_size) {
  context_.use();
  LAG_CUDA(cuda::step_and_norm<T>(theta_.get(), aggregate_.get(), step_size, params_,
                                  scalars_.get() + Server<T>::kChange2, workspace_.get(),
                                  context_.stream()));
}

template <class T>
void DeviceServer<T>::ps_select(double tau, const std::vector<double>& worker_smoothness,
                                std::uint8_t* selected) {
  context_.use();
  const cudaStream_t s = context_.stream();
  const int M = static_cast<int>(workers_);
  double* distances = scalars_.get() + Server<T>::kScalars;
  double* smoothness = distances + workers_;
  if (worker_smoothness != smoothness_on_device_) {  // the same for a whole run
    LAG_CUDA(cudaStreamSynchronize(s));              // no earlier copy still reads the buffer
    std::copy(worker_smoothness.begin(), worker_smoothness.end(), host_smoothness_.get());
    LAG_CUDA(cudaMemcpyAsync(smoothness, host_smoothness_.get(), workers_ * sizeof(double),
                             cudaMemcpyHostToDevice, s));
    smoothness_on_device_ = worker_smoothness;
  }
  LAG_CUDA(cuda::distance2_rows<T>(theta_hat_.get(), theta_.get(), params_, M, distances,
                                   rows_workspace_.get(), s));
  LAG_CUDA(cuda::ps_select(distances, smoothness, tau, M, selected, s));
}

template class DeviceServer<float>;
template class DeviceServer<double>;

}  // namespace lag
