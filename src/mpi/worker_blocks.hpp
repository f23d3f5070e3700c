// Which workers each rank of an MPI job holds: contiguous blocks in worker order, the first
// M % R ranks one worker more. Contiguous blocks let rank 0 add the uploads rank by rank and
// still add them in global worker order, the order of the single-process sum (bit-identical).
#pragma once

#include <algorithm>
#include <string>

#include "lag/error.hpp"

namespace lag::mpi {

struct WorkerBlock {
  int first = 0;  // global index of the rank's first worker
  int count = 0;
  int end() const { return first + count; }
};

inline WorkerBlock worker_block(int workers, int ranks, int rank) {
  const int base = workers / ranks, extra = workers % ranks;
  return {rank * base + std::min(rank, extra), base + (rank < extra ? 1 : 0)};
}

// Throws lag::Error unless every one of `ranks` ranks has a worker.
inline void require_a_worker_per_rank(int workers, int ranks) {
  if (workers < ranks)
    throw Error("--workers " + std::to_string(workers) + " is fewer than the " +
                std::to_string(ranks) + " MPI ranks: every rank needs a worker");
}

inline int rank_of_worker(int workers, int ranks, int worker) {
  const int base = workers / ranks, extra = workers % ranks;
  const int split = extra * (base + 1);  // workers held by the ranks with one more
  return worker < split ? worker / (base + 1) : extra + (worker - split) / base;
}

}  // namespace lag::mpi
