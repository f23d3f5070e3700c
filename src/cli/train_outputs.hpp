// What `lag train` writes: metrics.csv, summary.json, weights, and the comparison table.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "lag/engine.hpp"

namespace lag::cli {

// How much of metrics.csv had been written, and the CRC-32 of those bytes: a checkpoint keeps
// it, and the resumed run continues the file from there.
struct MetricsMark {
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
};

// metrics.csv, streamed: one row per iteration of every run, the algorithm in the first column.
class MetricsWriter {
 public:
  // A new file (the header line); or, with `resume`, the existing file cut back to the mark
  // after checking that its first bytes are the ones the mark describes (lag::Error otherwise:
  // the file was changed or replaced since the checkpoint).
  explicit MetricsWriter(const std::string& path, const MetricsMark* resume = nullptr);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  // Throws lag::Error as soon as a write fails (a full disk), so the run ends then.
  void write(const char* algo, const IterationRow& row);
  void close();  // throws lag::Error if anything failed to write
  // Everything so far on the disk (fflush, fsync), and where that is. Throws lag::Error.
  MetricsMark mark();

 private:
  void append(const std::string& text);
  std::string path_;
  std::FILE* file_ = nullptr;
  MetricsMark written_;
};

// theta, one value per line, 17 significant digits (exact round trip).
void write_weights(const std::string& path, const std::vector<double>& theta);

// Writes `doc` to `path` (pretty, trailing newline), atomically (a temporary file renamed into
// place); throws lag::Error on failure, leaving no file behind.
void write_json(const std::string& path, const nlohmann::json& doc);

// The run's fields for summary.json's `runs` array.
struct RunContext {
  std::string model;
  int workers = 0;
  std::size_t dim = 0;
  std::string precision;
  double lambda = 0;
  int depth = 0;
  int threads = 0;
};
nlohmann::json run_json(const RunResult& r, const RunContext& c);

// Fixed-width comparison of the runs; savings against GD's run when there is one, and against
// the GD-equivalent bytes always.
void print_comparison(std::ostream& out, const std::vector<RunResult>& runs);
// Per epoch of each minibatch run: uploads, bytes, bytes saved against SGD, loss, test accuracy.
void print_epochs(std::ostream& out, const std::vector<RunResult>& runs);

}  // namespace lag::cli
