// The wire of a job with one rank in host memory: the server and the workers share this
// process's memory, so no byte crosses a boundary, and a download is a copy.
#pragma once

#include <cstring>

#include "cluster/transport/one_rank_wire.hpp"

namespace lag {

class LocalWire final : public OneRankWire {
 public:
  void download(void* host, const void* src, std::size_t bytes) override {
    if (bytes > 0 && host != src) std::memmove(host, src, bytes);
  }
  void wait(const char*, int) override {}
};

}  // namespace lag
