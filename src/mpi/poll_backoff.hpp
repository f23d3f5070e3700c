// How a rank that waits for other ranks polls: spin first (an iteration's messages arrive within
// microseconds), then yield the core to the ranks that share it, then sleep: long waits (another
// rank loading data) must not eat the CPU the others compute on.
#pragma once

#include <sched.h>

#include <chrono>
#include <thread>

namespace lag::mpi {

class PollBackoff {
 public:
  // Call after every poll that found nothing done. Returns the seconds since construction, or 0
  // during the first polls (which spin and do not read the clock).
  double pause() {
    if (polls_++ < kSpinPolls) return 0.0;
    const double waited = std::chrono::duration<double>(Clock::now() - start_).count();
    if (waited < 0.005)
      sched_yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(waited < 0.1 ? 50 : 1000));
    return waited;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr long kSpinPolls = 100;
  Clock::time_point start_ = Clock::now();
  long polls_ = 0;
};

}  // namespace lag::mpi
