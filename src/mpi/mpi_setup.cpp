#include "mpi/mpi_setup.hpp"

namespace lag::mpi {

int lowest_failing_rank(MpiSession& session, bool failed) {
  int lowest = failed ? session.rank() : session.size();
  MPI_Request request;
  LAG_MPI(MPI_Iallreduce(MPI_IN_PLACE, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request));
  session.wait(request, "the check that every rank finished its setup step (MPI_Iallreduce)", -1,
               MpiSession::Phase::Setup);
  return lowest < session.size() ? lowest : -1;
}

void broadcast_from_root(MpiSession& session, std::vector<double>& values) {
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD,
                     &request));
  session.wait(request, "the broadcast of the problem's constants (MPI_Ibcast)", 0,
               MpiSession::Phase::Setup);
}

}  // namespace lag::mpi
