// Starting `mpiexec -np R lag ...` from a test: as root (CI containers) and with more ranks than
// the machine has cores. MPIEXEC and LAG_BINARY come from tests/mpi/CMakeLists.txt.
#pragma once

#include <string>

#include "../run_command.hpp"

namespace lag::test {

// `command` (a program and its arguments) on `ranks` ranks; `env` is prepended as NAME=VALUE
// words; `launcher_options` go to mpiexec before the program.
inline CommandResult mpirun_command(int ranks, const std::string& command,
                                    const std::string& env = "",
                                    const std::string& launcher_options = "") {
  return run_command(env + " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " +
                     "OMPI_MCA_rmaps_base_oversubscribe=1 " + MPIEXEC + " -np " +
                     std::to_string(ranks) + " " + launcher_options + " " + command);
}

// `mpiexec -np R lag ARGS`.
inline CommandResult mpirun(int ranks, const std::string& args, const std::string& env = "",
                            const std::string& launcher_options = "") {
  return mpirun_command(ranks, std::string(LAG_BINARY) + " " + args, env, launcher_options);
}

}  // namespace lag::test
