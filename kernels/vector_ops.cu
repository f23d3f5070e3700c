#include <cuda_runtime_api.h>

#include <vector>

#include "vector_ops.cuh"

namespace lag::cuda {

namespace {

template <class T>
__global__ void axpy_kernel(std::size_t n, T a, const T* __restrict__ x, T* __restrict__ y) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    y[i] += a * x[i];
}

template <class T>
__global__ void scale_kernel(std::size_t n, T scale, T* __restrict__ g, double loss_scale,
                             double* __restrict__ loss) {
  const std::size_t first = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (first == 0) *loss *= loss_scale;
  for (std::size_t i = first; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    g[i] *= scale;
}

bool check(cudaError_t e, const char* what, std::string* why) {
  if (e == cudaSuccess) return true;
  if (why) *why = std::string(what) + ": " + cudaGetErrorString(e);
  return false;
}

unsigned grid_for(std::size_t n) {
  std::size_t nb = (n + 255) / 256;
  if (nb > 4096) nb = 4096;
  if (nb < 1) nb = 1;
  return static_cast<unsigned>(nb);
}

}  // namespace

template <class T>
cudaError_t axpy(T a, const T* x, T* y, std::size_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (x == nullptr || y == nullptr) return cudaErrorInvalidValue;
  axpy_kernel<T><<<grid_for(n), 256, 0, s>>>(n, a, x, y);
  return cudaGetLastError();
}

template <class T>
cudaError_t scale_add_lambda(T* g, const T* theta, T lambda, std::size_t n, cudaStream_t s) {
  return axpy(lambda, theta, g, n, s);
}

template <class T>
cudaError_t scale_gradient_and_loss(T* g, std::size_t n, double scale, double* loss,
                                    cudaStream_t s) {
  if (g == nullptr || loss == nullptr) return cudaErrorInvalidValue;
  scale_kernel<T><<<grid_for(n), 256, 0, s>>>(n, static_cast<T>(scale), g, scale, loss);
  return cudaGetLastError();
}

template cudaError_t axpy<float>(float, const float*, float*, std::size_t, cudaStream_t);
template cudaError_t axpy<double>(double, const double*, double*, std::size_t, cudaStream_t);
template cudaError_t scale_add_lambda<float>(float*, const float*, float, std::size_t,
                                             cudaStream_t);
template cudaError_t scale_add_lambda<double>(double*, const double*, double, std::size_t,
                                              cudaStream_t);

template cudaError_t scale_gradient_and_loss<float>(float*, std::size_t, double, double*,
                                                    cudaStream_t);
template cudaError_t scale_gradient_and_loss<double>(double*, std::size_t, double, double*,
                                                     cudaStream_t);

bool axpy_self_test(int device, std::string* why) {
  constexpr std::size_t n = 1000;
  std::vector<double> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<double>(i);
    y[i] = 1.0;
  }
  double *dx = nullptr, *dy = nullptr;
  bool ok = check(cudaSetDevice(device), "cudaSetDevice", why) &&
            check(cudaMalloc(&dx, n * sizeof(double)), "cudaMalloc", why) &&
            check(cudaMalloc(&dy, n * sizeof(double)), "cudaMalloc", why) &&
            check(cudaMemcpy(dx, x.data(), n * sizeof(double), cudaMemcpyHostToDevice),
                  "cudaMemcpy", why) &&
            check(cudaMemcpy(dy, y.data(), n * sizeof(double), cudaMemcpyHostToDevice),
                  "cudaMemcpy", why);
  if (ok) {
    axpy_kernel<double><<<4, 256>>>(n, 2.0, dx, dy);
    ok = check(cudaGetLastError(), "axpy kernel launch", why) &&
         check(cudaMemcpy(y.data(), dy, n * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy",
               why);
  }
  cudaFree(dx);
  cudaFree(dy);
  if (!ok) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (y[i] != 1.0 + 2.0 * static_cast<double>(i)) {
      if (why) *why = "axpy kernel computed a wrong value";
      return false;
    }
  return true;
}

}  // namespace lag::cuda
