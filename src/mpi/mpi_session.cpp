#include "mpi/mpi_session.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

#include "lag/error.hpp"
#include "mpi/launch_env.hpp"
#include "mpi/poll_backoff.hpp"

namespace lag {

namespace {

double timeout_from_env() {
  const char* v = std::getenv("LAG_MPI_TIMEOUT");
  if (!v || !*v) return MpiSession::kDefaultTimeout;
  char* end = nullptr;
  const double t = std::strtod(v, &end);
  if (*end != '\0' || !(t > 0) || !std::isfinite(t))
    throw Error(std::string("LAG_MPI_TIMEOUT must be a number of seconds > 0, got '") + v + "'");
  return t;
}

std::string format_seconds(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

}  // namespace

MpiSession::MpiSession() : timeout_(timeout_from_env()) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw Error("MPI failed to start (MPI_Init_thread)");
  // Errors come back as codes and end in LAG_MPI's message rather than Open MPI's default abort.
  LAG_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  LAG_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  LAG_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  local_size_ = mpi::launcher_local_size();
  liveness_ = std::make_unique<mpi::Liveness>(rank_, size_);
}

MpiSession::~MpiSession() { finalize(); }

void MpiSession::finalize() {
  if (finalized_) return;
  finalized_ = true;
  liveness_.reset();
  MPI_Finalize();  // not checked: this runs on the way out, also after an error elsewhere
}

void MpiSession::wait(MPI_Request* requests, int count, const char* during, int peer, Phase phase) {
  const double limit = this->limit(phase);
  mpi::PollBackoff backoff;
  for (;;) {
    int done = 0;
    LAG_MPI(MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE));
    if (done) return;
    liveness_->answer();
    if (backoff.pause() > limit) timed_out(during, peer, limit);
  }
}

double MpiSession::limit(Phase phase) const {
  // The other ranks give rank 0 a head start: when they all wait for the same silent rank, rank
  // 0 finds it and tells them (Liveness::end_job) before they would each ask every rank.
  const double head_start = rank_ == 0 ? 0.0 : mpi::Liveness::kWindow + 0.5;
  return (phase == Phase::Setup ? timeout_ * kSetupFactor : timeout_) + head_start;
}

std::string MpiSession::silent_ranks() {
  const std::vector<int> silent = liveness_->silent_ranks();
  std::string who;
  if (!silent.empty()) who = silent.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < silent.size(); ++i)
    who += (i ? ", " : "") + std::to_string(silent[i]);
  return who;
}

std::string MpiSession::no_answer_message(const char* during, int peer, double limit) {
  std::string who = silent_ranks();
  const bool all_answer = who.empty();
  if (all_answer && peer >= 0) who = "rank " + std::to_string(peer);
  std::string message = "no answer";
  if (!who.empty()) message += " from " + who;
  message += " within " + format_seconds(limit) + " s (during " + during + ")";
  if (all_answer) message += "; every rank still answers, so they disagree about what comes next";
  return message;
}

void MpiSession::timed_out(const char* during, int peer, double limit) {
  mpi::abort_job(no_answer_message(during, peer, limit));
}

void MpiSession::broadcast(double* values, int count, int root, const char* during) {
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(values, count, MPI_DOUBLE, root, MPI_COMM_WORLD, &request));
  wait(request, during, root);
}

bool MpiSession::root_decision(bool value, const char* during) {
  if (size_ == 1) return value;
  unsigned char v = value ? 1 : 0;
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(&v, 1, MPI_UNSIGNED_CHAR, 0, MPI_COMM_WORLD, &request));
  wait(request, during, 0);
  return v != 0;
}

}  // namespace lag
