#include "cluster/mpi_clusters.hpp"

#include "cluster/composed_cluster.hpp"
#include "cluster/cpu_cluster.hpp"
#include "cluster/server/host_server.hpp"
#include "cluster/transport/mpi_wire.hpp"

namespace lag {

template <class T>
std::unique_ptr<Cluster<T>> mpi_cpu_cluster(MpiSession& session, const Dataset<T>& data,
                                            const ModelSpec& model, ThreadPool& pool) {
  const int M = data.workers(), R = session.size(), me = session.rank();
  mpi::require_a_worker_per_rank(M, R);
  const mpi::WorkerBlock b = mpi::worker_block(M, R, me);
  return std::make_unique<ComposedCluster<T>>(
      M, nullptr,
      std::make_unique<CpuWorkers<T>>(shard_block(data, b.first, b.count), data.dim, model, pool),
      std::make_unique<HostServer<T>>(parameter_count(model, data.dim), M, me, R),
      std::make_unique<MpiWire>(session));
}

template std::unique_ptr<Cluster<float>> mpi_cpu_cluster<float>(MpiSession&, const Dataset<float>&,
                                                                const ModelSpec&, ThreadPool&);
template std::unique_ptr<Cluster<double>> mpi_cpu_cluster<double>(MpiSession&,
                                                                  const Dataset<double>&,
                                                                  const ModelSpec&, ThreadPool&);

}  // namespace lag
