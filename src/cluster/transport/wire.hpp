// How the ranks of a job move bytes (docs/architecture.md §4): one interface over one rank alone
// (nothing moves), MPI (host memory) and NCCL bootstrapped over MPI (device memory). The
// protocol that uses it, what is sent when and how many bytes that is, is written once, in
// ComposedCluster; a wire only moves what it is handed.
//
// Buffers live in the wire's memory space (host memory for host wires, the rank's GPU for device
// wires). Operations are posted, not finished: they complete at the next wait(), and a device
// wire's operations are also ordered with the rest of the rank's GPU stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lag {

class Wire {
 public:
  virtual ~Wire() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The largest message one operation can carry (MPI counts bytes in an int).
  virtual std::size_t max_message() const { return SIZE_MAX; }

  // Collective: `bytes` at `buf` from `root` to every rank.
  virtual void broadcast(void* buf, std::size_t bytes, int root, const char* during) = 0;
  // Collective: the pieces at `parts` (pointer, bytes) from `root` to every rank, as one message
  // where the transport can (MPI: one broadcast of them packed; every collective costs a round of
  // the ranks). By default one broadcast each.
  struct Piece {
    void* data;
    std::size_t bytes;
  };
  virtual void broadcast_pieces(const std::vector<Piece>& parts, int root, const char* during) {
    for (const Piece& p : parts) broadcast(p.data, p.bytes, root, during);
  }
  // Collective: the element-wise maximum of every rank's `n` bytes at `flags`, on every rank.
  virtual void max_bytes(std::uint8_t* flags, std::size_t n, const char* during) = 0;
  // Point to point. Between group_begin() and group_end() the posted operations may run
  // concurrently (NCCL needs that for a receiver that expects several senders).
  virtual void send(const void* buf, std::size_t bytes, int to, const char* during) = 0;
  virtual void recv(void* buf, std::size_t bytes, int from, const char* during) = 0;
  virtual void group_begin(const char* /*during*/) {}
  virtual void group_end(const char* /*during*/) {}
  // What was received so far may be read by work posted next (MPI: waits for it; a device
  // wire's stream already orders it).
  virtual void fence(const char* during, int peer) = 0;

  // `bytes` from the memory space to ordinary host memory, there once wait() returns.
  virtual void download(void* host, const void* src, std::size_t bytes) = 0;
  // Until everything posted (and, for a device wire, everything on the rank's stream) is done.
  // `peer` names the rank waited for when there is one (for the message of a failure).
  virtual void wait(const char* during, int peer = -1) = 0;

  // Host values (decisions and monitoring, never in the ledger), finished on return:
  // the `counts[r]` doubles of every rank r, gathered in rank order at `root`;
  virtual void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts,
                      int root, const char* during) = 0;
  // `n` doubles from `root` to every rank;
  virtual void broadcast_host(double* values, int n, int root, const char* during) = 0;
  // rank 0's `value` on every rank;
  [[nodiscard]] virtual bool root_decision(bool value) = 0;
  // the element-wise maximum of every rank's `n` doubles, on every rank.
  virtual void max_host(double* values, int n, const char* during) = 0;

  // Called once per iteration before the workers compute (the test-only fault injection of an
  // MPI job); nothing elsewhere.
  virtual void at_iteration() {}
};

}  // namespace lag
