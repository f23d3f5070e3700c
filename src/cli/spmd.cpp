#include "cli/spmd.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "lag/error.hpp"
#include "mpi/launch_env.hpp"
#include "mpi/worker_blocks.hpp"
#ifdef LAG_HAVE_MPI
#include "mpi/mpi_cluster.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi/mpi_setup.hpp"
#endif

namespace lag::cli {

#ifdef LAG_HAVE_MPI
struct Spmd::Job {
  MpiSession session;
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
  bool failed = false;
  try {
    step();
  } catch (const Error& e) {
    failed = true;
    error = e.what();
  } catch (const std::exception& e) {
    failed = true;
    error = std::string("internal error: ") + e.what();
  }
  const int first = mpi::lowest_failing_rank(job_->session, failed);
  if (first == rank()) {
    std::fprintf(stderr, "lag: error: rank %d: %s\n", rank(), error.c_str());
    std::fflush(stderr);
  }
  return first < 0;
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

template <class T>
std::unique_ptr<Cluster<T>> Spmd::make_cluster(const Dataset<T>& data, const ModelSpec& model,
                                               ThreadPool& pool) {
  if (!job_) throw Error("internal: the MPI cluster outside an MPI job");
  return std::make_unique<MpiCluster<T>>(job_->session, data, model, pool);
}

#else  // built without MPI: always alone

int Spmd::rank() const { return 0; }
int Spmd::size() const { return 1; }
int Spmd::default_threads() const { return 0; }
bool Spmd::all_succeed(const std::function<void()>& step) {
  step();
  return true;
}
void Spmd::or_abort(const std::function<void()>& body) { body(); }
void Spmd::with_plain_run_blas(const std::function<void()>& f) { f(); }
void Spmd::share_constants(int, Smoothness&, std::optional<double>&) {}
template <class T>
std::unique_ptr<Cluster<T>> Spmd::make_cluster(const Dataset<T>&, const ModelSpec&, ThreadPool&) {
  throw Error("internal: this build has no MPI transport");
}

#endif

void Spmd::check_workers(int workers) const {
  if (mpi() && workers < size())
    throw Error(std::to_string(workers) + " workers for " + std::to_string(size()) +
                " MPI ranks: every rank needs at least one worker (--workers M with M >= " +
                std::to_string(size()) + ", or one data file per worker)");
}

void Spmd::check_own_files(const DataOptions& data) const {
  if (!mpi()) return;
  const std::vector<std::string> files = per_worker_files(data);
  if (files.empty()) return;  // one file split over the workers: every rank reads it whole
  const int workers = static_cast<int>(files.size());
  check_workers(workers);
  const mpi::WorkerBlock b = mpi::worker_block(workers, size(), rank());
  check_files(std::vector<std::string>(files.begin() + b.first, files.begin() + b.end()), data);
}

template std::unique_ptr<Cluster<float>> Spmd::make_cluster<float>(const Dataset<float>&,
                                                                   const ModelSpec&, ThreadPool&);
template std::unique_ptr<Cluster<double>> Spmd::make_cluster<double>(const Dataset<double>&,
                                                                     const ModelSpec&, ThreadPool&);

}  // namespace lag::cli
