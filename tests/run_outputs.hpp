// Reading what a `lag train` run wrote (summary.json, metrics.csv, weights-*.txt), for the
// end-to-end tests: the CLI's, and those that compare an MPI job's outputs with a single
// process's.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace lag::test {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// The rows of a CSV file, each split at its commas (header included).
inline std::vector<std::vector<std::string>> csv_rows(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream s(line);
    std::string f;
    while (std::getline(s, f, ',')) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

// metrics.csv as rows of named fields (the header's names); a trailing empty field is kept.
inline std::vector<std::map<std::string, std::string>> metrics_table(
    const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::map<std::string, std::string>> table;
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields(1);
    for (const char c : line) {
      if (c == ',')
        fields.emplace_back();
      else
        fields.back() += c;
    }
    if (names.empty()) {
      names = fields;
      continue;
    }
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < names.size() && i < fields.size(); ++i) row[names[i]] = fields[i];
    table.push_back(row);
  }
  return table;
}

// One number per line (weights-ALGO.txt).
inline std::vector<double> read_numbers(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<double> v;
  double x = 0;
  while (in >> x) v.push_back(x);
  return v;
}

}  // namespace lag::test
