// The processes one `lag train` runs in: this one alone, or one rank of an MPI job that mpirun
// started (detected from the environment, never from a flag). Every rank runs the same
// command; alone, every method here is the obvious no-op, so the single-process run is exactly
// what it was.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/backend.hpp"
#include "cli/data_options.hpp"
#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/process_group.hpp"
#include "lag/smoothness.hpp"
#include "lag/thread_pool.hpp"

namespace lag::cli {

class Spmd {
 public:
  // Joins the MPI job when an MPI launcher started this process (MPI_Init). Throws lag::Error
  // when one did but this build has no MPI: the ranks would each train alone and overwrite one
  // another's outputs.
  Spmd();
  ~Spmd();
  Spmd(const Spmd&) = delete;
  Spmd& operator=(const Spmd&) = delete;

  bool mpi() const;
  int rank() const;
  int size() const;
  bool root() const { return rank() == 0; }
  // Threads for this rank's pool when --threads is not given: the cores shared among the ranks
  // on this machine (at least 1); 0 (all cores) alone.
  int default_threads() const;

  // The ranks as the process group over which the workers are spread (the loaders, the
  // smoothness constants and L* work through it); alone, single_process().
  ProcessGroup& group();

  // Runs `step` on every rank. Alone, its exceptions pass through. In an MPI job they are
  // caught and the ranks agree: when any rank failed, the lowest failing rank prints its error
  // ("lag: error: rank R: ...") and every rank gets false (and should exit 1); the others would
  // otherwise wait for it. A rank that only stopped because another failed (PeerFailure, from a
  // collective step inside `step`) prints nothing: the rank that failed does.
  [[nodiscard]] bool all_succeed(const std::function<void()>& step);
  // Runs `body`; in an MPI job an exception ends the whole job at once with its message (the
  // other ranks are inside the training loop, waiting for this one).
  void or_abort(const std::function<void()>& body);
  // Runs `f` (this rank's share of the smoothness constants and L*) with as many OpenBLAS
  // threads as a plain run on this machine uses. mpirun binds each rank to its share of the
  // cores, OpenBLAS then starts fewer threads, and its multi-threaded dsyrk/dsymv round
  // differently for a different thread count: L, and with it every iterate, would differ from
  // the plain run in the last bits. Alone (or with OPENBLAS_NUM_THREADS set, which both runs
  // obey) it just runs `f`.
  void with_plain_run_blas(const std::function<void()>& f);
  // Rank 0's smoothness constants and L* on every rank (all ranks compute them together, with
  // the same bits on machines alike): one set of numbers for every engine, even across machines
  // whose BLAS rounds differently. `workers` sizes the per-worker constants. Nothing alone.
  void share_constants(int workers, Smoothness& smooth, std::optional<double>& optimum);

  // MPI jobs: where this rank's workers run, for --backend `name` and --devices `devices`.
  // cpu: the thread pool. cuda: one GPU per rank, entry (local rank mod count) of the devices
  // list (--devices, or every visible device); throws lag::Error without a device, or when
  // ranks on one machine would share a GPU (which NCCL refuses) and NCCL_HOSTID is not set.
  // auto: cuda where that works, else cpu. Not collective: call agree_backend() after.
  BackendChoice choose_backend(const std::string& name, const std::string& devices) const;
  // Collective: the ranks' choices made alike (auto may find a GPU on one machine and none on
  // another): cpu everywhere unless every rank chose cuda.
  void agree_backend(BackendChoice& backend);

  // The MPI transport's cluster over this rank's block of `data`'s workers (MPI jobs only): on
  // the CPU thread pool, or on the rank's GPU when `backend` says cuda.
  template <class T>
  std::unique_ptr<Cluster<T>> make_cluster(const BackendChoice& backend, const Dataset<T>& data,
                                           const ModelSpec& model, ThreadPool& pool);

 private:
  struct Job;
  std::unique_ptr<Job> job_;  // null alone
};

}  // namespace lag::cli
