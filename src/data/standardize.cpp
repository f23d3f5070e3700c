#include "lag/standardize.hpp"

#include <cmath>

#include "lag/error.hpp"

namespace lag {

namespace {

// Per worker: [sum of each column, rows] (first pass) or [sum of squared deviations] (second).
std::vector<double> column_sums(const Dataset<double>& data, std::size_t columns,
                                ProcessGroup& group, const std::vector<double>* mean) {
  const int M = data.workers();
  const WorkerRange own = own_workers(group, M);
  const std::size_t n = mean ? columns : columns + 1;
  OrderedSum total(group, M, n);
  std::vector<double> piece(n);
  for (int m = own.first; m < own.end; ++m) {
    const Shard<double>& s = data.shards[static_cast<std::size_t>(m)];
    std::fill(piece.begin(), piece.end(), 0.0);
    for (std::size_t i = 0; i < s.rows; ++i) {
      const double* x = s.row(i);
      if (mean) {
        for (std::size_t j = 0; j < columns; ++j) {
          const double c = x[j] - (*mean)[j];
          piece[j] += c * c;
        }
      } else {
        for (std::size_t j = 0; j < columns; ++j) piece[j] += x[j];
      }
    }
    if (!mean) piece[columns] = static_cast<double>(s.rows);
    total.add(piece.data());
  }
  return total.finish(OrderedSum::Deliver::Everywhere);
}

}  // namespace

Standardization standardization_of(const Dataset<double>& data, std::size_t columns,
                                   ProcessGroup& group) {
  if (columns > data.dim) throw Error("internal: more columns to standardise than features");
  const std::vector<double> sums = column_sums(data, columns, group, nullptr);
  const double rows = sums[columns];
  if (!(rows > 0)) throw Error("--standardize: no training rows");
  Standardization s;
  s.mean.resize(columns);
  for (std::size_t j = 0; j < columns; ++j) s.mean[j] = sums[j] / rows;
  const std::vector<double> squares = column_sums(data, columns, group, &s.mean);
  s.scale.resize(columns);
  for (std::size_t j = 0; j < columns; ++j) {
    const double sd = std::sqrt(squares[j] / rows);
    s.scale[j] = sd > kConstantColumn * (1.0 + std::fabs(s.mean[j])) ? sd : 1.0;
  }
  return s;
}

void standardize(Shard<double>& shard, const Standardization& s) {
  const std::size_t columns = s.mean.size();
  if (columns > shard.dim) throw Error("internal: a shard narrower than the standardisation");
  for (std::size_t i = 0; i < shard.rows; ++i) {
    double* x = shard.x.data() + i * shard.dim;
    for (std::size_t j = 0; j < columns; ++j) x[j] = (x[j] - s.mean[j]) / s.scale[j];
  }
}

}  // namespace lag
