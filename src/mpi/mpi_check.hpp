// Every MPI return code is checked: a failure ends the whole job with one line that names the
// rank, the call, the place and MPI's own reason (the job's error handler is set to return
// codes, so that this line is printed instead of Open MPI's generic abort).
#pragma once

#include <mpi.h>

#include <string>

namespace lag::mpi {

// This process's rank in MPI_COMM_WORLD (-1 when MPI is not running).
int world_rank();

// Prints "lag: error: rank R: MESSAGE" on stderr and ends every rank of the job with exit
// status 1. While the job's liveness channel runs (Liveness::end_job, mpi_liveness.hpp), every
// other rank that still answers also prints "lag: error: rank S: rank R ends the job: MESSAGE"
// and exits with status 1, and the silent ones are stopped; before or after it, MPI_Abort.
[[noreturn]] void abort_job(const std::string& message);

// Aborts the job unless `code` is MPI_SUCCESS.
void check(int code, const char* call, const char* file, int line);

}  // namespace lag::mpi

#define LAG_MPI(call) ::lag::mpi::check((call), #call, __FILE__, __LINE__)
