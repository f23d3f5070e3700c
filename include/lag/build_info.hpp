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
// `why_none` says why the list is empty, when it is.
std::vector<DeviceInfo> cuda_devices(std::string* why_none = nullptr);

}  // namespace lag
