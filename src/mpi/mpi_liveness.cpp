#include "mpi/mpi_liveness.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "mpi/launch_env.hpp"
#include "mpi/mpi_check.hpp"

namespace lag::mpi {

namespace {

Liveness* active_instance = nullptr;

using Clock = std::chrono::steady_clock;

Clock::time_point after(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void pause() { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

extern "C" void exit_one(int) { _exit(1); }

// Called once this rank has printed why it ends. Open MPI stops the ranks of an aborted job with
// SIGTERM (then SIGKILL); the default action would turn the exit status this rank has announced
// (1) into "killed by a signal", depending only on whether the launcher or the rank's own exit
// came first. Not checked: the only failure is an invalid signal number.
void exit_one_on_sigterm() {
  struct sigaction action {};
  action.sa_handler = exit_one;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

[[noreturn]] void take_down_job() {
  std::fflush(nullptr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this is for the compiler and odd implementations
}

}  // namespace

Liveness::Liveness(int rank, int size) : rank_(rank), size_(size) {
  if (size_ <= 1) return;
  post();
  active_instance = this;
}

Liveness::~Liveness() {
  if (active_instance == this) active_instance = nullptr;
  if (note_ == MPI_REQUEST_NULL) return;
  // Not checked: this runs on the way out, also after an error elsewhere.
  MPI_Cancel(&note_);
  MPI_Wait(&note_, MPI_STATUS_IGNORE);
}

Liveness* Liveness::active() { return active_instance; }

void Liveness::post() {
  LAG_MPI(MPI_Irecv(note_buf_.data(), kNoteBytes, MPI_BYTE, MPI_ANY_SOURCE, kNoteTag,
                    MPI_COMM_WORLD, &note_));
}

bool Liveness::take(char& kind, int& source, std::string& text) {
  if (note_ == MPI_REQUEST_NULL) return false;
  int arrived = 0;
  MPI_Status status;
  LAG_MPI(MPI_Test(&note_, &arrived, &status));
  if (!arrived) return false;
  int length = 0;
  LAG_MPI(MPI_Get_count(&status, MPI_BYTE, &length));
  source = status.MPI_SOURCE;
  kind = length > 0 ? note_buf_[0] : static_cast<char>(kQuestion);
  text.clear();
  if (length > 1) text.assign(note_buf_.data() + 1, static_cast<std::size_t>(length - 1));
  post();
  return true;
}

void Liveness::send_byte(const unsigned char& byte, int to, int tag) {
  // A one-byte send completes at once (eager); freeing the request lets MPI finish it.
  MPI_Request request;
  LAG_MPI(MPI_Isend(&byte, 1, MPI_BYTE, to, tag, MPI_COMM_WORLD, &request));
  LAG_MPI(MPI_Request_free(&request));
}

void Liveness::answer() {
  char kind = 0;
  int source = 0;
  std::string text;
  while (take(kind, source, text)) {
    if (kind == kQuestion) send_byte(yes_, source, kAnswerTag);
    if (kind == kStop) follow(source, text);
    // A GO is only sent to a rank that is ending, which no longer gets here.
  }
}

std::vector<int> Liveness::silent_ranks(double window_s) {
  std::vector<MPI_Request> answers(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
  std::vector<unsigned char> replies(static_cast<std::size_t>(size_), 0);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const auto i = static_cast<std::size_t>(r);
    LAG_MPI(MPI_Irecv(&replies[i], 1, MPI_BYTE, r, kAnswerTag, MPI_COMM_WORLD, &answers[i]));
    send_byte(question_, r, kNoteTag);
  }
  const auto until = after(window_s);
  for (;;) {
    answer();  // another rank may be asking, or ending the job, at the same time
    int all = 0;
    LAG_MPI(MPI_Testall(size_, answers.data(), &all, MPI_STATUSES_IGNORE));
    if (all || Clock::now() >= until) break;
    pause();
  }
  // MPI_Testall changes no request unless all completed: test each one for the verdict. The
  // pending ones are withdrawn, since `replies` goes away and the job may take a while to end.
  silent_.clear();
  for (int r = 0; r < size_; ++r) {
    MPI_Request& a = answers[static_cast<std::size_t>(r)];
    int done = 1;
    if (a != MPI_REQUEST_NULL) LAG_MPI(MPI_Test(&a, &done, MPI_STATUS_IGNORE));
    if (done) continue;
    silent_.push_back(r);
    LAG_MPI(MPI_Cancel(&a));
    LAG_MPI(MPI_Wait(&a, MPI_STATUS_IGNORE));  // a cancelled receive completes locally
  }
  return silent_;
}

void Liveness::print_error(const std::string& message) const {
  std::fflush(stdout);
  std::fprintf(stderr, "lag: error: rank %d: %s\n", rank_, message.c_str());
  std::fflush(stderr);
}

void Liveness::serve_while_ending() {
  char kind = 0;
  int source = 0;
  std::string text;
  while (take(kind, source, text)) {
    if (kind == kQuestion) send_byte(yes_, source, kAnswerTag);
    if (kind == kStop) {
      // Another rank ends the job too. This rank has printed its line already: it only lets
      // that rank know it is there, and leaves the lead to the lower of the two.
      send_byte(yes_, source, kAckTag);
      if (source < rank_) lower_ender_ = true;
    }
    if (kind == kGo) go_arrived_ = true;
  }
}

void Liveness::await_go() {
  const auto until = after(2 * kWindow);
  for (;;) {
    serve_while_ending();
    if (go_arrived_) {
      // The rank that sent GO sees to it that the job ends (finish()).
      std::fflush(nullptr);
      std::_Exit(1);
    }
    // No GO: the rank that leads has gone without ending the job, so this one does.
    if (Clock::now() >= until) finish(false);
    pause();
  }
}

void Liveness::finish(bool others_exit) {
  std::fflush(nullptr);
  // Under Open MPI's mpirun this exit is what stops the silent ranks. Not MPI_Abort: it has
  // mpirun kill every rank still there within ~15 ms, the caller included, so that a rank that
  // is just exiting (or the caller itself) ends by SIGKILL instead of with status 1.
  if (launcher_stops_job_on_failed_rank()) std::_Exit(1);
  // Other launchers let the other ranks run on: only MPI_Abort ends the silent ones (and this
  // rank, with whatever status the launcher gives it). Nothing reacts to the exits of the ranks
  // told to exit, so they may have all the time they need before it.
  if (others_exit) {
    const auto until = after(kExitMargin);
    while (Clock::now() < until) {
      serve_while_ending();
      pause();
    }
  }
  take_down_job();
}

void Liveness::end_job(const std::string& message) {
  // An MPI error while ending (LAG_MPI leads back here): say so too, and stop at once.
  if (ending_) {
    print_error(message);
    take_down_job();
  }
  ending_ = true;
  print_error(message);
  exit_one_on_sigterm();

  // Everyone except the ranks found silent a moment ago (they would only cost the window).
  std::vector<int> tell;
  for (int r = 0; r < size_; ++r)
    if (r != rank_ && std::find(silent_.begin(), silent_.end(), r) == silent_.end())
      tell.push_back(r);
  std::string stop = std::string(1, kStop) + message;
  if (stop.size() > static_cast<std::size_t>(kNoteBytes)) stop.resize(kNoteBytes);
  std::vector<MPI_Request> acks(tell.size(), MPI_REQUEST_NULL);
  std::vector<unsigned char> ack_bufs(tell.size(), 0);
  for (std::size_t i = 0; i < tell.size(); ++i) {
    LAG_MPI(MPI_Irecv(&ack_bufs[i], 1, MPI_BYTE, tell[i], kAckTag, MPI_COMM_WORLD, &acks[i]));
    // `stop` lives until this process ends, so the send may finish in the background.
    MPI_Request request;
    LAG_MPI(MPI_Isend(stop.data(), static_cast<int>(stop.size()), MPI_BYTE, tell[i], kNoteTag,
                      MPI_COMM_WORLD, &request));
    LAG_MPI(MPI_Request_free(&request));
  }

  const auto until = after(kWindow);
  for (;;) {
    serve_while_ending();
    if (lower_ender_) await_go();
    int all = 0;
    LAG_MPI(MPI_Testall(static_cast<int>(acks.size()), acks.data(), &all, MPI_STATUSES_IGNORE));
    if (all || Clock::now() >= until) break;
    pause();
  }
  // A lower rank's STOP is sent before its ACK, so it has arrived with the last ACK at the
  // latest (MPI keeps the order of one rank's messages to another), maybe inside MPI_Testall.
  serve_while_ending();
  if (lower_ender_) await_go();

  // Those that answered have printed their line: now all end together.
  std::vector<MPI_Request> gos;
  for (std::size_t i = 0; i < tell.size(); ++i) {
    int done = 1;
    if (acks[i] != MPI_REQUEST_NULL) LAG_MPI(MPI_Test(&acks[i], &done, MPI_STATUS_IGNORE));
    if (!done) continue;
    gos.push_back(MPI_REQUEST_NULL);
    LAG_MPI(MPI_Isend(&go_, 1, MPI_BYTE, tell[i], kNoteTag, MPI_COMM_WORLD, &gos.back()));
  }
  // The GOs must be on their way before this rank ends (over a network they may be queued).
  const auto sent_by = after(kWindow);
  for (;;) {
    int all = 0;
    LAG_MPI(MPI_Testall(static_cast<int>(gos.size()), gos.data(), &all, MPI_STATUSES_IGNORE));
    if (all || Clock::now() >= sent_by) break;
    pause();
  }
  finish(!gos.empty());
}

void Liveness::follow(int ender, const std::string& why) {
  ending_ = true;
  print_error("rank " + std::to_string(ender) + " ends the job: " + why);
  exit_one_on_sigterm();
  send_byte(yes_, ender, kAckTag);
  await_go();
}

}  // namespace lag::mpi
