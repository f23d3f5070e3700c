#include "lag/ledger.hpp"

namespace lag {

Traffic& Traffic::operator+=(const Traffic& o) {
  uploads += o.uploads;
  computes += o.computes;
  receivers += o.receivers;
  bytes_up += o.bytes_up;
  bytes_down += o.bytes_down;
  control_bytes += o.control_bytes;
  physical_bytes_up += o.physical_bytes_up;
  physical_bytes_down += o.physical_bytes_down;
  gd_equivalent_bytes_up += o.gd_equivalent_bytes_up;
  return *this;
}

Traffic& Traffic::operator-=(const Traffic& o) {
  uploads -= o.uploads;
  computes -= o.computes;
  receivers -= o.receivers;
  bytes_up -= o.bytes_up;
  bytes_down -= o.bytes_down;
  control_bytes -= o.control_bytes;
  physical_bytes_up -= o.physical_bytes_up;
  physical_bytes_down -= o.physical_bytes_down;
  gd_equivalent_bytes_up -= o.gd_equivalent_bytes_up;
  return *this;
}

Ledger::Ledger(Algorithm algo, int workers, std::size_t dim, std::size_t value_bytes)
    : algo_(algo),
      workers_(static_cast<std::uint64_t>(workers)),
      vector_bytes_(static_cast<std::uint64_t>(dim) * value_bytes),
      value_bytes_(value_bytes) {}

const Traffic& Ledger::record(std::uint64_t computes, std::uint64_t uploads,
                              std::uint64_t upload_bytes, std::uint64_t physical_up,
                              std::uint64_t physical_down) {
  Traffic t;
  t.computes = computes;
  t.uploads = uploads;
  // GD and LAG-WK broadcast theta to every worker (LAG-WK workers must all compute to decide);
  // under LAG-PS and the IAGs the server sends theta only to the workers it asks.
  t.receivers = all_compute(algo_) ? workers_ : computes;
  t.bytes_up = uploads * upload_bytes;
  t.bytes_down = t.receivers * vector_bytes_;
  if (algo_ == Algorithm::LagWK || algo_ == Algorithm::Laq || algo_ == Algorithm::LasgWK)
    t.control_bytes = workers_ * (value_bytes_ + 1);
  else if (algo_ == Algorithm::Clag)
    t.control_bytes = workers_;
  t.physical_bytes_up = physical_up;
  t.physical_bytes_down = physical_down;
  t.gd_equivalent_bytes_up = workers_ * vector_bytes_;
  last_ = t;
  total_ += t;
  return last_;
}

double Traffic::bytes_saved_fraction() const {
  if (gd_equivalent_bytes_up == 0) return 0.0;
  return 1.0 - static_cast<double>(bytes_up) / static_cast<double>(gd_equivalent_bytes_up);
}

}  // namespace lag
