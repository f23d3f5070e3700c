#include "cli/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace lag::cli {

Progress::Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}

void Progress::update(const std::string& algo, const IterationRow& row) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  const auto& c = row.cumulative;
  const double saved = c.gd_equivalent_bytes_up
                           ? 100.0 * (1.0 - static_cast<double>(c.bytes_up) /
                                                static_cast<double>(c.gd_equivalent_bytes_up))
                           : 0.0;
  char loss[64] = "";
  if (row.evaluated) {
    if (std::isnan(row.objective_error))
      std::snprintf(loss, sizeof loss, "  loss %.6e", row.loss);
    else
      std::snprintf(loss, sizeof loss, "  gap %.3e", row.objective_error);
  }
  std::fprintf(stderr, "\r[%s] iter %lld%s  uploads %llu  bytes saved %.1f%%\x1b[K", algo.c_str(),
               static_cast<long long>(row.iter), loss, static_cast<unsigned long long>(c.uploads),
               saved);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace lag::cli
