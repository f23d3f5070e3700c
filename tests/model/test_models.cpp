// Losses, gradients, smoothness constants and optima against finite differences and closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "../test_helpers.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"
#include "lag/optimum.hpp"
#include "lag/smoothness.hpp"
#include "lag/synthetic.hpp"
#include "model/gradient.hpp"

namespace lag {
namespace {

// Central differences of the loss kernel against the gradient kernel, coordinate by coordinate.
void expect_gradient_matches_finite_differences(ModelKind kind) {
  const auto data = test::gaussian_data(1, 40, 7, kind == ModelKind::Logistic, 0.3, 11);
  const Shard<double>& s = data.shards[0];
  Random rng(5);
  std::vector<double> theta(s.dim);
  for (double& t : theta) t = 0.5 * rng.normal();
  std::vector<double> g(s.dim, 0.0);
  const double loss =
      cpu::accumulate_gradient(kind, s.x.data(), s.y.data(), s.rows, s.dim, theta.data(), g.data());
  EXPECT_DOUBLE_EQ(loss,
                   cpu::accumulate_loss(kind, s.x.data(), s.y.data(), s.rows, s.dim, theta.data()));
  const double h = 1e-6;
  for (std::size_t j = 0; j < s.dim; ++j) {
    auto plus = theta, minus = theta;
    plus[j] += h;
    minus[j] -= h;
    const double fd =
        (cpu::accumulate_loss(kind, s.x.data(), s.y.data(), s.rows, s.dim, plus.data()) -
         cpu::accumulate_loss(kind, s.x.data(), s.y.data(), s.rows, s.dim, minus.data())) /
        (2 * h);
    EXPECT_NEAR(g[j], fd, 1e-6 * std::max(1.0, std::fabs(fd))) << "coordinate " << j;
  }
}

TEST(Gradient, LeastSquaresMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(ModelKind::LeastSquares);
}

TEST(Gradient, LogisticMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(ModelKind::Logistic);
}

TEST(Gradient, LeastSquaresClosedForm) {
  // One row x = (1, 2), y = 3, theta = (1, 1): r = 0, so g = 0; theta = (2, 1): r = 1, g = x.
  const double x[] = {1, 2}, y[] = {3};
  double theta[] = {2, 1}, g[] = {0, 0};
  const double loss = cpu::accumulate_gradient(ModelKind::LeastSquares, x, y, 1, 2, theta, g);
  EXPECT_DOUBLE_EQ(loss, 0.5);
  EXPECT_DOUBLE_EQ(g[0], 1);
  EXPECT_DOUBLE_EQ(g[1], 2);
}

TEST(Gradient, FloatKernelAgreesWithDouble) {
  const auto data = test::gaussian_data(1, 100, 9, true, 0, 3);
  const auto f = convert_precision<float>(data);
  std::vector<double> theta(9, 0.1), g(9, 0.0);
  std::vector<float> thetaf(9, 0.1f), gf(9, 0.0f);
  const auto& s = data.shards[0];
  const auto& sf = f.shards[0];
  const double l = cpu::accumulate_gradient(ModelKind::Logistic, s.x.data(), s.y.data(), s.rows,
                                            s.dim, theta.data(), g.data());
  const double lf = cpu::accumulate_gradient(ModelKind::Logistic, sf.x.data(), sf.y.data(), sf.rows,
                                             sf.dim, thetaf.data(), gf.data());
  EXPECT_NEAR(l, lf, 1e-5 * l);
  for (int j = 0; j < 9; ++j) EXPECT_NEAR(g[j], gf[j], 1e-4);
}

// The kernel's order (src/model/gradient.cpp): the rows taken as 0, q, 2q, 3q, 1, q+1, 2q+1,
// 3q+1, ... (q = rows/4), then the rows - 4q left over in order, one after another into g and
// into the loss. Written here with the kernel called one row at a time in that order, so the
// streams, the pipelining and the blocking inside change nothing; fp64 and fp32, both models,
// dimensions that leave vector remainders, row counts with and without leftovers.
template <class T>
void expect_stream_order(ModelKind kind, std::size_t rows, std::size_t dim) {
  const auto data = test::gaussian_data(1, rows, dim, kind == ModelKind::Logistic, 0.1, 11);
  const auto converted = convert_precision<T>(data);
  const auto& s = converted.shards[0];
  std::vector<T> theta(dim);
  for (std::size_t j = 0; j < dim; ++j)
    theta[j] = static_cast<T>(0.3 * std::sin(1.0 + static_cast<double>(j)));
  std::vector<T> whole(dim, T(0));
  const double loss_whole = cpu::accumulate_gradient(kind, s.x.data(), s.y.data(), s.rows, dim,
                                                     theta.data(), whole.data());
  const std::size_t q = rows / 4;
  std::vector<std::size_t> order;
  for (std::size_t b = 0; b < q; ++b)
    for (std::size_t k = 0; k < 4; ++k) order.push_back(k * q + b);
  for (std::size_t i = 4 * q; i < rows; ++i) order.push_back(i);
  ASSERT_EQ(order.size(), rows);
  std::vector<T> expected(dim, T(0));
  double loss = 0;
  for (std::size_t i : order)
    loss += cpu::accumulate_gradient(kind, s.row(i), s.y.data() + i, 1, dim, theta.data(),
                                     expected.data());
  const std::string what = std::string(model_name(kind)) + " rows = " + std::to_string(rows) +
                           " d = " + std::to_string(dim) + (sizeof(T) == 4 ? " fp32" : " fp64");
  EXPECT_EQ(std::memcmp(whole.data(), expected.data(), dim * sizeof(T)), 0) << what;
  EXPECT_EQ(loss_whole, loss) << what;
  if (std::is_same_v<T, double>) {  // in fp32 the loss kernel's rows round otherwise
    EXPECT_EQ(loss_whole,
              cpu::accumulate_loss(kind, s.x.data(), s.y.data(), s.rows, dim, theta.data()))
        << what << ": the loss kernel sums in the gradient kernel's order";
  }
}

// A dot product's order (src/model/gradient.cpp): 64 / sizeof(T) lanes, lane l summing the
// products j = l, l + lanes, ... (each one fused multiply-add), the lanes then added in the
// tree (l, l + w) for w = lanes/2, ..., 1. Written out here with std::fma, for fp64 and fp32,
// lengths around the lane count.
template <class T>
T dot_in_lanes(const std::vector<T>& a, const std::vector<T>& b) {
  constexpr std::size_t lanes = 64 / sizeof(T);
  std::vector<T> acc(lanes, T(0));
  for (std::size_t j = 0; j < a.size(); ++j) acc[j % lanes] = std::fma(a[j], b[j], acc[j % lanes]);
  for (std::size_t w = lanes / 2; w > 0; w /= 2)
    for (std::size_t l = 0; l < w; ++l) acc[l] = acc[l] + acc[l + w];
  return acc[0];
}

template <class T>
void expect_dot_in_lanes() {
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 33u, 100u, 500u, 785u}) {
    std::vector<T> a(n), b(n);
    for (std::size_t j = 0; j < n; ++j) {
      a[j] = static_cast<T>(std::sin(0.7 * static_cast<double>(j) + 0.1));
      b[j] = static_cast<T>(std::cos(1.3 * static_cast<double>(j)) / 3);
    }
    const T got = cpu::dot(a.data(), b.data(), n);
    const T want = dot_in_lanes(a, b);
    EXPECT_EQ(std::memcmp(&got, &want, sizeof(T)), 0)
        << "n = " << n << (sizeof(T) == 4 ? " fp32: " : " fp64: ") << got << " against " << want;
  }
}

