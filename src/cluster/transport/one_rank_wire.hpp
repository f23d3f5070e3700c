// What every wire of a job with one rank shares: nothing is ever sent (the protocol calls no
// collective with one rank, and a point-to-point message would be a bug), and the host values
// are this rank's own. The memory space (host or GPU) decides download() and wait().
#pragma once

#include "cluster/transport/wire.hpp"
#include "lag/error.hpp"

namespace lag {

class OneRankWire : public Wire {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void broadcast(void*, std::size_t, int, const char*) override {}
  void max_bytes(std::uint8_t*, std::size_t, const char*) override {}
  void send(const void*, std::size_t, int, const char*) override { alone(); }
  void recv(void*, std::size_t, int, const char*) override { alone(); }
  void fence(const char*, int) override {}
  void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts, int,
              const char*) override {
    all.assign(mine, mine + counts.at(0));
  }
  void broadcast_host(double*, int, int, const char*) override {}
  bool root_decision(bool value) override { return value; }
  void max_host(double*, int, const char*) override {}

 private:
  [[noreturn]] static void alone() {
    throw Error("internal: a point-to-point message with one rank");
  }
};

}  // namespace lag
