// A fixture that gives each test its own temporary directory, so that tests can run in parallel
// (ctest -j) and leave nothing behind, and writes files into it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace lag::test {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::random_device entropy;
    // Parameterised tests are named "Prefix/Suite.Name/0": one folder, not nested ones.
    std::string name = std::string(info->test_suite_name()) + "-" + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    dir_ = std::filesystem::temp_directory_path() /
           ("lag-" + name + "-" + std::to_string(entropy()) + std::to_string(entropy()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The path of `name` inside the directory.
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `content` (binary) to `name` inside the directory, creating subfolders; the path.
  std::string write(const std::string& name, const std::string& content) const {
    const std::filesystem::path path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path.string();
  }

  std::filesystem::path dir_;
};

}  // namespace lag::test