TEST(Gradient, DotProductsSumLanesOfOneCacheLineInAFixedTree) {
  expect_dot_in_lanes<double>();
  expect_dot_in_lanes<float>();
}

TEST(Gradient, RowsAreSummedInTheOrderOfTheFourStreams) {
  for (ModelKind kind : {ModelKind::LeastSquares, ModelKind::Logistic})
    for (std::size_t rows : {3u, 8u, 9u, 10u, 11u, 37u})  // leftovers 3, 0, 1, 2, 3, 1
      for (std::size_t dim : {1u, 7u, 16u, 37u, 64u}) {
        expect_stream_order<double>(kind, rows, dim);
        expect_stream_order<float>(kind, rows, dim);
      }
}

TEST(Softplus, StableForLargeArguments) {
  EXPECT_DOUBLE_EQ(softplus(1000.0), 1000.0);
  EXPECT_DOUBLE_EQ(softplus(-1000.0), 0.0);
  EXPECT_NEAR(softplus(0.0), std::log(2.0), 1e-15);
  EXPECT_NEAR(softplus(-40.0), std::exp(-40.0), 1e-30);
}

TEST(Smoothness, PaperLinearClosedForm) {
  // X_m = a q q^T + I with a = 1.3^(m-1): X_m^T X_m has top eigenvalue (1 + a)^2.
  PaperLinearSpec spec;
  const auto data = make_paper_linear(spec);
  const Smoothness s = smoothness_constants(data, ModelSpec{});
  ASSERT_EQ(s.worker.size(), 9u);
  for (int m = 0; m < 9; ++m) {
    const double a = std::pow(1.3, m);
    EXPECT_NEAR(s.worker[m], (1 + a) * (1 + a), 1e-9 * (1 + a) * (1 + a)) << "worker " << m;
  }
  // Sum over m of X_m^T X_m = 9 I + sum (a^2 + 2a) q q^T with orthonormal q's.
  const double a9 = std::pow(1.3, 8);
  EXPECT_NEAR(s.global, 9 + a9 * a9 + 2 * a9, 1e-9 * s.global);
}

