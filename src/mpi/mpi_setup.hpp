// The steps before training that all ranks of a job take together: agreeing that every rank got
// through a step (so that an error on one rank stops all of them, with that rank's message), and
// handing rank 0's numbers (smoothness constants, L*) to the others.
#pragma once

#include <vector>

#include "mpi/mpi_session.hpp"

namespace lag::mpi {

// Every rank passes whether its step failed; all get the lowest failing rank, or -1.
[[nodiscard]] int lowest_failing_rank(MpiSession& session, bool failed);

// The smallest of every rank's `value`, on every rank.
[[nodiscard]] int min_over_ranks(MpiSession& session, int value);

// Rank 0's `values` on every rank; every rank passes a vector of the same size.
void broadcast_from_root(MpiSession& session, std::vector<double>& values);

}  // namespace lag::mpi
