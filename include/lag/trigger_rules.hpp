// The two LAG trigger rules, compiled for the host and (by nvcc) for the device, so that the
// CPU backend and the GPU kernels take their decisions with one piece of code. Neither has an
// add, so no compiler can contract it into an FMA: both sides round alike.
#pragma once

#include "lag/host_device.hpp"

namespace lag {

// LAG-WK: worker m uploads iff its delta is large against the threshold.
LAG_HOST_DEVICE inline bool wk_fires(double delta_norm2, double tau) { return delta_norm2 > tau; }

// LAG-PS: the server asks worker m iff L_m^2 ||theta_hat_m - theta^k||^2 > tau, evaluated as
// (L_m * L_m) * distance.
LAG_HOST_DEVICE inline bool ps_fires(double worker_smoothness, double stale_distance2, double tau) {
  return worker_smoothness * worker_smoothness * stale_distance2 > tau;
}

}  // namespace lag
