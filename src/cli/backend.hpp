// Choosing where the workers run: the CPU thread pool or the GPUs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lag/cluster.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/thread_pool.hpp"

namespace lag::cli {

struct BackendChoice {
  bool cuda = false;
  std::vector<int> devices;        // CUDA device indices, when cuda (one process: one)
  std::vector<std::string> names;  // their names, in the same order
  int rank_device = -1;            // under mpirun: the one device of this rank (see Spmd)
  bool graphs = true;              // replay full rounds from CUDA graphs
  std::string description;         // for the run's header line
};

// "cpu", "cuda" or "auto" (CUDA when built with it and a device is present). `devices` is the
// --devices list ("" = all visible). Throws lag::Error for cuda without support or devices, and
// for a device index that does not exist. `self_test`: see cuda_devices (an MPI rank, which
// uses one of the devices, passes false). `one_process`: this process alone trains, on one GPU
// (the first listed, or device 0); several listed is an error that says how to start one rank
// per GPU. A rank of an MPI job passes false and gets every candidate (Spmd picks its own).
BackendChoice choose_backend(const std::string& name, const std::string& devices,
                             bool self_test = true, bool one_process = true);

template <class T>
std::unique_ptr<Cluster<T>> make_cluster(const BackendChoice& backend, const Dataset<T>& data,
                                         const ModelSpec& model, ThreadPool& pool);

}  // namespace lag::cli
