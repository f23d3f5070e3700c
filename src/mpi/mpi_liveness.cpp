#include "mpi/mpi_liveness.hpp"

#include <chrono>
#include <thread>

#include "mpi/mpi_check.hpp"

namespace lag::mpi {

Liveness::Liveness(int rank, int size) : rank_(rank), size_(size) {
  if (size_ > 1) post();
}

Liveness::~Liveness() {
  if (question_ == MPI_REQUEST_NULL) return;
  // Not checked: this runs on the way out, also after an error elsewhere.
  MPI_Cancel(&question_);
  MPI_Wait(&question_, MPI_STATUS_IGNORE);
}

void Liveness::post() {
  LAG_MPI(MPI_Irecv(&question_buf_, 1, MPI_BYTE, MPI_ANY_SOURCE, kQuestionTag, MPI_COMM_WORLD,
                    &question_));
}

void Liveness::answer() {
  if (question_ == MPI_REQUEST_NULL) return;
  for (;;) {
    int arrived = 0;
    MPI_Status status;
    LAG_MPI(MPI_Test(&question_, &arrived, &status));
    if (!arrived) return;
    // A one-byte send completes at once (eager); freeing the request lets MPI finish it.
    MPI_Request reply;
    LAG_MPI(MPI_Isend(&answer_buf_, 1, MPI_BYTE, status.MPI_SOURCE, kAnswerTag, MPI_COMM_WORLD,
                      &reply));
    LAG_MPI(MPI_Request_free(&reply));
    post();
  }
}

std::vector<int> Liveness::silent_ranks(double window_s) {
  std::vector<MPI_Request> answers(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
  std::vector<unsigned char> replies(static_cast<std::size_t>(size_), 0);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const auto i = static_cast<std::size_t>(r);
    LAG_MPI(MPI_Irecv(&replies[i], 1, MPI_BYTE, r, kAnswerTag, MPI_COMM_WORLD, &answers[i]));
    MPI_Request ask;
    LAG_MPI(MPI_Isend(&ask_buf_, 1, MPI_BYTE, r, kQuestionTag, MPI_COMM_WORLD, &ask));
    LAG_MPI(MPI_Request_free(&ask));
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(window_s);
  for (;;) {
    answer();  // another rank may be asking at the same time
    int all = 0;
    LAG_MPI(MPI_Testall(size_, answers.data(), &all, MPI_STATUSES_IGNORE));
    if (all || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  // MPI_Testall changes no request unless all completed: test each one for the verdict. The
  // pending ones stay pending (the job ends next).
  std::vector<int> silent;
  for (int r = 0; r < size_; ++r) {
    MPI_Request& a = answers[static_cast<std::size_t>(r)];
    int done = 1;
    if (a != MPI_REQUEST_NULL) LAG_MPI(MPI_Test(&a, &done, MPI_STATUS_IGNORE));
    if (!done) silent.push_back(r);
  }
  return silent;
}

}  // namespace lag::mpi
