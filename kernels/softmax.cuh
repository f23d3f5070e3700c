// Elementwise and row-wise kernels for softmax regression and the MLP (plain C++ interface; the
// GEMMs are the host's, through cuBLAS). All pointers are device memory, matrices row-major;
// every launcher is asynchronous on s and returns cudaGetLastError() after its launches (or
// cudaErrorInvalidValue for bad arguments). Results do not depend on the launch shape except
// where a sum is noted, and those sums run in a fixed order: the same bits on every run.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

// Per row i of z (rows x k), label l = y[i] (a class index stored as T):
//   row_loss[i] = log(sum_c exp(z_ic - max_c z_ic)) + max_c z_ic - z_il   (in double, max-shifted,
//                 the arithmetic of the CPU backend's softmax_rows)
//   row_correct[i] = 1 if the first largest logit is the label's, else 0 (row_correct may be null)
//   with minus_onehot: z_i <- softmax(z_i) - onehot(l)
// A label outside [0, k) gives row_loss NaN, row_correct 0 and no one-hot subtraction.
template <class T>
[[nodiscard]] cudaError_t softmax_rows(T* z, const T* y, std::size_t rows, std::size_t k,
                                       bool minus_onehot, double* row_loss,
                                       std::uint32_t* row_correct, cudaStream_t s);

// a[i][j] = tanh(a[i][j] + b[j]) for a (rows x h).
template <class T>
[[nodiscard]] cudaError_t add_bias_tanh(T* a, const T* b, std::size_t rows, std::size_t h,
                                        cudaStream_t s);

// z[i][j] += b[j] for z (rows x k).
template <class T>
[[nodiscard]] cudaError_t add_bias(T* z, const T* b, std::size_t rows, std::size_t k,
                                   cudaStream_t s);

// da[i] *= 1 - a[i]^2 (the derivative of tanh at the activations a), i < n.
template <class T>
[[nodiscard]] cudaError_t tanh_backward(T* da, const T* a, std::size_t n, cudaStream_t s);

// out[c] += sum_i m[i][c] for m (rows x cols): the column sum in double, in a fixed order, then
// one add in T. One pass of up to ceil(cols / 32) blocks, each summing all rows of its columns.
template <class T>
[[nodiscard]] cudaError_t column_sums_add(const T* m, std::size_t rows, std::size_t cols, T* out,
                                          cudaStream_t s);

// The same with the rows split into up to 64 chunks (more blocks for tall m), the chunk sums kept
// in `workspace` (column_sums_workspace_doubles(rows, cols) doubles) and summed in chunk order.
// Also deterministic, but its bits may differ from the one-pass version's.
std::size_t column_sums_workspace_doubles(std::size_t rows, std::size_t cols);
template <class T>
[[nodiscard]] cudaError_t column_sums_add(const T* m, std::size_t rows, std::size_t cols, T* out,
                                          double* workspace, cudaStream_t s);

}  // namespace lag::cuda
