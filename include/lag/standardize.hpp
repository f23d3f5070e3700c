// Standardising the features (z-scores): each column of the training rows of all workers
// together gets mean 0 and standard deviation 1; the test rows are mapped with the training
// statistics. The statistics travel with the weights (a prediction needs them).
#pragma once

#include <cstddef>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/process_group.hpp"

namespace lag {

struct Standardization {
  std::vector<double> mean;   // per standardised column
  std::vector<double> scale;  // its standard deviation, or 1 for a (nearly) constant column
};

// A column whose standard deviation is at most this (relative to 1 + |mean|) is constant: it is
// only centred (scale 1), never divided by a rounding error.
constexpr double kConstantColumn = 1e-12;

// Collective: the mean and the (population) standard deviation of the first `columns` columns
// over every worker's rows, in two passes (the sums, then the squared deviations from the mean).
// Each process sums its own workers' rows, row by row; the workers' sums are added in worker
// order (OrderedSum), so the statistics have the same bits for any number of processes.
Standardization standardization_of(const Dataset<double>& data, std::size_t columns,
                                   ProcessGroup& group);

// x = (x - mean) / scale in the standardised columns of every row (the others, such as a bias
// column after them, are left alone).
void standardize(Shard<double>& shard, const Standardization& s);

}  // namespace lag
