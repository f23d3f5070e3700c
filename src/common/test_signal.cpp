#include "common/test_signal.hpp"

#include <csignal>
#include <cstdlib>
#include <map>
#include <string>

namespace lag {

void test_signal_point(const char* variable, int signal) {
  struct Point {
    long long at = 0;  // 0: never
    long long calls = 0;
  };
  static std::map<std::string, Point> points;  // the CLI's main thread only
  auto [it, fresh] = points.try_emplace(variable);
  if (fresh)
    if (const char* value = std::getenv(variable)) it->second.at = std::atoll(value);
  if (it->second.at > 0 && ++it->second.calls == it->second.at) std::raise(signal);
}

}  // namespace lag
