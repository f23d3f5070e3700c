// LAQ's quantizer (Sun, Chen, Giannakis, Yang, "Communication-Efficient Distributed Learning via
// Lazily Aggregated Quantized Gradients", NeurIPS 2019, eqs. (6)-(8)): worker m's gradient g is
// sent as its innovation against the last quantized gradient it uploaded, q_hat, on a b-bit grid
// of the radius R = ||g - q_hat||_inf:
//
//   Delta = R / (2^b - 1)
//   j_i   = floor((g_i - q_hat_i + R + Delta) / (2 Delta)), clamped to 0 .. 2^b - 1
//   v_i   = fma(2 Delta, j_i, -R)            (the innovation: what the server adds)
//   Q_i   = q_hat_i + v_i                    (the new quantized gradient the worker keeps)
//
// so |Q_i - g_i| <= Delta (up to rounding). Both sides get v from one function
// (decode_innovation), so the server's aggregate moves by exactly what the worker's q_hat moves
// (one compiled body: no FMA contraction can differ between them).
// What travels: the codes j_i packed b bits each, least significant bit first, little-endian
// across bytes (ceil(b d / 8) bytes), and R.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lag {

constexpr int kMinQuantizerBits = 1, kMaxQuantizerBits = 16;

// Bytes of d codes of `bits` bits each.
inline std::size_t packed_code_bytes(std::size_t d, int bits) {
  return (d * static_cast<std::size_t>(bits) + 7) / 8;
}

struct Quantized {
  double radius = 0.0;       // R, in the working precision (exactly representable in T)
  double error2 = 0.0;       // epsilon = ||Q - g||^2
  double innovation2 = 0.0;  // ||Q - q_hat||^2 = ||v||^2
};

// Quantizes g against q_hat (both d values): writes the packed codes (packed_code_bytes(d, bits)
// bytes), the innovation v and Q = q_hat + v (d values each; neither may alias an input). R = 0
// (g == q_hat) gives codes 0, v = 0 and Q = q_hat. Sums run in index order (deterministic).
template <class T>
Quantized quantize(const T* g, const T* q_hat, std::size_t d, int bits, std::uint8_t* codes, T* v,
                   T* q_out);

// v_i = 2 Delta j_i - R for the packed codes of one upload (d values).
template <class T>
void decode_innovation(const std::uint8_t* codes, T radius, std::size_t d, int bits, T* v);

// Code i of packed codes (for tests and the server).
inline std::uint32_t code_at(const std::uint8_t* codes, std::size_t i, int bits) {
  std::uint32_t v = 0;
  const std::size_t first = i * static_cast<std::size_t>(bits);
  for (int b = 0; b < bits; ++b) {
    const std::size_t at = first + static_cast<std::size_t>(b);
    v |= static_cast<std::uint32_t>((codes[at / 8] >> (at % 8)) & 1u) << b;
  }
  return v;
}

}  // namespace lag
