#include "cluster/transport/mpi_wire.hpp"

#include <climits>
#include <cstring>
#include <string>

#include "lag/error.hpp"
#include "mpi/mpi_check.hpp"

namespace lag {

namespace {

// One tag for every point-to-point message: between two ranks only one kind ever travels (the
// uploads go to rank 0, the evaluation's running sum from rank r to rank r + 1), and MPI keeps
// the order of messages between the same pair.
constexpr int kTag = 1;

int count_of(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw Error("a message of " + std::to_string(bytes) +
                " bytes is too large for one MPI call; use fewer workers per rank");
  return static_cast<int>(bytes);
}

}  // namespace

std::size_t MpiWire::max_message() const { return static_cast<std::size_t>(INT_MAX); }

MPI_Request& MpiWire::next() {
  pending_.push_back(MPI_REQUEST_NULL);
  return pending_.back();
}

void MpiWire::broadcast(void* buf, std::size_t bytes, int root, const char*) {
  LAG_MPI(MPI_Ibcast(buf, count_of(bytes), MPI_BYTE, root, MPI_COMM_WORLD, &next()));
}

void MpiWire::broadcast_pieces(const std::vector<Piece>& parts, int root, const char*) {
  if (!unpack_.empty()) throw Error("internal: two packed broadcasts before a wait");
  std::size_t total = 0;
  for (const Piece& p : parts) total += p.bytes;
  packed_.resize(total);
  std::size_t at = 0;
  for (const Piece& p : parts) {
    if (rank() == root) std::memcpy(packed_.data() + at, p.data, p.bytes);
    at += p.bytes;
  }
  if (rank() != root) unpack_ = parts;
  LAG_MPI(MPI_Ibcast(packed_.data(), count_of(total), MPI_BYTE, root, MPI_COMM_WORLD, &next()));
}

void MpiWire::max_bytes(std::uint8_t* flags, std::size_t n, const char*) {
  LAG_MPI(MPI_Iallreduce(MPI_IN_PLACE, flags, count_of(n), MPI_UINT8_T, MPI_MAX, MPI_COMM_WORLD,
                         &next()));
}

void MpiWire::send(const void* buf, std::size_t bytes, int to, const char*) {
  LAG_MPI(MPI_Isend(buf, count_of(bytes), MPI_BYTE, to, kTag, MPI_COMM_WORLD, &next()));
}

void MpiWire::recv(void* buf, std::size_t bytes, int from, const char*) {
  LAG_MPI(MPI_Irecv(buf, count_of(bytes), MPI_BYTE, from, kTag, MPI_COMM_WORLD, &next()));
}

void MpiWire::download(void* host, const void* src, std::size_t bytes) {
  downloads_.push_back({host, src, bytes});
}

void MpiWire::wait(const char* during, int peer) {
  if (!pending_.empty()) session_.wait(pending_, during, peer);
  pending_.clear();
  std::size_t at = 0;
  for (const Piece& p : unpack_) {
    std::memcpy(p.data, packed_.data() + at, p.bytes);
    at += p.bytes;
  }
  unpack_.clear();
  for (const Download& d : downloads_)
    if (d.bytes > 0 && d.host != d.src) std::memmove(d.host, d.src, d.bytes);
  downloads_.clear();
}

void MpiWire::gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts,
                     int root, const char* during) {
  std::vector<int> firsts(counts.size(), 0);
  int total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    firsts[r] = total;
    total += counts[r];
  }
  all.assign(static_cast<std::size_t>(total), 0.0);
  MPI_Request request;
  LAG_MPI(MPI_Igatherv(mine, counts[static_cast<std::size_t>(rank())], MPI_DOUBLE, all.data(),
                       counts.data(), firsts.data(), MPI_DOUBLE, root, MPI_COMM_WORLD, &request));
  session_.wait(request, during, root);
}

void MpiWire::broadcast_host(double* values, int n, int root, const char* during) {
  session_.broadcast(values, n, root, during);
}

void MpiWire::max_host(double* values, int n, const char* during) {
  MPI_Request request;
  LAG_MPI(MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &request));
  session_.wait(request, during);
}

bool MpiWire::root_decision(bool value) {
  return session_.root_decision(value, "the broadcast of rank 0's time-limit decision, MPI_Ibcast");
}

}  // namespace lag
