// What this binary was built with and what it can see (`lag info`).
#pragma once

#include <string>
#include <vector>

namespace lag {

struct DeviceInfo {
  int index = 0;
  std::string name;
  double memory_gib = 0.0;
  int compute_major = 0, compute_minor = 0;
};

struct BuildInfo {
  std::string version;
  std::vector<std::string> precisions;  // "fp32", "fp64"
  bool cuda = false;
  std::string cuda_version;
  bool nccl = false;
  bool mpi = false;
  std::string cpu_arch;
};

BuildInfo build_info();

// CUDA devices visible to this process; empty without CUDA support or without a driver/device.
// `why_none` says why the list is empty, when it is. With `self_test`, a small kernel runs on
// each device (a name gets "(cannot run kernels: ...)" when it fails); that starts a CUDA context
// on every device, which a process that uses only one of them (an MPI rank) should not.
std::vector<DeviceInfo> cuda_devices(std::string* why_none = nullptr, bool self_test = true);

}  // namespace lag
