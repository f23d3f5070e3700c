// One check per API, each naming file and line: CUDA runtime, cuBLAS and NCCL errors become a
// lag::Error whose message says which call failed and why.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <string>

#include "lag/error.hpp"

namespace lag::cuda {

[[noreturn]] inline void fail(const char* api, const char* expr, const std::string& why,
                              const char* file, int line) {
  throw Error(std::string(api) + " error at " + file + ":" + std::to_string(line) + ": " + expr +
              ": " + why);
}

inline void check_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  if (e != cudaSuccess) fail("CUDA", expr, cudaGetErrorString(e), file, line);
}
inline void check_cublas(cublasStatus_t s, const char* expr, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS", expr, cublasGetStatusString(s), file, line);
}
inline void check_nccl(ncclResult_t r, const char* expr, const char* file, int line) {
  if (r != ncclSuccess) fail("NCCL", expr, ncclGetErrorString(r), file, line);
}

}  // namespace lag::cuda

#define LAG_CUDA(expr) ::lag::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)
#define LAG_CUBLAS(expr) ::lag::cuda::check_cublas((expr), #expr, __FILE__, __LINE__)
#define LAG_NCCL(expr) ::lag::cuda::check_nccl((expr), #expr, __FILE__, __LINE__)
