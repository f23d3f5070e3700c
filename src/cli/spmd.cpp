#include "cli/spmd.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "lag/error.hpp"
#include "mpi/launch_env.hpp"
#ifdef LAG_HAVE_MPI
#include "cluster/mpi_clusters.hpp"
#include "mpi/mpi_process_group.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi/mpi_setup.hpp"
#endif
#ifdef LAG_HAVE_MPI_CUDA
#include "mpi/rank_device.hpp"
#endif

namespace lag::cli {

#ifdef LAG_HAVE_MPI
struct Spmd::Job {
  MpiSession session;
  mpi::MpiProcessGroup group{session};
};
#else
struct Spmd::Job {};
#endif

Spmd::Spmd() {
  if (!mpi::started_by_mpi_launcher()) return;
#ifdef LAG_HAVE_MPI
  job_ = std::make_unique<Job>();
#else
  // One process started by mpirun (-np 1) can still train alone.
  if (mpi::launcher_world_size() > 1)
    throw Error("started by an MPI launcher with " + std::to_string(mpi::launcher_world_size()) +
                " processes, but this build has no MPI support (rebuild with Open MPI installed: "
                "-DLAG_WITH_MPI=ON)");
#endif
}

Spmd::~Spmd() = default;

bool Spmd::mpi() const { return job_ != nullptr; }

#ifdef LAG_HAVE_MPI

int Spmd::rank() const { return job_ ? job_->session.rank() : 0; }
int Spmd::size() const { return job_ ? job_->session.size() : 1; }

ProcessGroup& Spmd::group() { return job_ ? job_->group : single_process(); }

int Spmd::default_threads() const {
  if (!job_) return 0;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / job_->session.local_size());
}

bool Spmd::all_succeed(const std::function<void()>& step) {
  if (!job_) {
    step();
    return true;
  }
  std::string error;
  bool failed = false, peer = false;
  try {
    step();
  } catch (const PeerFailure& e) {
    failed = peer = true;
    error = e.what();
  } catch (const Error& e) {
    failed = true;
    error = e.what();
  } catch (const std::exception& e) {
    failed = true;
    error = std::string("internal error: ") + e.what();
  }
  // The lowest rank with an error of its own reports; one that only stopped for another's
  // (PeerFailure) reports only if, against expectation, no rank has one of its own.
  const int R = size();
  const int key = !failed ? 2 * R : peer ? R + rank() : rank();
  const int first = mpi::min_over_ranks(job_->session, key);
  if (first % R == rank() && first < 2 * R) {
    std::fprintf(stderr, "lag: error: rank %d: %s\n", rank(), error.c_str());
    std::fflush(stderr);
  }
  return first == 2 * R;
}

void Spmd::or_abort(const std::function<void()>& body) {
  if (!job_) return body();
  try {
    body();
  } catch (const Error& e) {
    mpi::abort_job(e.what());
  } catch (const std::exception& e) {
    mpi::abort_job(std::string("internal error: ") + e.what());
  }
}

void Spmd::with_plain_run_blas(const std::function<void()>& f) {
  // OpenBLAS reads these at start-up in every run alike.
  const bool fixed = std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("GOTO_NUM_THREADS") ||
                     std::getenv("OMP_NUM_THREADS");
  const int plain = static_cast<int>(std::thread::hardware_concurrency());
  if (!job_ || fixed || plain < 1) return f();
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(plain);
  try {
    f();
  } catch (...) {
    openblas_set_num_threads(before);
    throw;
  }
  openblas_set_num_threads(before);
}

void Spmd::share_constants(int workers, Smoothness& smooth, std::optional<double>& optimum) {
  if (!job_) return;
  // [L, L_1 .. L_M, has L*, L*]
  const auto M = static_cast<std::size_t>(workers);
  std::vector<double> v(M + 3, 0.0);
  if (root()) {
    v[0] = smooth.global;
    std::copy(smooth.worker.begin(), smooth.worker.end(), v.begin() + 1);
    v[M + 1] = optimum ? 1.0 : 0.0;
    v[M + 2] = optimum.value_or(0.0);
  }
  mpi::broadcast_from_root(job_->session, v);
  smooth.global = v[0];
  smooth.worker.assign(v.begin() + 1, v.begin() + 1 + static_cast<std::ptrdiff_t>(M));
  optimum.reset();
  if (v[M + 1] != 0.0) optimum = v[M + 2];
}

