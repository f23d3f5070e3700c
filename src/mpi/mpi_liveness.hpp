// "Are you there?" between the ranks of a job, and the end of a job that one rank can no longer
// continue. Inside a collective MPI does not say whom it is waiting for, so a rank whose wait
// runs out of time asks every other rank directly and names the ones that do not answer. Every
// rank answers while it waits for anything (MpiSession::wait calls answer()), so a rank that
// stays silent is one that has died, hangs, is stuck outside MPI, or has left (MPI_Finalize).
//
// Ending the job (end_job, reached through mpi::abort_job): MPI_Abort alone would take the other
// ranks down silently (the launcher kills them), and a rank that merely stops answering is
// reported by no launcher at all. So the rank that ends the job tells every rank that still
// answers, on this same channel, and each of them prints its own line and exits with status 1:
//
//   ender (rank E)                              every other rank that answers (rank R)
//   prints "lag: error: rank E: WHY"
//   sends STOP(WHY) to each of them       --->  prints "lag: error: rank R: rank E ends the job:
//                                                 WHY", answers ACK
//   waits up to kWindow s for the ACKs    <---
//   sends GO to each that answered        --->  exits with status 1 at once
//   ends the job (finish): exits with           (no GO within 2 kWindow s: ends the job itself)
//   status 1 under Open MPI's mpirun,
//   else MPI_Abort after kExitMargin s
//
// Why in this order: under Open MPI's mpirun the first rank to end makes mpirun stop all others,
// and once a second rank has ended (or MPI_Abort is called) it sends them SIGTERM within ~15 ms
// and SIGKILL ~10-30 ms later. So no rank may end before every rank that answers has printed
// (the ACKs), and then all must end at once (GO: a rank that has its GO exits within a
// millisecond). The last step differs by launcher (finish()): mpirun stops the silent ranks when
// a rank exits with status 1, while MPI_Abort would have its caller killed too; other launchers
// (srun by default) need MPI_Abort. A rank that has printed its line exits with status 1 on
// SIGTERM too, so that one that the launcher stops before its own exit still ends with the
// status it announced.
//
// Several ranks may time out at once (all wait for a silent rank 0): each prints its own line
// and sends STOP; the lowest of them leads, the others answer its STOP and wait for its GO as
// the other ranks do. Every rank prints exactly one line: its own reason, or the first STOP.
#pragma once

#include <mpi.h>

#include <array>
#include <string>
#include <vector>

namespace lag::mpi {

class Liveness {
 public:
  // Seconds to wait for answers to "are you there?" and to STOP: a rank that is waiting answers
  // within microseconds; one that computes answers once its computation is done.
  static constexpr double kWindow = 1.0;
  // Under a launcher that does not stop the job when a rank exits, the time the ranks told to
  // exit get before MPI_Abort (they take a millisecond).
  static constexpr double kExitMargin = 0.25;

  // Posts the receive for notes from any rank; the process's job ends through this instance
  // (active()) until it is destroyed.
  Liveness(int rank, int size);
  // Withdraws that receive (call before MPI_Finalize).
  ~Liveness();
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  // The instance of this process while MPI runs with more than one rank, else null.
  static Liveness* active();

  // Answers the questions that have arrived. Cheap when there are none (one MPI_Test). When
  // another rank ends the job (STOP), prints its reason as this rank's error, follows the
  // protocol above and never returns.
  void answer();
  // Asks every other rank and waits up to `window_s` seconds (answering questions meanwhile);
  // returns the ranks that did not answer, in rank order. end_job() tells all others.
  std::vector<int> silent_ranks(double window_s = kWindow);
  // Prints "lag: error: rank R: MESSAGE", ends every rank of the job as above (exit status 1).
  // A failure on the way (an MPI error) prints its own line and aborts at once.
  [[noreturn]] void end_job(const std::string& message);

 private:
  // One receive takes every note to this rank; its first byte says which.
  enum Note : char { kQuestion = 'Q', kStop = 'S', kGo = 'G' };
  static constexpr int kNoteTag = 0x7a01;  // below 32767, the smallest MPI_TAG_UB allowed
  static constexpr int kAnswerTag = 0x7a02;
  static constexpr int kAckTag = 0x7a03;
  // A STOP carries the reason; longer ones are cut (a receive must not be shorter than the send).
  static constexpr int kNoteBytes = 1024;

  void post();
  // The next note that has arrived (re-posting the receive), or false.
  [[nodiscard]] bool take(char& kind, int& source, std::string& text);
  void send_byte(const unsigned char& byte, int to, int tag);
  // While this rank ends: answers questions and STOPs, and notes a GO and a lower rank that
  // ends the job too.
  void serve_while_ending();
  // Exits with status 1 on a GO; ends the job when none comes in time.
  [[noreturn]] void await_go();
  // Ends this rank (status 1) so that the whole job ends: see the protocol above.
  // `others_exit`: ranks were told to exit (GO) a moment ago.
  [[noreturn]] void finish(bool others_exit);
  [[noreturn]] void follow(int ender, const std::string& why);
  void print_error(const std::string& message) const;

  int rank_, size_;
  bool ending_ = false, go_arrived_ = false, lower_ender_ = false;
  std::vector<int> silent_;  // the last verdict of silent_ranks()
  MPI_Request note_ = MPI_REQUEST_NULL;
  // Separate buffers: a posted receive and a send must not share one.
  std::array<char, kNoteBytes> note_buf_{};
  unsigned char question_ = kQuestion, yes_ = 1, go_ = kGo;
};

}  // namespace lag::mpi
