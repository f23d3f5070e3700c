// The wire of an MPI job in host memory (CPU workers): non-blocking MPI operations, completed by
// the session's waits, which have a deadline and end the whole job when a rank stops answering
// (mpi_session.hpp). Only the thread that constructed the session may use it.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "cluster/transport/wire.hpp"
#include "mpi/fault_injection.hpp"
#include "mpi/mpi_session.hpp"

namespace lag {

class MpiWire final : public Wire {
 public:
  // `session` must outlive the wire.
  explicit MpiWire(MpiSession& session) : session_(session), fault_(session) {}

  int rank() const override { return session_.rank(); }
  int size() const override { return session_.size(); }
  std::size_t max_message() const override;
  void broadcast(void* buf, std::size_t bytes, int root, const char* during) override;
  void broadcast_pieces(const std::vector<Piece>& parts, int root, const char* during) override;
  void max_bytes(std::uint8_t* flags, std::size_t n, const char* during) override;
  void send(const void* buf, std::size_t bytes, int to, const char* during) override;
  void recv(void* buf, std::size_t bytes, int from, const char* during) override;
  void fence(const char* during, int peer) override { wait(during, peer); }
  void download(void* host, const void* src, std::size_t bytes) override;
  void wait(const char* during, int peer = -1) override;
  void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts,
              int root, const char* during) override;
  void broadcast_host(double* values, int n, int root, const char* during) override;
  bool root_decision(bool value) override;
  void max_host(double* values, int n, const char* during) override;
  void at_iteration() override { fault_.at_iteration(++iterations_); }

 private:
  MPI_Request& next();

  struct Download {
    void* host;
    const void* src;
    std::size_t bytes;
  };

  MpiSession& session_;
  std::vector<MPI_Request> pending_;
  std::vector<Download> downloads_;    // done at wait(), after the operations that fill them
  std::vector<unsigned char> packed_;  // broadcast_pieces' message
  std::vector<Piece> unpack_;          // where its pieces go at wait() (ranks other than root)
  std::int64_t iterations_ = 0;        // for the fault injection
  mpi::FaultInjection fault_;
};

}  // namespace lag
