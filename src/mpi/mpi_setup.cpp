#include "mpi/mpi_setup.hpp"

namespace lag::mpi {

int lowest_failing_rank(MpiSession& session, bool failed) {
  const int lowest = min_over_ranks(session, failed ? session.rank() : session.size());
  return lowest < session.size() ? lowest : -1;
}

int min_over_ranks(MpiSession& session, int value) {
  MPI_Request request;
  LAG_MPI(MPI_Iallreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request));
  session.wait(request, "the check that every rank finished its setup step (MPI_Iallreduce)", -1,
               MpiSession::Phase::Setup);
  return value;
}

void broadcast_from_root(MpiSession& session, std::vector<double>& values) {
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD,
                     &request));
  session.wait(request, "the broadcast of the problem's constants (MPI_Ibcast)", 0,
               MpiSession::Phase::Setup);
}

}  // namespace lag::mpi
