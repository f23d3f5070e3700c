// Loading speed and memory: lag::load_shards on the given data files (one per worker), as
// `lag train --data FILES` loads them, with a chosen number of parsing threads. Prints one line:
// the text's size, the wall time, MB/s of text, the dense data's size, this process's peak
// resident memory and its ratio to the dense data. A process measures one load (the peak is the
// process's), so bench/loading.sh runs it once per thread count.
//
//   bench_load [--threads N] FILE...      (N = 0: one per hardware thread, as lag train does)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/error.hpp"

int main(int argc, char** argv) {
  lag::LoadOptions options;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      options.threads = std::atoi(argv[++i]);
    else
      files.emplace_back(argv[i]);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_load [--threads N] FILE...\n");
    return 2;
  }
  double text = 0;
  for (const std::string& f : files) text += static_cast<double>(std::filesystem::file_size(f));
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const lag::Dataset<double> data = lag::load_shards(files, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double dense = static_cast<double>(data.total_rows() * data.dim * sizeof(double));
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double peak = static_cast<double>(usage.ru_maxrss) * 1024.0;  // KiB on Linux
    constexpr double MiB = 1 << 20;
    std::printf(
        "threads %d: %zu files, %.1f MiB of text in %.3f s = %.0f MB/s; dense %.1f MiB, peak "
        "%.1f MiB (%.2fx dense, dense + %.1f MiB)\n",
        options.threads, files.size(), text / MiB, seconds, text / 1e6 / seconds, dense / MiB,
        peak / MiB, peak / dense, (peak - dense) / MiB);
  } catch (const lag::Error& e) {
    std::fprintf(stderr, "bench_load: %s\n", e.what());
    return 1;
  }
  return 0;
}
