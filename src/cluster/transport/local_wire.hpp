// The wire of a job with one rank in host memory: the server and the workers share this
// process's memory, so nothing is ever sent (the composed protocol does not call the
// collectives with one rank) and no byte crosses a boundary.
#pragma once

#include <cstring>

#include "cluster/transport/wire.hpp"
#include "lag/error.hpp"

namespace lag {

class LocalWire final : public Wire {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void broadcast(void*, std::size_t, int, const char*) override {}
  void max_bytes(std::uint8_t*, std::size_t, const char*) override {}
  void send(const void*, std::size_t, int, const char*) override { alone(); }
  void recv(void*, std::size_t, int, const char*) override { alone(); }
  void fence(const char*, int) override {}
  void download(void* host, const void* src, std::size_t bytes) override {
    if (bytes > 0 && host != src) std::memmove(host, src, bytes);
  }
  void wait(const char*, int) override {}
  void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts, int,
              const char*) override {
    all.assign(mine, mine + counts.at(0));
  }
  void broadcast_host(double*, int, int, const char*) override {}
  bool root_decision(bool value) override { return value; }

 private:
  [[noreturn]] static void alone() {
    throw Error("internal: a point-to-point message with one rank");
  }
};

}  // namespace lag
