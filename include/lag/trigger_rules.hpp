// The trigger rules, compiled for the host and (by nvcc) for the device, so that the CPU backend
// and the GPU kernels take their decisions with one piece of code. LAG's two and CLAG's have no
// add, so no compiler can contract them into an FMA: both sides round alike.
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

// LAQ (Sun et al., NeurIPS 2019, eq. (10)): worker m uploads iff its quantized innovation
// ||Q_m - q_hat_m||^2 is at least the LAG threshold plus three times the quantization errors of
// this round and of its last upload.
LAG_HOST_DEVICE inline bool laq_fires(double innovation2, double tau, double eps, double eps_hat) {
  return innovation2 >= tau + 3.0 * (eps + eps_hat);
}

// CLAG (Richtarik et al., 3PC, ICML 2022): worker m uploads iff its gradient moved away from the
// server's copy g_m by more than zeta times its own change since the previous round.
LAG_HOST_DEVICE inline bool clag_fires(double delta_norm2, double zeta, double change2) {
  return delta_norm2 > zeta * change2;
}

}  // namespace lag
