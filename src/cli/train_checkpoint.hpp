// What `lag train` keeps in a checkpoint (docs/architecture.md §6), on top of the engine's and
// the cluster's state: the fingerprint of the run (what must not change for a resumed run to
// continue it exactly), the options the user gave (a resume without them runs with these), the
// results of the runs of the command that have finished, and where metrics.csv stood.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/train_outputs.hpp"
#include "lag/dataset.hpp"
#include "lag/engine.hpp"

namespace lag::cli {

// (what, value) pairs in a fixed order, such as ("--precision", "fp64"); `what` is how the
// mismatch message names it.
using Fingerprint = std::vector<std::pair<std::string, std::string>>;
// Long option name (without dashes) and the values given to it.
using GivenOptions = std::vector<std::pair<std::string, std::vector<std::string>>>;

struct TrainCheckpoint {
  Fingerprint fingerprint;
  GivenOptions options;
  std::vector<RunResult> finished;  // the command's runs so far, in order
  MetricsMark metrics;              // rank 0's metrics.csv (zero elsewhere)
  bool in_run = false;              // a run (the next of the command's algorithms) is under way
  std::string run_state;            // ... and its RunState<T> (put_run_state)
};

std::string encode(const TrainCheckpoint& checkpoint);
// Throws lag::Error naming `where` when the contents do not decode.
TrainCheckpoint decode(const std::string& contents, const std::string& where);

// Throws lag::Error with one line, the first difference: "the checkpoint in DIR does not match
// this run: --precision is fp64 there and fp32 here".
void require_same(const Fingerprint& saved, const Fingerprint& now, const std::string& folder);

// CRC-32 of this process's own workers' rows (their x and y, worker by worker) and of the test
// rows when this process holds them, as 8 hex digits.
std::string data_checksum(const Dataset<double>& train, const Shard<double>* test, int own_first,
                          int own_end);

// The options of `app` that were given (on the command line or by --config), but for those
// named in `skip`; and the saved ones applied to the options not given now.
GivenOptions given_options(const CLI::App& app, const std::vector<std::string>& skip);
void apply_given_options(CLI::App& app, const GivenOptions& options, const std::string& folder);

}  // namespace lag::cli
