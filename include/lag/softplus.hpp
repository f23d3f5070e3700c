// softplus(u) = log(1 + e^u), the logistic loss of one row, compiled for the host and (by nvcc)
// for the device, so that the CPU and GPU backends compute it with one piece of code.
#pragma once

#include <cmath>

#include "lag/host_device.hpp"

namespace lag {

// log(1 + e^u) = max(u, 0) + log(1 + e^-|u|): the exponential never overflows, and log1p keeps
// the digits when e^-|u| is tiny. Never log(1 + exp(u)) as written.
LAG_HOST_DEVICE inline double softplus(double u) {
  return (u > 0 ? u : 0.0) + log1p(exp(-fabs(u)));
}

}  // namespace lag
