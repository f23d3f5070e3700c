#include "mpi/fault_injection.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace lag::mpi {

FaultInjection::FaultInjection(int rank) {
  const char* kind = std::getenv("LAG_FAULT");
  const char* who = std::getenv("LAG_FAULT_RANK");
  const char* when = std::getenv("LAG_FAULT_ITER");
  if (!kind || !who || !when || std::atoi(who) != rank) return;
  const std::string k = kind;
  if (k == "kill")
    kind_ = Kind::Kill;
  else if (k == "hang")
    kind_ = Kind::Hang;
  iteration_ = std::atoll(when);
}

void FaultInjection::at_iteration(std::int64_t k) const {
  if (kind_ == Kind::None || k != iteration_) return;
  std::fprintf(stderr, "lag: LAG_FAULT: this rank %s at iteration %lld (testing)\n",
               kind_ == Kind::Kill ? "dies" : "hangs", static_cast<long long>(k));
  std::fflush(stderr);
  if (kind_ == Kind::Kill) std::raise(SIGKILL);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

}  // namespace lag::mpi
