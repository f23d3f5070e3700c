#include "cli/interrupt.hpp"

#include <csignal>
#include <cstring>

namespace lag::cli {

namespace {

volatile std::sig_atomic_t received = 0;
struct sigaction previous_int, previous_term;

extern "C" void on_signal(int signo) { received = signo; }

}  // namespace

InterruptGuard::InterruptGuard() {
  received = 0;
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // a second signal takes the default action: the program ends
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

int InterruptGuard::signal() { return received; }

int InterruptGuard::exit_status() { return 128 + (received ? received : SIGTERM); }

}  // namespace lag::cli
