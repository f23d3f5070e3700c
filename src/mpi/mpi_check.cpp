#include "mpi/mpi_check.hpp"

#include <cstdio>
#include <cstdlib>

#include "mpi/mpi_liveness.hpp"

namespace lag::mpi {

int world_rank() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return -1;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

void abort_job(const std::string& message) {
  if (Liveness* liveness = Liveness::active()) liveness->end_job(message);
  std::fprintf(stderr, "lag: error: rank %d: %s\n", world_rank(), message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this is for the compiler and odd implementations
}

void check(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    std::snprintf(text, sizeof text, "error code %d", code);
  abort_job(std::string("MPI error in ") + call + " (" + file + ":" + std::to_string(line) +
            "): " + text);
}

}  // namespace lag::mpi
