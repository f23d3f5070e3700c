// When a GPU test may skip: only when this machine has no CUDA device at all (no driver
// installed, or a driver that sees no device). Every other CUDA error (a driver older than the
// runtime, a device that fails to initialise) fails the test, so a broken GPU machine cannot
// report 100% passed. With LAG_TEST_REQUIRE_GPU=1 in the environment (scripts/gpu-check.sh sets
// it) even "no device" fails: on the machine that is meant to check the GPU code, a skip hides
// everything.
//
// Nothing touches CUDA before a test body runs, so listing the tests (gtest_discover_tests, at
// build time) works on machines without a driver.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace lag::test {

inline bool gpu_required() {
  const char* v = std::getenv("LAG_TEST_REQUIRE_GPU");
  return v && std::strcmp(v, "1") == 0;
}

struct GpuProbe {
  bool usable = false;
  bool absent = false;  // no driver or no device: the one reason to skip
  std::string reason;   // why not usable
};

inline GpuProbe probe_gpu() {
  GpuProbe p;
  int count = 0;  // left unwritten without a driver
  const cudaError_t e = cudaGetDeviceCount(&count);
  int driver = -1;
  const cudaError_t d = cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  if (e == cudaSuccess && count > 0) {
    p.usable = true;
  } else if (e == cudaSuccess || e == cudaErrorNoDevice) {
    p.absent = true;
    p.reason = "no CUDA device visible";
  } else if (e == cudaErrorInsufficientDriver && d == cudaSuccess && driver == 0) {
    p.absent = true;
    p.reason = "no CUDA driver installed";
  } else {
    p.reason = std::string("CUDA cannot be used: cudaGetDeviceCount: ") + cudaGetErrorName(e) +
               " (" + cudaGetErrorString(e) + "), driver supports CUDA " + std::to_string(driver) +
               ", runtime built for " + std::to_string(CUDART_VERSION);
  }
  return p;
}

inline const GpuProbe& gpu_probe() {
  static const GpuProbe p = probe_gpu();
  return p;
}

}  // namespace lag::test

// In a test body: skip when the machine has no CUDA device (unless LAG_TEST_REQUIRE_GPU=1), fail
// on any other CUDA error.
#define LAG_REQUIRE_GPU()                                                               \
  do {                                                                                  \
    const ::lag::test::GpuProbe& lag_probe_ = ::lag::test::gpu_probe();                 \
    if (!lag_probe_.usable) {                                                           \
      if (!lag_probe_.absent) FAIL() << lag_probe_.reason;                              \
      if (::lag::test::gpu_required())                                                  \
        FAIL() << lag_probe_.reason << ", and LAG_TEST_REQUIRE_GPU=1 forbids skipping"; \
      GTEST_SKIP() << lag_probe_.reason;                                                \
    }                                                                                   \
  } while (0)
