#include "compress/quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lag {

namespace {

// Codes written b bits at a time through a 64-bit buffer, least significant bit first.
class BitWriter {
 public:
  explicit BitWriter(std::uint8_t* out) : out_(out) {}
  void put(std::uint32_t code, int bits) {
    buffer_ |= static_cast<std::uint64_t>(code) << filled_;
    filled_ += bits;
    while (filled_ >= 8) {
      *out_++ = static_cast<std::uint8_t>(buffer_);
      buffer_ >>= 8;
      filled_ -= 8;
    }
  }
  void finish() {
    if (filled_ > 0) *out_++ = static_cast<std::uint8_t>(buffer_);
  }

 private:
  std::uint8_t* out_;
  std::uint64_t buffer_ = 0;
  int filled_ = 0;
};

class BitReader {
 public:
  explicit BitReader(const std::uint8_t* in) : in_(in) {}
  std::uint32_t get(int bits) {
    while (filled_ < bits) {
      buffer_ |= static_cast<std::uint64_t>(*in_++) << filled_;
      filled_ += 8;
    }
    const auto code = static_cast<std::uint32_t>(buffer_ & ((std::uint64_t{1} << bits) - 1));
    buffer_ >>= bits;
    filled_ -= bits;
    return code;
  }

 private:
  const std::uint8_t* in_;
  std::uint64_t buffer_ = 0;
  int filled_ = 0;
};

}  // namespace

template <class T>
void decode_innovation(const std::uint8_t* codes, T radius, std::size_t d, int bits, T* v) {
  const T levels = static_cast<T>((std::uint32_t{1} << bits) - 1);
  const T delta = radius / levels;
  const T two_delta = delta + delta;
  BitReader in(codes);
  // One explicit fused multiply-add, as the device's decoder (kernels/compress.cu) computes it:
  // no compiler choice of contraction can make the two differ.
  for (std::size_t i = 0; i < d; ++i)
    v[i] = std::fma(two_delta, static_cast<T>(in.get(bits)), -radius);
}

template <class T>
Quantized quantize(const T* g, const T* q_hat, std::size_t d, int bits, std::uint8_t* codes, T* v,
                   T* q_out) {
  Quantized out;
  T radius = 0;
  for (std::size_t i = 0; i < d; ++i) radius = std::max(radius, std::fabs(g[i] - q_hat[i]));
  const std::uint32_t top = (std::uint32_t{1} << bits) - 1;
  BitWriter writer(codes);
  if (radius > 0) {
    const T delta = radius / static_cast<T>(top);
    const T two_delta = delta + delta;
    for (std::size_t i = 0; i < d; ++i) {
      const T position = std::floor((g[i] - q_hat[i] + radius + delta) / two_delta);
      // Rounding can put the largest innovation one step past the top of the grid; a NaN
      // gradient (a diverging run) gets code 0 rather than an undefined conversion.
      const T clamped = position >= T(0) ? std::min(position, static_cast<T>(top)) : T(0);
      const auto j = static_cast<std::uint32_t>(clamped);
      writer.put(j, bits);
    }
  } else {
    for (std::size_t i = 0; i < d; ++i) writer.put(0, bits);
  }
  writer.finish();
  decode_innovation(codes, radius, d, bits, v);
  for (std::size_t i = 0; i < d; ++i) {
    q_out[i] = q_hat[i] + v[i];
    const double e = static_cast<double>(q_out[i]) - static_cast<double>(g[i]);
    out.error2 += e * e;
    out.innovation2 += static_cast<double>(v[i]) * static_cast<double>(v[i]);
  }
  out.radius = static_cast<double>(radius);
  return out;
}

template void decode_innovation<float>(const std::uint8_t*, float, std::size_t, int, float*);
template void decode_innovation<double>(const std::uint8_t*, double, std::size_t, int, double*);
template Quantized quantize<float>(const float*, const float*, std::size_t, int, std::uint8_t*,
                                   float*, float*);
template Quantized quantize<double>(const double*, const double*, std::size_t, int, std::uint8_t*,
                                    double*, double*);

}  // namespace lag
