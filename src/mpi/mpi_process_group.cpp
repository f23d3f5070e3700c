#include "mpi/mpi_process_group.hpp"

#include <algorithm>

#include "mpi/mpi_setup.hpp"

namespace lag::mpi {

namespace {

// Apart from the clusters' tags (small numbers) and the liveness channel's (0x7a01..0x7a03).
constexpr int kSetupTag = 0x5e01;

template <class F>
void in_pieces(std::size_t bytes, F f) {
  for (std::size_t at = 0; at < bytes; at += MpiProcessGroup::kPieceBytes)
    f(at, static_cast<int>(std::min(MpiProcessGroup::kPieceBytes, bytes - at)));
}

}  // namespace

void MpiProcessGroup::send(const void* data, std::size_t bytes, int to) {
  const auto* p = static_cast<const char*>(data);
  in_pieces(bytes, [&](std::size_t at, int n) {
    MPI_Request request;
    LAG_MPI(MPI_Isend(p + at, n, MPI_BYTE, to, kSetupTag, MPI_COMM_WORLD, &request));
    session_.wait(request, "a set-up step's message (MPI_Isend)", to, MpiSession::Phase::Setup);
  });
}

void MpiProcessGroup::receive(void* data, std::size_t bytes, int from) {
  auto* p = static_cast<char*>(data);
  in_pieces(bytes, [&](std::size_t at, int n) {
    MPI_Request request;
    LAG_MPI(MPI_Irecv(p + at, n, MPI_BYTE, from, kSetupTag, MPI_COMM_WORLD, &request));
    session_.wait(request, "a set-up step's message (MPI_Irecv)", from, MpiSession::Phase::Setup);
  });
}

void MpiProcessGroup::broadcast(void* data, std::size_t bytes, int from) {
  auto* p = static_cast<char*>(data);
  in_pieces(bytes, [&](std::size_t at, int n) {
    MPI_Request request;
    LAG_MPI(MPI_Ibcast(p + at, n, MPI_BYTE, from, MPI_COMM_WORLD, &request));
    session_.wait(request, "a set-up step's broadcast (MPI_Ibcast)", from,
                  MpiSession::Phase::Setup);
  });
}

int MpiProcessGroup::lowest_failing(bool failed) { return lowest_failing_rank(session_, failed); }

}  // namespace lag::mpi