TEST(Smoothness, LogisticAddsQuarterAndRegulariser) {
  const auto data = test::gaussian_data(3, 50, 4, true, 0, 2);
  const Smoothness ls = smoothness_constants(data, ModelSpec{ModelKind::LeastSquares, 0});
  const Smoothness lg = smoothness_constants(data, ModelSpec{ModelKind::Logistic, 0.5});
  for (int m = 0; m < 3; ++m) EXPECT_NEAR(lg.worker[m], 0.25 * ls.worker[m] + 0.5, 1e-12);
  EXPECT_NEAR(lg.global, 0.25 * ls.global + 3 * 0.5, 1e-12);
}

TEST(Optimum, LeastSquaresRecoversPlantedSolution) {
  std::vector<double> truth;
  const auto data = test::gaussian_data(3, 20, 6, false, 0.0, 4, &truth);  // y = X theta exactly
  const Optimum opt = solve_optimum(data, ModelSpec{});
  for (std::size_t j = 0; j < truth.size(); ++j) EXPECT_NEAR(opt.theta[j], truth[j], 1e-12);
  EXPECT_NEAR(opt.value, 0.0, 1e-20);
}

TEST(Optimum, LogisticIsStationary) {
  const auto data = test::gaussian_data(2, 60, 5, true, 0, 8);
  const ModelSpec model{ModelKind::Logistic, 0.1};
  const Optimum opt = solve_optimum(data, model);
  // Gradient of the full objective at the optimum.
  std::vector<double> g(5, 0.0);
  for (const auto& s : data.shards)
    cpu::accumulate_gradient(ModelKind::Logistic, s.x.data(), s.y.data(), s.rows, s.dim,
                             opt.theta.data(), g.data());
  double gn = 0;
  for (int j = 0; j < 5; ++j) gn += std::pow(g[j] + 2 * 0.1 * opt.theta[j], 2);
  EXPECT_LT(std::sqrt(gn), 1e-9);
  EXPECT_NEAR(opt.value, objective(data, model, opt.theta), 1e-12);
}

TEST(Optimum, SeparableLogisticWithoutRegulariserApproachesTheInfimum) {
  Dataset<double> d;
  d.dim = 1;
  Shard<double> s;
  s.source = "sep";
  s.rows = 2;
  s.dim = 1;
  s.x = {1.0, -1.0};
  s.y = {1.0, -1.0};
  d.shards.push_back(s);
  // No minimiser: the infimum of sum softplus(-y x theta) is 0, approached as theta grows.
  const Optimum opt = solve_optimum(d, ModelSpec{ModelKind::Logistic, 0.0});
  EXPECT_LT(opt.value, 1e-9);
  EXPECT_GE(opt.value, 0.0);
  EXPECT_GT(opt.theta[0], 10.0);
}

}  // namespace
}  // namespace lag
