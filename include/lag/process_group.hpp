// The processes over which the M workers are spread: this process alone, or the ranks of an MPI
// job (whose transport is src/mpi/mpi_process_group.hpp). Workers sit on processes in contiguous
// blocks in worker order (own_workers; the same blocks as the MPI clusters'). What needs every
// worker's data before training (the loaders' agreement on dimension and labels, the smoothness
// constants, L*) is written once against this interface: each process works on its own workers
// only, and the pieces are combined in worker order, so that every result has the same bits for
// any number of processes. Alone, every collective here is a plain local computation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lag/error.hpp"

namespace lag {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool root() const { return rank() == 0; }

  // Blocking point-to-point and broadcast of raw bytes (any size). Sends between a pair of
  // processes arrive in the order they were made. Only called in groups of more than one.
  virtual void send(const void* data, std::size_t bytes, int to) = 0;
  virtual void receive(void* data, std::size_t bytes, int from) = 0;
  virtual void broadcast(void* data, std::size_t bytes, int from) = 0;
  // Collective: every process says whether its step failed; all get the lowest failing rank,
  // or -1 when none failed.
  [[nodiscard]] virtual int lowest_failing(bool failed) = 0;
};

// This process alone: rank 0 of 1.
ProcessGroup& single_process();

// The workers [first, end) of one process among M (worker_block in src/mpi/worker_blocks.hpp).
struct WorkerRange {
  int first = 0;
  int end = 0;
  int count() const { return end - first; }
  bool holds(int m) const { return m >= first && m < end; }
};
WorkerRange own_workers(const ProcessGroup& group, int workers);

// Thrown by agree() on the processes whose own step succeeded when another process's failed:
// that process reports its error, this one only stops (the CLI prints nothing for it).
class PeerFailure : public Error {
 public:
  explicit PeerFailure(int failed_rank)
      : Error("rank " + std::to_string(failed_rank) + " failed"), failed_rank_(failed_rank) {}
  int failed_rank() const { return failed_rank_; }

 private:
  int failed_rank_;
};

// Collective: runs `step`, then the processes agree on the outcome before any of them goes on to
// the next collective step (which would otherwise wait for a process that has given up). When
// this process's step threw, its exception is rethrown; when only another's did, PeerFailure
// (naming the lowest failing rank). Alone: just runs `step`.
void agree(ProcessGroup& group, const std::function<void()>& step);

// Collective: every process's `mine`, in rank order, on every process.
std::vector<std::string> all_gather(ProcessGroup& group, const std::string& mine);

// Collective: process `from`'s `bytes` (any length; ignored elsewhere) on every process.
void broadcast_string(ProcessGroup& group, std::string& bytes, int from = 0);

// Collective: `values` (the same length everywhere) from process `from` on every process.
void broadcast_values(ProcessGroup& group, std::vector<double>& values, int from = 0);

// Collective: each process passes `per_worker` values for each of its own workers, in worker
// order; every process gets the values of all M workers, in worker order.
std::vector<double> gather_workers(ProcessGroup& group, int workers,
                                   const std::vector<double>& mine, std::size_t per_worker = 1);

// The sum over all M workers of a vector of length n that each worker contributes, added in
// worker order from zero: total[j] = ((0 + p_0[j]) + p_1[j]) + ... + p_{M-1}[j], the same bits
// however the workers are spread. Each process add()s its own workers' pieces, then finish()
// (collective) passes the running sum from rank to rank in worker order (rank r adds its pieces
// to what rank r - 1 sends it). Rank 0 (and a process alone) adds each piece as it comes; a later
// rank keeps copies of its pieces until its predecessor's sum arrives.
class OrderedSum {
 public:
  enum class Deliver { Root, Everywhere };

  OrderedSum(ProcessGroup& group, int workers, std::size_t n);
  // The next of this process's own workers' pieces (n values), in worker order.
  void add(const double* piece);
  // Collective: the total, on rank 0 only (the others get an empty vector) or on every process.
  std::vector<double> finish(Deliver where);

 private:
  ProcessGroup& group_;
  std::size_t n_;
  int expected_;
  int added_ = 0;
  std::vector<double> total_;
  std::vector<double> held_;  // ranks > 0: their pieces, until the running sum arrives
};

// Bytes for the messages above (and checkpoints' contents): numbers (host byte order; every
// process runs the same binary), strings and arrays of numbers, read back in the order written.
// Reading past the end throws lag::Error.
class MessageWriter {
 public:
  void put(std::uint64_t v) { raw(&v, sizeof v); }
  void put(double v) { raw(&v, sizeof v); }
  void put(const std::string& s) {
    put(static_cast<std::uint64_t>(s.size()));
    raw(s.data(), s.size());
  }
  // An array of plain numbers: its length, then its elements' bytes.
  template <class V>
  void put_array(const std::vector<V>& values) {
    static_assert(std::is_arithmetic_v<V>);
    put(static_cast<std::uint64_t>(values.size()));
    raw(values.data(), values.size() * sizeof(V));
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void raw(const void* p, std::size_t n) { bytes_.append(static_cast<const char*>(p), n); }
  std::string bytes_;
};

class MessageReader {
 public:
  // `what` names the bytes in the error for reading past their end ("... ends early").
  explicit MessageReader(const std::string& bytes,
                         std::string what = "internal: a message between processes")
      : bytes_(bytes), what_(std::move(what)) {}
  std::uint64_t u64();
  std::size_t size() { return static_cast<std::size_t>(u64()); }
  double f64();
  std::string str();
  template <class V>
  std::vector<V> array() {
    static_assert(std::is_arithmetic_v<V>);
    const std::size_t n = size();
    if (n > (bytes_.size() - pos_) / sizeof(V)) ends_early();
    std::vector<V> out(n);
    raw(out.data(), n * sizeof(V));
    return out;
  }
  bool done() const { return pos_ == bytes_.size(); }
  std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  void raw(void* p, std::size_t n);
  [[noreturn]] void ends_early() const;
  const std::string& bytes_;
  std::string what_;
  std::size_t pos_ = 0;
};

}  // namespace lag
