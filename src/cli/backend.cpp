#include "cli/backend.hpp"

#include <algorithm>
#include <sstream>

#include "cluster/cpu_cluster.hpp"
#include "lag/build_info.hpp"
#include "lag/error.hpp"
#ifdef LAG_HAVE_NCCL
#include "cluster/cuda_cluster.hpp"
#endif

namespace lag::cli {

namespace {

std::vector<int> parse_devices(const std::string& list) {
  std::vector<int> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0)
      throw Error("--devices takes device indices like 0,1, got '" + list + "'");
    if (std::find(out.begin(), out.end(), v) != out.end())
      throw Error("--devices lists device " + std::to_string(v) + " twice");
    out.push_back(v);
  }
  return out;
}

}  // namespace

BackendChoice choose_backend(const std::string& name, const std::string& devices, bool self_test,
                             bool one_process) {
  BackendChoice c;
  if (name == "cpu") {
    c.description = "cpu";
    return c;
  }
  std::string why;
  const auto found = cuda_devices(&why, self_test);
  const bool usable = build_info().nccl && !found.empty();
  if (name == "auto" && !usable) {
    c.description =
        "cpu (auto: " + (build_info().nccl ? why : std::string("built without CUDA")) + ")";
    return c;
  }
  if (!build_info().nccl) throw Error("--backend cuda: this build has no CUDA/NCCL support");
  if (found.empty()) throw Error("--backend cuda: no CUDA device (" + why + ")");
  c.cuda = true;
  if (devices.empty()) {
    for (const auto& d : found) c.devices.push_back(d.index);
  } else {
    c.devices = parse_devices(devices);
    for (int d : c.devices)
      if (d >= static_cast<int>(found.size()))
        throw Error("--devices: no CUDA device " + std::to_string(d) + " (" +
                    std::to_string(found.size()) + " visible)");
  }
  for (int d : c.devices) c.names.push_back(found[static_cast<std::size_t>(d)].name);
  std::string listed;
  for (std::size_t i = 0; i < c.devices.size(); ++i)
    listed += (i ? "," : "") + std::to_string(c.devices[i]);
  c.description = "cuda on device " + std::to_string(c.devices[0]) + " (" + c.names[0] + ")";
  if (!one_process || c.devices.size() == 1) return c;
  // Several GPUs are used by one rank each (docs/architecture.md §4); one process takes one.
  const std::string run = "mpirun -np " + std::to_string(c.devices.size()) +
                          " lag train ... --backend cuda --devices " + listed;
  if (!devices.empty())
    throw Error("--devices " + devices + ": one process trains on one GPU; to train on " +
                std::to_string(c.devices.size()) + " GPUs, start one rank per GPU: " + run +
                " (see the README)");
  c.devices.resize(1);
  c.names.resize(1);
  c.description += ", 1 of " + std::to_string(found.size()) + " GPUs (for all: " + run + ")";
  return c;
}

template <class T>
std::unique_ptr<Cluster<T>> make_cluster(const BackendChoice& backend, const Dataset<T>& data,
                                         const ModelSpec& model, ThreadPool& pool) {
#ifdef LAG_HAVE_NCCL
  if (backend.cuda)
    return std::make_unique<CudaCluster<T>>(data, model, backend.devices.at(0), backend.graphs);
#endif
  if (backend.cuda) throw Error("this build has no CUDA backend");
  return std::make_unique<CpuCluster<T>>(data, model, pool);
}

template std::unique_ptr<Cluster<float>> make_cluster<float>(const BackendChoice&,
                                                             const Dataset<float>&,
                                                             const ModelSpec&, ThreadPool&);
template std::unique_ptr<Cluster<double>> make_cluster<double>(const BackendChoice&,
                                                               const Dataset<double>&,
                                                               const ModelSpec&, ThreadPool&);

}  // namespace lag::cli
