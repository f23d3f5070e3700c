// Seeded synthetic data sets (`lag gen`). The same seed gives the same data on the same C library
// (the normal draws use log/sin/cos, which the standard does not pin to the last bit).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lag/dataset.hpp"

namespace lag {

// The paper's heterogeneous linear-regression set: M shards of n = d rows; shard m (1-based)
// has X_m = 1.3^(m-1) q_m q_m^T + I with q_m column m of a random orthogonal d x d matrix
// (needs d >= M), and every shard the same random target vector y ~ N(0, I).
struct PaperLinearSpec {
  int workers = 9;
  std::size_t dim = 50;
  double growth = 1.3;
  std::uint64_t seed = 1;
};
Dataset<double> make_paper_linear(const PaperLinearSpec& spec);

// Gaussian rows with per-shard scales s_m = spread^((m-1) / (2(M-1))), so that the smoothness
// constants L_m ~ s_m^2 grow geometrically from shard 1 to shard M by a factor of `spread`.
// Targets come from a planted theta* ~ N(0, I/d): linear y = x.theta* + noise * N(0,1);
// logistic y = +1 with probability sigmoid(x.theta*), else -1.
struct HeteroSpec {
  int workers = 9;
  std::size_t rows = 200;  // per shard
  std::size_t dim = 50;
  double spread = 100.0;
  bool logistic = false;
  double noise = 0.1;
  std::uint64_t seed = 1;
};
Dataset<double> make_hetero(const HeteroSpec& spec);

// Write each shard to DIR/shard-NN.svm (LIBSVM: the nonzero features and always the last one, so
// that a reader infers the dimension; 17 significant digits so that the data round-trips exactly)
// or DIR/shard-NN.csv (label first, no header); creates DIR. Returns the paths written, in worker
// order.
std::vector<std::string> write_shards(const Dataset<double>& data, const std::string& dir,
                                      FileFormat format);

}  // namespace lag
