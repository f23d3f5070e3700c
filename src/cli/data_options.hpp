// Data and model options shared by `lag train` and `lag info`, and the loading they drive.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/process_group.hpp"
#include "lag/standardize.hpp"

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
  int load_threads = 0;  // parsing threads (LoadOptions::threads; 0: one per hardware thread)
  bool bias = false;
  bool standardize = false;
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
  // One shard per worker. Spread over processes, only this process's workers' shards hold rows
  // (the others are empty: see Dataset).
  Dataset<double> train;
  std::size_t rows = 0;                            // over all workers
  std::vector<std::size_t> worker_rows;            // every worker's (on every process)
  std::optional<Shard<double>> test;               // held-out rows, when given (on rank 0 only)
  ModelSpec model;                                 // with classes known
  std::optional<Standardization> standardization;  // with --standardize: applied to train and test
  std::vector<std::string> notices;                // e.g. label mapping
};

// Load, check labels, partition. Throws lag::Error (lag::InputError for bad files) before
// anything is written anywhere.
//
// With the workers spread over the processes of `group` (collective: the ranks of an MPI job),
// each process ends up holding only its own workers' rows, and everything else (dimension,
// labels, K, notices, errors) is what one process would have found:
//   - one file per worker: rank 0 lists them (expand_data_paths), each process reads only its
//     own workers' files; the dimension and the labels are agreed from what each learned
//     (load_shards, prepare_labels);
//   - one file (an IDX pair, a named data set) split over --workers: rank 0 reads, checks and
//     partitions it exactly as one process does, then sends each rank its workers' rows
//     (scatter_shards), so rank 0 alone peaks at the whole file, as one process would;
//   - --test-data: rank 0 alone reads it (it evaluates the test rows).
// A bad file is reported by the process that reads it (the others throw PeerFailure). More
// processes than workers is an error, raised before any file is read.
TrainingData load_training_data(const DataOptions& o, ProcessGroup& group = single_process());

}  // namespace lag::cli
