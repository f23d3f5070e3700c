// Whether an MPI launcher started this process, read from the environment only (no MPI call), so
// that a plain `lag train` never initialises MPI and a build without MPI can still notice that
// it was started by mpirun.
#pragma once

#include <cctype>
#include <cstdlib>
#include <string>

namespace lag::mpi {

namespace detail {
inline int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return *end == '\0' && n >= 0 && n < 1000000 ? static_cast<int>(n) : -1;
}
}  // namespace detail

// Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; PMI (MPICH's Hydra, Slurm's srun) sets PMI_SIZE;
// PMIx launchers set PMIX_RANK.
inline bool started_by_mpi_launcher() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

// The job's size and this process's rank as the launcher announced them (-1 when it did not).
inline int launcher_world_size() {
  const int n = detail::env_int("OMPI_COMM_WORLD_SIZE");
  return n >= 0 ? n : detail::env_int("PMI_SIZE");
}
inline int launcher_world_rank() {
  int r = detail::env_int("OMPI_COMM_WORLD_RANK");
  if (r < 0) r = detail::env_int("PMI_RANK");
  return r >= 0 ? r : detail::env_int("PMIX_RANK");
}

// Ranks on this machine (they share its cores): Open MPI, then MPICH's name; 1 when unknown.
inline int launcher_local_size() {
  int n = detail::env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (n < 1) n = detail::env_int("MPI_LOCALNRANKS");
  return n >= 1 ? n : 1;
}

// This process's index among the ranks on its machine (it picks the rank's GPU): Open MPI, then
// MPICH's name, then Slurm's; -1 when the launcher did not say.
inline int launcher_local_rank() {
  int r = detail::env_int("OMPI_COMM_WORLD_LOCAL_RANK");
  if (r < 0) r = detail::env_int("MPI_LOCALRANKID");
  return r >= 0 ? r : detail::env_int("SLURM_LOCALID");
}

// Whether the launcher stops the whole job as soon as one rank exits with a non-zero status,
// which ends a rank that hangs. Open MPI's mpirun (ORTE, which hands its ranks
// OMPI_MCA_orte_hnp_uri) does so unless told otherwise by orte_abort_on_non_zero_status, which it
// hands on as OMPI_MCA_orte_abort_on_non_zero_status when given on its command line or in the
// environment (not when set in an MCA parameter file). Other launchers (srun by default) let the
// other ranks run on, so for them the answer is no.
inline bool launcher_stops_job_on_failed_rank() {
  if (!std::getenv("OMPI_MCA_orte_hnp_uri")) return false;
  const char* v = std::getenv("OMPI_MCA_orte_abort_on_non_zero_status");
  if (!v) return true;
  std::string s = v;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(s == "0" || s == "f" || s == "false" || s == "n" || s == "no" || s == "disabled");
}

}  // namespace lag::mpi
