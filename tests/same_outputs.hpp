// Comparing two `lag train` output folders bit for bit but the time, for the tests that resume
// a stopped run and compare it with the run that never stopped.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_outputs.hpp"

namespace lag::test {

// metrics.csv's lines with the wall_seconds field blanked.
inline std::vector<std::string> metrics_without_time(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  std::string line;
  std::size_t column = std::string::npos;
  while (std::getline(in, line)) {
    std::vector<std::string> fields(1);
    for (char c : line) {
      if (c == ',')
        fields.emplace_back();
      else
        fields.back() += c;
    }
    if (column == std::string::npos) {
      for (std::size_t i = 0; i < fields.size(); ++i)
        if (fields[i] == "wall_seconds") column = i;
    } else if (column < fields.size()) {
      fields[column].clear();
    }
    std::string joined;
    for (const auto& f : fields) joined += f + ",";
    out.push_back(joined);
  }
  return out;
}

inline nlohmann::json summary_without_time(const std::filesystem::path& p) {
  nlohmann::json s = read_json(p);
  for (auto& run : s["runs"]) {
    run.erase("wall_seconds");
    run.erase("eval_seconds");
    if (run.contains("epochs"))
      for (auto& epoch : run["epochs"]) epoch.erase("wall_seconds");
  }
  return s;
}

// Every output of `b` is that of `a` (the uninterrupted run), bit for bit but the time.
inline void expect_same_outputs(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto ma = metrics_without_time(a / "metrics.csv"),
             mb = metrics_without_time(b / "metrics.csv");
  ASSERT_EQ(ma.size(), mb.size());
  for (std::size_t i = 0; i < ma.size(); ++i) ASSERT_EQ(ma[i], mb[i]) << "metrics line " << i;
  EXPECT_EQ(summary_without_time(a / "summary.json"), summary_without_time(b / "summary.json"));
  int weights = 0;
  for (const auto& entry : std::filesystem::directory_iterator(a)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("weights-", 0) != 0) continue;
    ++weights;
    EXPECT_EQ(read_text(entry.path()), read_text(b / name)) << name;
  }
  EXPECT_GT(weights, 0);
}

}  // namespace lag::test
