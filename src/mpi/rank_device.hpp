// Which GPU a rank of an MPI job trains on: one GPU per rank, picked by the rank's index among
// the ranks on its machine (its local rank) from the list of usable devices (--devices, or every
// visible one), wrapping around when there are more ranks than devices.
#pragma once

#include <cstddef>
#include <vector>

namespace lag::mpi {

// `devices` is not empty; `local_rank` >= 0.
inline int device_of_local_rank(const std::vector<int>& devices, int local_rank) {
  return devices[static_cast<std::size_t>(local_rank) % devices.size()];
}

// Whether some ranks on one machine would share a GPU. NCCL refuses two ranks of one
// communicator on the same GPU of one host ("duplicate GPU"), unless each rank claims a host of
// its own (a distinct NCCL_HOSTID), which makes them talk over sockets: for testing only.
inline bool ranks_share_a_gpu(int ranks_on_machine, std::size_t devices) {
  return ranks_on_machine > 0 && static_cast<std::size_t>(ranks_on_machine) > devices;
}

}  // namespace lag::mpi
