// Running a shell command from a test: its exit status, its stdout and stderr together, and how
// long it took. Used by the tests that drive the `lag` program end to end.
#pragma once

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

namespace lag::test {

struct CommandResult {
  int status = -1;     // exit status; -1 if it did not exit normally
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  const auto t0 = std::chrono::steady_clock::now();
  std::FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The `lag` program of this build (LAG_BINARY is set by tests/CMakeLists.txt).
inline CommandResult run_lag(const std::string& args) {
  return run_command(std::string(LAG_BINARY) + " " + args);
}

}  // namespace lag::test
