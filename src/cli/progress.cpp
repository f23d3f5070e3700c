#include "cli/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace lag::cli {

Progress::Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}

void Progress::update(const std::string& algo, const IterationRow& row) {
  if (!enabled_) return;
  if (row.evaluated) {
    char text[96];
    int n = std::isnan(row.objective_error)
                ? std::snprintf(text, sizeof text, "  loss %.6e", row.loss)
                : std::snprintf(text, sizeof text, "  gap %.3e", row.objective_error);
    if (!std::isnan(row.test.accuracy) && n > 0)
      std::snprintf(text + n, sizeof text - static_cast<std::size_t>(n), "  test acc %.2f%%",
                    100.0 * row.test.accuracy);
    last_eval_ = text;  // shown until the next evaluation
  }
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  const auto& c = row.cumulative;
  const double saved = 100.0 * c.bytes_saved_fraction();
  std::fprintf(stderr, "\r[%s] iter %lld%s  uploads %llu  bytes saved %.1f%%\x1b[K", algo.c_str(),
               static_cast<long long>(row.iter), last_eval_.c_str(),
               static_cast<unsigned long long>(c.uploads), saved);
  std::fflush(stderr);
}

void Progress::finish() {
  last_eval_.clear();
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace lag::cli
