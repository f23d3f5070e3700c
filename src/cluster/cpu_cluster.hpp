// The clusters of CPU workers, assembled from the parts (composed_cluster.hpp): CpuWorkers, the
// HostServer and, in one process, the LocalWire (nothing crosses a boundary); across the ranks
// of an MPI job, the MpiWire (mpi_cpu_cluster in cluster/mpi_clusters.hpp).
#pragma once

#include <vector>

#include "cluster/composed_cluster.hpp"
#include "cluster/workers/cpu_workers.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"

namespace lag {

// Shards [first, first + count) of `data`.
template <class T>
std::vector<const Shard<T>*> shard_block(const Dataset<T>& data, int first, int count) {
  std::vector<const Shard<T>*> out;
  for (int m = first; m < first + count; ++m)
    out.push_back(&data.shards[static_cast<std::size_t>(m)]);
  return out;
}

template <class T>
class CpuCluster final : public ComposedCluster<T> {
 public:
  static constexpr std::size_t kChunkRows = CpuWorkers<T>::kChunkRows;

  // `data` and `pool` must outlive the cluster; model.classes (and hidden) must be set for the
  // multi-class models.
  CpuCluster(const Dataset<T>& data, const ModelSpec& model, ThreadPool& pool);
};

}  // namespace lag
