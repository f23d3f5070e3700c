// FOR TESTING ONLY: die by SIGKILL at a chosen point, as a pre-empted job does, or be sent
// SIGTERM there, so that resuming from checkpoints can be tested end to end
// (tests/cli/test_checkpoint.cpp):
//
//   LAG_TEST_KILL_AT_ROW=n          SIGKILL after the n-th row of metrics.csv this process
//                                   writes (counted from 1 over all of the command's runs)
//   LAG_TEST_TERM_AT_ROW=n          SIGTERM there instead (the run stops at its next check)
//   LAG_TEST_KILL_IN_CHECKPOINT=n   SIGKILL during this process's n-th checkpoint write, when
//                                   its temporary file is whole and not yet renamed into place
//
// Without the variable a point does nothing (one getenv, once).
#pragma once

namespace lag {

// Counts the calls for `variable`; raises `signal` at the call its value names.
void test_signal_point(const char* variable, int signal);

}  // namespace lag
