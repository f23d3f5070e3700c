#include "mpi/fault_injection.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "lag/error.hpp"
#include "mpi/mpi_session.hpp"

namespace lag::mpi {

FaultInjection::FaultInjection(MpiSession& session) : session_(session) {
  const char* kind = std::getenv("LAG_FAULT");
  const char* who = std::getenv("LAG_FAULT_RANK");
  const char* when = std::getenv("LAG_FAULT_ITER");
  if (!kind || !who || !when || std::atoi(who) != session.rank()) return;
  const std::string k = kind;
  if (k == "kill")
    kind_ = Kind::Kill;
  else if (k == "hang")
    kind_ = Kind::Hang;
  else if (k == "exit")
    kind_ = Kind::Exit;
  else
    throw Error("LAG_FAULT must be kill, hang or exit, got '" + k + "'");
  iteration_ = std::atoll(when);
}

void FaultInjection::at_iteration(std::int64_t k) const {
  if (kind_ == Kind::None || k != iteration_) return;
  const char* what = kind_ == Kind::Kill   ? "dies"
                     : kind_ == Kind::Hang ? "hangs"
                                           : "leaves the job (MPI_Finalize, then exit status 0)";
  std::fprintf(stderr, "lag: LAG_FAULT: this rank %s at iteration %lld (testing)\n", what,
               static_cast<long long>(k));
  std::fflush(stderr);
  if (kind_ == Kind::Kill) std::raise(SIGKILL);
  if (kind_ == Kind::Exit) {
    session_.finalize();
    // _Exit, not exit: the worker threads are still there, and static destructors must not run
    // under them. The output is flushed as a normal end of the program would.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

}  // namespace lag::mpi
