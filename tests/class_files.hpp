// Small multi-class data sets written as files, for the end-to-end tests of `lag train`.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace lag::test {

// One LIBSVM file per worker (shard-1.svm ...) of `rows` rows with class labels: worker m's
// labels are 0 .. m (so K, the largest label + 1, is known only from the last file) and its
// features 1 .. dim - workers + m + 1 (so the dimension is known only from the last file too).
// Values printed exactly (17 digits).
inline void write_class_files(const std::filesystem::path& dir, int workers, int rows, int dim,
                              unsigned seed) {
  std::filesystem::create_directories(dir);
  std::uint64_t state = seed;
  const auto next = [&] {  // a fixed LCG: the same files on every machine
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (int m = 0; m < workers; ++m) {
    std::ofstream out(dir / ("shard-" + std::to_string(m + 1) + ".svm"));
    const int width = dim - workers + m + 1;
    for (int i = 0; i < rows; ++i) {
      const int label = static_cast<int>(next() * (m + 1));
      out << label;
      for (int j = 1; j <= width; ++j) {
        char value[32];
        std::snprintf(value, sizeof value, "%.17g", 2 * next() - 1 + 0.5 * (label == j % 4));
        out << ' ' << j << ':' << value;
      }
      out << '\n';
    }
  }
}

}  // namespace lag::test
