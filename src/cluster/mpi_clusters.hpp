// The clusters of an MPI job (one engine per rank, SPMD), assembled from the parts
// (composed_cluster.hpp) over this rank's block of workers (worker_blocks.hpp). Collective:
// every rank constructs its cluster at the same point.
#pragma once

#include <memory>

#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"
#include "mpi/mpi_session.hpp"

namespace lag {

// CPU workers on the rank's thread pool, the server in rank 0's memory, MPI between them.
// `data` holds M shards, of which only this rank's block is read. `session`, `data` and `pool`
// must outlive the cluster. Throws lag::Error when M < R or a message would be too large.
template <class T>
std::unique_ptr<Cluster<T>> mpi_cpu_cluster(MpiSession& session, const Dataset<T>& data,
                                            const ModelSpec& model, ThreadPool& pool);

// CUDA workers of the rank's block on GPU `device`, the server on rank 0's GPU, NCCL between them
// (bootstrapped over MPI). Built only with CUDA and MPI (LAG_HAVE_MPI_CUDA).
template <class T>
std::unique_ptr<Cluster<T>> mpi_cuda_cluster(MpiSession& session, const Dataset<T>& data,
                                             const ModelSpec& model, int device, bool graphs);

}  // namespace lag
