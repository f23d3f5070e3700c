// libFuzzer's entry point for one harness: LAG_FUZZ_HARNESS names its body (fuzz/harness.hpp).
#include <cstddef>
#include <cstdint>

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return lag::fuzz::LAG_FUZZ_HARNESS(data, size);
}
