#!/bin/sh
# Runs COMMAND with an NCCL_HOSTID of its own for each rank of an MPI job, so that several ranks
# can share one GPU on one machine, for testing. NCCL refuses two ranks of one communicator on
# the same GPU of one host ("duplicate GPU"); ranks that claim different hosts pass that check
# and talk over sockets instead (slower than the real transports: never for measurements).
#
#   mpirun -np 2 scripts/nccl-rank-hostid.sh lag train --backend cuda ...
rank=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-0}}}
NCCL_HOSTID="$(uname -n)-rank$rank"
export NCCL_HOSTID
exec "$@"