BackendChoice Spmd::choose_backend(const std::string& name, const std::string& devices) const {
  const std::string over = "MPI over " + std::to_string(size()) + " ranks";
  BackendChoice cpu;
  cpu.description = "cpu, " + over;
  if (name == "cpu") return cpu;
#ifndef LAG_HAVE_MPI_CUDA
  (void)devices;
  if (name == "auto") return cpu;
  throw Error("--backend cuda under mpirun: this build has no CUDA/NCCL support");
#else
  // Without the kernel self-test: it would start a CUDA context on every device, in every rank.
  BackendChoice c =
      cli::choose_backend(name, devices, false, false);  // cuda: throws without a device
  if (!c.cuda) {
    const std::string alone = c.description;  // "cpu (auto: WHY)"
    cpu.description += alone.rfind("cpu", 0) == 0 ? alone.substr(3) : "";
    return cpu;
  }
  const int on_machine = job_->session.local_size();
  if (mpi::ranks_share_a_gpu(on_machine, c.devices.size()) && !std::getenv("NCCL_HOSTID")) {
    const std::string why = std::to_string(on_machine) + " ranks on this machine share " +
                            std::to_string(c.devices.size()) + " GPU" +
                            (c.devices.size() > 1 ? "s" : "");
    if (name == "auto") {
      cpu.description += " (auto: " + why + ")";
      return cpu;
    }
    throw Error("--backend cuda: " + why + ", and NCCL takes one GPU per rank: start at most " +
                std::to_string(c.devices.size()) +
                " ranks per machine (to test several ranks on one GPU, give each rank its own "
                "NCCL_HOSTID, e.g. with scripts/nccl-rank-hostid.sh; see the README)");
  }
  // The launchers name a rank's place on its machine; without one, the world rank stands in.
  int local = mpi::launcher_local_rank();
  if (local < 0) local = rank();
  const std::size_t slot = static_cast<std::size_t>(local) % c.devices.size();
  c.rank_device = c.devices[slot];
  c.description = "cuda, one GPU per rank, NCCL over " + std::to_string(size()) +
                  " MPI ranks (rank " + std::to_string(rank()) + " on device " +
                  std::to_string(c.rank_device) + ", " + c.names[slot] + ")";
  return c;
#endif
}

void Spmd::agree_backend(BackendChoice& backend) {
  if (!job_) return;
  const int first_cpu = mpi::lowest_failing_rank(job_->session, !backend.cuda);
  if (first_cpu < 0 || !backend.cuda) return;
  const bool graphs = backend.graphs;
  backend = BackendChoice{};
  backend.graphs = graphs;
  backend.description = "cpu, MPI over " + std::to_string(size()) + " ranks (auto: rank " +
                        std::to_string(first_cpu) + " has no GPU of its own)";
}

template <class T>
std::unique_ptr<Cluster<T>> Spmd::make_cluster(const BackendChoice& backend, const Dataset<T>& data,
                                               const ModelSpec& model, ThreadPool& pool) {
  if (!job_) throw Error("internal: the MPI cluster outside an MPI job");
#ifdef LAG_HAVE_MPI_CUDA
  if (backend.cuda)
    return mpi_cuda_cluster<T>(job_->session, data, model, backend.rank_device, backend.graphs);
#endif
  if (backend.cuda) throw Error("internal: this build has no CUDA backend for MPI jobs");
  return mpi_cpu_cluster<T>(job_->session, data, model, pool);
}

#else  // built without MPI: always alone

int Spmd::rank() const { return 0; }
int Spmd::size() const { return 1; }
ProcessGroup& Spmd::group() { return single_process(); }
int Spmd::default_threads() const { return 0; }
bool Spmd::all_succeed(const std::function<void()>& step) {
  step();
  return true;
}
void Spmd::or_abort(const std::function<void()>& body) { body(); }
void Spmd::with_plain_run_blas(const std::function<void()>& f) { f(); }
void Spmd::share_constants(int, Smoothness&, std::optional<double>&) {}
BackendChoice Spmd::choose_backend(const std::string&, const std::string&) const {
  throw Error("internal: this build has no MPI transport");
}
void Spmd::agree_backend(BackendChoice&) {}
template <class T>
std::unique_ptr<Cluster<T>> Spmd::make_cluster(const BackendChoice&, const Dataset<T>&,
                                               const ModelSpec&, ThreadPool&) {
  throw Error("internal: this build has no MPI transport");
}

#endif

template std::unique_ptr<Cluster<float>> Spmd::make_cluster<float>(const BackendChoice&,
                                                                   const Dataset<float>&,
                                                                   const ModelSpec&, ThreadPool&);
template std::unique_ptr<Cluster<double>> Spmd::make_cluster<double>(const BackendChoice&,
                                                                     const Dataset<double>&,
                                                                     const ModelSpec&, ThreadPool&);

}  // namespace lag::cli
