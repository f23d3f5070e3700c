// SIGINT and SIGTERM during `lag train`: the first one asks the engine to stop after the current
// iteration (StopReason::Interrupted), so that the outputs are written and say so; the exit
// status is then the conventional 128 + the signal (130, 143). A second signal ends the program
// at once (the default action is restored by the first).
#pragma once

namespace lag::cli {

class InterruptGuard {
 public:
  // Installs the handlers; the destructor restores the previous ones.
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // The signal received (SIGINT or SIGTERM), or 0.
  static int signal();
  // 128 + the signal, for the exit status; SIGTERM's when this process received none (an MPI
  // rank that stops because another one was interrupted).
  static int exit_status();
};

}  // namespace lag::cli
