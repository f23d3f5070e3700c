// The cluster of GPU workers (docs/architecture.md §4): one rank's workers on one GPU
// (CudaWorkers), the server on rank 0's GPU (DeviceServer), and the wire: DeviceWire for a
// process alone, NcclWire for a rank of an MPI job (mpi_cuda_cluster in mpi_clusters.hpp). The
// single-process run is the rank code with one rank; a node's GPUs are used by one rank each.
//
// With one rank and graphs, the exchange half of an iteration (trigger, masked aggregation in
// worker order, commits, step) is one replay of a captured graph whose inputs and outputs live
// in host-mapped memory (kernels/exchange.cuh), with one wait: the same additions in the same
// order as the protocol's trigger, upload and step, which run instead with graphs off or with
// several ranks (where rank 0 must know the flags to receive the uploads).
#pragma once

#include <memory>
#include <vector>

#include "cluster/composed_cluster.hpp"
#include "cluster/device_context.hpp"
#include "cluster/server/device_server.hpp"
#include "cluster/transport/wire.hpp"
#include "cluster/workers/cuda_workers.hpp"
#include "cuda/pinned_buffer.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"

namespace lag {

// Device indices visible to this process (empty without a usable driver and device).
std::vector<int> visible_cuda_devices();

template <class T>
class CudaCluster final : public ComposedCluster<T> {
 public:
  // One process on GPU `device`: every worker of `data` there. With `graphs`, rounds are
  // replayed from CUDA graphs (cuda_workers.hpp) and so is the exchange.
  CudaCluster(const Dataset<T>& data, const ModelSpec& model, int device, bool graphs = true);
  // One rank of a job: its block of `data`'s workers on the context's GPU, over `wire` (whose
  // memory space is that GPU). `data` need not hold the other ranks' shards' rows.
  CudaCluster(const Dataset<T>& data, const ModelSpec& model,
              std::shared_ptr<cuda::DeviceContext> context, std::unique_ptr<Wire> wire,
              bool graphs);
  ~CudaCluster() override;

  double exchange(const Round& round, const Flags& selected, double step_size,
                  Flags& fire) override;

 private:
  struct Parts {
    int workers = 0;
    std::shared_ptr<cuda::DeviceContext> context;
    std::unique_ptr<CudaWorkers<T>> local;
    std::unique_ptr<DeviceServer<T>> server;
    std::unique_ptr<Wire> wire;
  };
  static Parts assemble(const Dataset<T>& data, const ModelSpec& model,
                        std::shared_ptr<cuda::DeviceContext> context, std::unique_ptr<Wire> wire,
                        bool graphs);
  explicit CudaCluster(Parts parts);

  struct ExchangeGraph {
    bool use_trigger = false, replace = false;
    double step_size = 0;
    cudaGraphExec_t exec = nullptr;
  };
  cudaGraphExec_t exchange_graph(bool use_trigger, bool replace, double step_size);
  CudaWorkers<T>& gpu_workers() { return static_cast<CudaWorkers<T>&>(this->local_workers()); }
  DeviceServer<T>& gpu_server() { return static_cast<DeviceServer<T>&>(this->server()); }

  cuda::DeviceContext* context_;
  // The exchange graph's host-mapped inputs and outputs: tau, change2, then M bytes of selected
  // and M of fire.
  struct MirrorHead {
    double tau;
    double change2;
  };
  cuda::PinnedBuffer<unsigned char> mirror_;
  std::vector<ExchangeGraph> exchange_graphs_;
};

}  // namespace lag
