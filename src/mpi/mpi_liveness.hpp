// "Are you there?" between the ranks of a job. Inside a collective MPI does not say whom it is
// waiting for, so a rank whose wait runs out of time asks every other rank directly and names
// the ones that do not answer. Every rank answers while it waits for anything (MpiSession::wait
// calls answer()), so a rank that stays silent is one that has died, hangs, or is stuck outside
// MPI.
#pragma once

#include <mpi.h>

#include <vector>

namespace lag::mpi {

class Liveness {
 public:
  // Posts the receive for questions from any rank.
  Liveness(int rank, int size);
  // Withdraws that receive (call before MPI_Finalize).
  ~Liveness();
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  // Answers the questions that have arrived. Cheap when there are none (one MPI_Test).
  void answer();
  // Asks every other rank and waits up to `window_s` seconds (answering questions meanwhile);
  // returns the ranks that did not answer, in rank order.
  std::vector<int> silent_ranks(double window_s);

 private:
  static constexpr int kQuestionTag = 0x7a01;  // below 32767, the smallest MPI_TAG_UB allowed
  static constexpr int kAnswerTag = 0x7a02;
  void post();
  int rank_, size_;
  MPI_Request question_ = MPI_REQUEST_NULL;
  // Separate buffers: a posted receive and a send must not share one.
  unsigned char question_buf_ = 0, ask_buf_ = 0, answer_buf_ = 1;
};

}  // namespace lag::mpi
