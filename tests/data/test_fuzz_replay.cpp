// The fuzz harnesses' corpora replayed as ordinary tests: every seed (fuzz/corpus/HARNESS/) and
// every input a campaign once found failing (fuzz/regressions/HARNESS/) goes through the same
// harness body as under libFuzzer (fuzz/harness.hpp), here built without sanitizers. A reader
// refusing an input is fine; an invariant broken or any other exception fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

namespace fs = std::filesystem;

using Harness = int (*)(const std::uint8_t*, std::size_t);

std::vector<fs::path> inputs(const std::string& folder) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(LAG_FUZZ_DIR) / folder;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void replay(const std::string& name, Harness harness) {
  const std::vector<fs::path> seeds = inputs("corpus/" + name);
  EXPECT_GE(seeds.size(), 4u) << "the seed corpus fuzz/corpus/" << name << " is missing";
  std::vector<fs::path> all = seeds;
  for (const fs::path& p : inputs("regressions/" + name)) all.push_back(p);
  for (const fs::path& p : all) {
    SCOPED_TRACE(p.string());
    const std::string bytes = bytes_of(p);
    try {
      EXPECT_EQ(harness(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0);
    } catch (const std::exception& e) {
      ADD_FAILURE() << p.string() << ": " << e.what();
    }
  }
}

TEST(FuzzReplay, Libsvm) { replay("libsvm", lag::fuzz::fuzz_libsvm); }
TEST(FuzzReplay, Csv) { replay("csv", lag::fuzz::fuzz_csv); }
TEST(FuzzReplay, Idx) { replay("idx", lag::fuzz::fuzz_idx); }
TEST(FuzzReplay, IdxGzip) { replay("idx_gzip", lag::fuzz::fuzz_idx_gzip); }
TEST(FuzzReplay, Config) { replay("config", lag::fuzz::fuzz_config); }
TEST(FuzzReplay, Checkpoint) { replay("checkpoint", lag::fuzz::fuzz_checkpoint); }

}  // namespace
