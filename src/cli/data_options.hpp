// Data options shared by `lag train` and `lag info`, and the loading they drive.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/model.hpp"

namespace lag::cli {

struct DataOptions {
  std::vector<std::string> paths;
  std::string format = "auto";
  std::size_t label_col = 1;
  std::size_t dim = 0;
  int workers = 0;  // 0: one per file
  std::string partition = "contiguous";
  std::uint64_t seed = 1;
  std::string model = "linear";
  double lambda = 0.0;
};

void add_data_options(CLI::App& app, DataOptions& o);

// Validators with messages a user can read ("--alpha: expected a number > 0, got 'x'").
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// Load, partition and check labels. Notices (label mapping) go to `notices`. Throws lag::Error
// (lag::InputError for bad files) before anything is written anywhere.
Dataset<double> load_training_data(const DataOptions& o, ModelSpec& model,
                                   std::vector<std::string>& notices);

}  // namespace lag::cli
