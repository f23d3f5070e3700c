// One-line progress display on stderr (only when stderr is a terminal and not --quiet).
#pragma once

#include <chrono>
#include <string>

#include "lag/engine.hpp"

namespace lag::cli {

class Progress {
 public:
  explicit Progress(bool enabled);
  // Redraws at most ten times a second.
  void update(const std::string& algo, const IterationRow& row);
  // Clears the line.
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string last_eval_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace lag::cli
