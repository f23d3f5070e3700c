#include "cluster/cpu_cluster.hpp"

#include "cluster/server/host_server.hpp"
#include "cluster/transport/local_wire.hpp"

namespace lag {

template <class T>
CpuCluster<T>::CpuCluster(const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool)
    : ComposedCluster<T>(
          data.workers(), nullptr,
          std::make_unique<CpuWorkers<T>>(shard_block(data, 0, data.workers()), data.dim, model,
                                          pool),
          std::make_unique<HostServer<T>>(parameter_count(model, data.dim), data.workers(), 0, 1),
          std::make_unique<LocalWire>()) {}

template class CpuCluster<float>;
template class CpuCluster<double>;

}  // namespace lag
