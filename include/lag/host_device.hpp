// LAG_HOST_DEVICE marks a function that both the host compiler and nvcc (for the device) compile:
// the one definition of a formula shared by the CPU backend and the CUDA kernels.
#pragma once

#ifdef __CUDACC__
#define LAG_HOST_DEVICE __host__ __device__
#else
#define LAG_HOST_DEVICE
#endif
