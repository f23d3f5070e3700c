// mpi_cuda_cluster (mpi_clusters.hpp): the CUDA cluster over an NcclWire.
#include "cluster/cuda_cluster.hpp"
#include "cluster/mpi_clusters.hpp"
#include "cluster/transport/nccl_wire.hpp"

namespace lag {

template <class T>
std::unique_ptr<Cluster<T>> mpi_cuda_cluster(MpiSession& session, const Dataset<T>& data,
                                             const ModelSpec& model, int device, bool graphs) {
  mpi::require_a_worker_per_rank(data.workers(), session.size());
  auto context = std::make_shared<cuda::DeviceContext>(device);
  auto wire = std::make_unique<NcclWire>(session, *context);
  return std::make_unique<CudaCluster<T>>(data, model, std::move(context), std::move(wire), graphs);
}

template std::unique_ptr<Cluster<float>> mpi_cuda_cluster<float>(MpiSession&, const Dataset<float>&,
                                                                 const ModelSpec&, int, bool);
template std::unique_ptr<Cluster<double>> mpi_cuda_cluster<double>(MpiSession&,
                                                                   const Dataset<double>&,
                                                                   const ModelSpec&, int, bool);

}  // namespace lag
