// Data and model options shared by `lag train` and `lag info`, and the loading they drive.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/model.hpp"

namespace lag::cli {

// Where the Debian package dataset-fashion-mnist installs the data set.
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct DataOptions {
  std::vector<std::string> paths;
  std::string labels;  // IDX: the label file that goes with --data
  std::string test_path, test_labels;
  std::string dataset;  // a named data set ("fashion-mnist"), instead of --data
  std::string format = "auto";
  std::size_t label_col = 1;
  std::size_t dim = 0;
  bool bias = false;
  std::size_t limit = 0;  // IDX: keep the first `limit` training images
  int workers = 0;        // 0: one per file
  std::string partition = "contiguous";
  int classes_per_worker = 1;
  std::uint64_t seed = 1;
  std::string model = "linear";
  double lambda = 0.0;
  int classes = 0;
  int hidden = 64;
};

void add_data_options(CLI::App& app, DataOptions& o);

// Validators with messages a user can read ("--alpha: expected a number > 0, got 'x'").
CLI::Validator positive_number();
CLI::Validator non_negative_number();

struct TrainingData {
  Dataset<double> train;              // one shard per worker
  std::optional<Shard<double>> test;  // held-out rows, when given
  ModelSpec model;                    // with classes known
  std::vector<std::string> notices;   // e.g. label mapping
};

// Load, check labels, partition. Throws lag::Error (lag::InputError for bad files) before
// anything is written anywhere.
TrainingData load_training_data(const DataOptions& o);

// The data files when each worker has its own, in worker order; empty when one file is split
// over --workers (or a named data set is used).
std::vector<std::string> per_worker_files(const DataOptions& o);
// Reads `files` as load_training_data would and drops the rows: one rank of an MPI job reads its
// own workers' files first, so that a bad file is reported by the rank that holds it. Throws
// lag::InputError naming the file and line.
void check_files(const std::vector<std::string>& files, const DataOptions& o);

}  // namespace lag::cli
