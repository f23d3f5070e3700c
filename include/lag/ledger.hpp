// The communication ledger: exact per-iteration counts of what moved (docs/architecture.md §3).
//
// Logical bytes follow the paper's model, every worker a node beside the server:
//   uplink     uploads * d * sizeof(T)                 (a delta, or GD's full gradient; LAQ:
//                                                       sizeof(T) + ceil(b d / 8) per upload,
//                                                       EF21 and CLAG k (sizeof(T) + 4) after
//                                                       their first, full round)
//   downlink   receivers * d * sizeof(T)               (theta^k to each worker that needs it:
//                                                       all M when every worker computes,
//                                                       only the selected ones for LAG-PS,
//                                                       LASG-PS and the IAGs)
//   control    LAG-WK, LAQ, LASG-WK: M (sizeof(T) + 1) (tau^k down with theta, one trigger
//                                                       flag byte up from every worker);
//              CLAG: M                                 (the flags; its rule needs no tau)
//              the others: 0 (the server decides; its request is the theta it sends)
//   GD-equivalent uplink   M * d * sizeof(T)
// Physical bytes are what actually crossed a device or network boundary; the in-process CPU
// backend moves none.
#pragma once

#include <cstdint>
#include <vector>

#include "lag/algorithm.hpp"

namespace lag {

struct Traffic {
  std::uint64_t uploads = 0;    // workers whose delta reached the server
  std::uint64_t computes = 0;   // worker gradient evaluations spent (monitoring excluded)
  std::uint64_t receivers = 0;  // workers sent theta
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint64_t control_bytes = 0;
  std::uint64_t physical_bytes_up = 0;
  std::uint64_t physical_bytes_down = 0;
  std::uint64_t gd_equivalent_bytes_up = 0;

  Traffic& operator+=(const Traffic& o);
  Traffic& operator-=(const Traffic& o);  // o must be an earlier total of this one
  // Bytes saved against GD: gd_equivalent_bytes_up - bytes_up, and that as a fraction of the
  // GD-equivalent, 1 - bytes_up / gd_equivalent_bytes_up (0 when nothing was due).
  // Negative when the uploads cost more than GD's would have (a Top-k upload of k values and
  // indices outweighs a dense vector once k is large).
  std::int64_t bytes_saved() const {
    return static_cast<std::int64_t>(gd_equivalent_bytes_up) - static_cast<std::int64_t>(bytes_up);
  }
  double bytes_saved_fraction() const;
};

// Mean bits per upload (0 without uploads): the payload's size, whole or compressed.
inline double bits_per_upload(const Traffic& t) {
  return t.uploads == 0 ? 0.0
                        : 8.0 * static_cast<double>(t.bytes_up) / static_cast<double>(t.uploads);
}

class Ledger {
 public:
  Ledger(Algorithm algo, int workers, std::size_t dim, std::size_t value_bytes);

  // Record one iteration from the counts of who computed and who uploaded, each upload of
  // `upload_bytes` (the round's payload: a vector, or LAQ's and Top-k's compressed ones);
  // physical bytes are the transport's own counts for that iteration.
  const Traffic& record(std::uint64_t computes, std::uint64_t uploads, std::uint64_t upload_bytes,
                        std::uint64_t physical_up, std::uint64_t physical_down);

  const Traffic& total() const { return total_; }
  // Traffic of the last recorded iteration (all zero before the first).
  const Traffic& last() const { return last_; }
  // A resumed run's ledger: the totals and last iteration of the run it continues.
  void restore(const Traffic& total, const Traffic& last) {
    total_ = total;
    last_ = last;
  }

 private:
  Algorithm algo_;
  std::uint64_t workers_;
  std::uint64_t vector_bytes_;
  std::uint64_t value_bytes_;
  Traffic last_;
  Traffic total_;
};

}  // namespace lag
