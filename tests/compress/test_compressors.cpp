// LAQ's quantizer and the Top-k compressor against references written here: the grid point
// nearest to each coordinate found by trying every code, bits packed one at a time, and Top-k by
// sorting everything.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "compress/quantizer.hpp"
#include "compress/top_k.hpp"
#include "lag/random.hpp"

namespace lag {
namespace {

// Packs codes bit by bit, least significant first: the layout the quantizer promises.
std::vector<std::uint8_t> pack_by_hand(const std::vector<std::uint32_t>& codes, int bits) {
  std::vector<std::uint8_t> out(packed_code_bytes(codes.size(), bits), 0);
  std::size_t at = 0;
  for (std::uint32_t c : codes)
    for (int b = 0; b < bits; ++b, ++at)
      if ((c >> b) & 1u) out[at / 8] = static_cast<std::uint8_t>(out[at / 8] | (1u << (at % 8)));
  return out;
}

template <class T>
void expect_quantizer_is_right(int bits, std::size_t d, std::uint64_t seed) {
  SCOPED_TRACE("bits " + std::to_string(bits) + ", d " + std::to_string(d));
  Random rng(seed);
  std::vector<T> g(d), q_hat(d), v(d), q(d);
  for (std::size_t i = 0; i < d; ++i) {
    g[i] = static_cast<T>(rng.normal());
    q_hat[i] = static_cast<T>(rng.normal() * 0.5);
  }
  std::vector<std::uint8_t> codes(packed_code_bytes(d, bits));
  const Quantized r = quantize(g.data(), q_hat.data(), d, bits, codes.data(), v.data(), q.data());

  T radius = 0;
  for (std::size_t i = 0; i < d; ++i) radius = std::max(radius, std::fabs(g[i] - q_hat[i]));
  EXPECT_EQ(r.radius, static_cast<double>(radius));
  const std::uint32_t levels = (1u << bits);
  const double delta = static_cast<double>(radius) / (levels - 1);
  std::vector<std::uint32_t> chosen(d);
  double error2 = 0, innovation2 = 0;
  for (std::size_t i = 0; i < d; ++i) {
    const std::uint32_t j = code_at(codes.data(), i, bits);
    ASSERT_LT(j, levels);
    chosen[i] = j;
    // The nearest of all grid points (ties at a midpoint may go either way).
    double best = INFINITY;
    for (std::uint32_t c = 0; c < levels; ++c)
      best = std::min(best, std::fabs(static_cast<double>(q_hat[i]) - radius + 2 * delta * c -
                                      static_cast<double>(g[i])));
    const double mine = std::fabs(static_cast<double>(q_hat[i]) - radius + 2 * delta * j -
                                  static_cast<double>(g[i]));
    EXPECT_LE(mine, best + 1e-5 * delta) << "coordinate " << i;
    // |Q - g| <= Delta, Q = q_hat + v, v on the grid.
    EXPECT_LE(std::fabs(static_cast<double>(q[i]) - static_cast<double>(g[i])),
              delta * (1 + 1e-5) + 1e-6 * std::fabs(static_cast<double>(g[i])));
    EXPECT_EQ(q[i], q_hat[i] + v[i]);
    EXPECT_NEAR(static_cast<double>(v[i]), 2 * delta * j - radius, 1e-5 * (1 + radius));
    const double e = static_cast<double>(q[i]) - static_cast<double>(g[i]);
    error2 += e * e;
    innovation2 += static_cast<double>(v[i]) * static_cast<double>(v[i]);
  }
  EXPECT_EQ(codes, pack_by_hand(chosen, bits));
  EXPECT_DOUBLE_EQ(r.error2, error2);
  EXPECT_DOUBLE_EQ(r.innovation2, innovation2);
  // The server's decoding gives the worker's v, bit for bit.
  std::vector<T> server(d);
  decode_innovation(codes.data(), radius, d, bits, server.data());
  EXPECT_EQ(server, v);
}

TEST(Quantizer, GridRoundingErrorBoundAndPackingForEveryWidth) {
  for (int bits = 1; bits <= 8; ++bits)
    for (std::size_t d : {1u, 7u, 13u, 101u}) {
      expect_quantizer_is_right<double>(bits, d, 100 + bits);
      expect_quantizer_is_right<float>(bits, d, 200 + bits);
    }
  expect_quantizer_is_right<double>(16, 33, 7);
}

// The coordinate at the radius is an end of the grid: code 0 (below q_hat) or the top code.
TEST(Quantizer, TheFarthestCoordinatesLandOnTheGridsEnds) {
  const std::vector<double> q_hat = {1.0, 1.0, 1.0}, g = {3.0, 1.0, -1.0};  // R = 2
  std::vector<double> v(3), q(3);
  std::vector<std::uint8_t> codes(packed_code_bytes(3, 2));
  const Quantized r = quantize(g.data(), q_hat.data(), 3, 2, codes.data(), v.data(), q.data());
  EXPECT_EQ(r.radius, 2.0);
  EXPECT_EQ(code_at(codes.data(), 0, 2), 3u);
  EXPECT_EQ(code_at(codes.data(), 2, 2), 0u);
  EXPECT_DOUBLE_EQ(q[0], 3.0);   // 1 - 2 + 2 (2/3) 3
  EXPECT_DOUBLE_EQ(q[2], -1.0);  // 1 - 2 + 0
  // The middle coordinate (innovation 0) sits between codes 1 and 2 (-2/3 and +2/3): a tie.
  EXPECT_NEAR(std::fabs(q[1] - 1.0), 2.0 / 3.0, 1e-15);
  EXPECT_EQ(r.error2, (q[1] - 1.0) * (q[1] - 1.0));
}

TEST(Quantizer, NoInnovationSendsZeros) {
  const std::vector<float> g = {0.5f, -2.0f, 7.0f};
  std::vector<float> v(3, 9.0f), q(3);
  std::vector<std::uint8_t> codes(packed_code_bytes(3, 4), 0xff);
  const Quantized r = quantize(g.data(), g.data(), 3, 4, codes.data(), v.data(), q.data());
  EXPECT_EQ(r.radius, 0.0);
  EXPECT_EQ(r.error2, 0.0);
  EXPECT_EQ(r.innovation2, 0.0);
  EXPECT_EQ(codes, std::vector<std::uint8_t>(2, 0));
  EXPECT_EQ(q, g);
  EXPECT_EQ(v, std::vector<float>(3, 0.0f));
}

// Top-k against sorting every index by (magnitude descending, index ascending).
template <class T>
std::vector<std::uint32_t> top_k_by_sorting(const std::vector<T>& v, std::size_t k) {
  std::vector<std::uint32_t> all(v.size());
  std::iota(all.begin(), all.end(), 0u);
  const auto mag = [&](std::uint32_t i) {
    return std::isnan(v[i]) ? static_cast<T>(INFINITY) : std::fabs(v[i]);
  };
  std::stable_sort(all.begin(), all.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return mag(a) > mag(b); });
  all.resize(k);
  std::sort(all.begin(), all.end());
  return all;
}

TEST(TopK, MatchesSortingWithTiesBrokenByIndex) {
  Random rng(3);
  std::vector<double> scratch;
  for (std::size_t d : {1u, 2u, 9u, 64u, 257u}) {
    std::vector<double> v(d);
    // Few distinct magnitudes, both signs: many ties.
    for (auto& x : v) x = static_cast<double>(rng.below(5)) * (rng.below(2) ? 1.0 : -1.0);
    for (std::size_t k : {std::size_t{1}, (d + 1) / 2, d}) {
      std::vector<std::uint32_t> got(k);
      top_k(v.data(), d, k, got.data(), scratch);
      EXPECT_EQ(got, top_k_by_sorting(v, k)) << "d " << d << ", k " << k;
    }
  }
}

TEST(TopK, NanCountsAsLargest) {
  const std::vector<float> v = {1.0f, NAN, -3.0f, 3.0f, 0.0f};
  std::vector<std::uint32_t> got(2);
  std::vector<float> scratch;
  top_k(v.data(), v.size(), 2, got.data(), scratch);
  EXPECT_EQ(got, (std::vector<std::uint32_t>{1, 2}));
}

}  // namespace
}  // namespace lag
