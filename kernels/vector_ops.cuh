// Device vector kernels and their host launchers (plain C++ interface, so host code that calls
// them is compiled by the host compiler, not nvcc).
#pragma once

#include <cstddef>
#include <string>

namespace lag::cuda {

// Runs y = a*x + y on `device` for a small vector and checks the result on the host: proves the
// device can run this binary's kernels. Returns false with `why` set on any CUDA error.
bool axpy_self_test(int device, std::string* why);

}  // namespace lag::cuda
