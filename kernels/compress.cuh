// LAQ's quantizer and the Top-k compressor on the device (plain C++ interface), with the same
// arithmetic as the CPU's (src/compress/quantizer.hpp, src/compress/top_k.hpp): the same codes,
// the same innovation v = fma(2 Delta, j, -R) on the worker and the server, the same Top-k
// indices (ties to the lower index). Sums of squares are deterministic device reductions
// (reduce.cuh), so they may differ from the CPU's in the last bits. Launchers are asynchronous on
// `s` and return cudaGetLastError() (or the first CUB error).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace lag::cuda {

// Doubles of device workspace quantize() needs (beyond reduce_workspace_doubles()).
std::size_t quantize_workspace_doubles(std::size_t d);

// The payload [R as T][codes, packed b bits each, least significant first] of g against q_hat
// (d values): writes it to `payload` (4-byte aligned), v and q = q_hat + v (d values each), and
// scalars[0] = R, scalars[1] = ||q - g||^2, scalars[2] = ||v||^2. `workspace` holds
// quantize_workspace_doubles(d) + reduce_workspace_doubles() doubles.
template <class T>
[[nodiscard]] cudaError_t quantize(const T* g, const T* q_hat, std::size_t d, int bits,
                                   std::uint8_t* payload, T* v, T* q, double* scalars,
                                   double* workspace, cudaStream_t s);

// aggregate[i] += v_i for one quantized payload (any alignment).
template <class T>
[[nodiscard]] cudaError_t add_quantized(const std::uint8_t* payload, std::size_t d, int bits,
                                        T* aggregate, cudaStream_t s);

// Bytes of device temporary storage top_k() needs for d values.
template <class T>
[[nodiscard]] cudaError_t top_k_temp_bytes(std::size_t d, std::size_t* bytes);

// The payload [k values of v as T][their k indices as uint32], the k largest |v_i| in increasing
// index order (NaN counts as the largest). `temp` holds top_k_temp_bytes(d) bytes.
template <class T>
[[nodiscard]] cudaError_t top_k(const T* v, std::size_t d, std::size_t k, std::uint8_t* payload,
                                void* temp, std::size_t temp_bytes, cudaStream_t s);

// aggregate[idx_j] += value_j for one Top-k payload (any alignment).
template <class T>
[[nodiscard]] cudaError_t add_top_k(const std::uint8_t* payload, std::size_t k, T* aggregate,
                                    cudaStream_t s);

// g_hat[idx_j] += delta[idx_j] for the indices of one Top-k payload (the worker's side).
template <class T>
[[nodiscard]] cudaError_t commit_top_k(const std::uint8_t* payload, std::size_t k, const T* delta,
                                       T* g_hat, cudaStream_t s);

enum class StatefulRule : int { Laq = 0, Clag = 1, LasgWk = 2 };

// The rules that keep per-worker state beside ||delta||^2, for `workers` workers (device memory):
//   LAQ:     fire = selected && (laq_fires(innovation2, tau, eps, eps_hat) || (max_skip > 0 &&
//            skipped >= max_skip)); a worker that does not fire counts one more skip. A worker
//            that fires with R = 0 (Q = q_hat) sends its flag only: fire = 0, and it commits
//            here (eps_hat = eps, skipped = 0).
//   CLAG:    fire = selected && clag_fires(delta_norm2, zeta, change2).
//   LASG-WK: fire = selected && (wk_fires(innovation2, tau) || (max_skip > 0 && skipped >=
//            max_skip)), innovation2 being ||g - h||^2 (the minibatch's gradients at theta and at
//            theta_hat); a worker that does not fire counts one more skip.
// `stats` holds per worker [R, eps, innovation2, change2] (4 doubles), `eps_hat` and `skipped`
// one each; fire[m] is 1 or 0.
[[nodiscard]] cudaError_t compressed_trigger(StatefulRule rule, const double* stats,
                                             const double* delta_norm2, double* eps_hat,
                                             long long* skipped, const std::uint8_t* selected,
                                             double tau, double zeta, long long max_skip,
                                             int workers, std::uint8_t* fire, cudaStream_t s);

}  // namespace lag::cuda
