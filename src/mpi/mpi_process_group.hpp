// The ranks of an MPI job as a ProcessGroup (lag/process_group.hpp): the steps before training
// that need every worker's data (loading, smoothness constants, L*) talk through it. Every wait
// is one of the session's, with the deadline for set-up steps (MpiSession::Phase::Setup).
#pragma once

#include "lag/process_group.hpp"
#include "mpi/mpi_session.hpp"

namespace lag::mpi {

class MpiProcessGroup final : public ProcessGroup {
 public:
  // `session` must outlive the group.
  explicit MpiProcessGroup(MpiSession& session) : session_(session) {}

  int rank() const override { return session_.rank(); }
  int size() const override { return session_.size(); }
  // Messages of any size, in pieces of at most kPieceBytes (an MPI count is an int).
  void send(const void* data, std::size_t bytes, int to) override;
  void receive(void* data, std::size_t bytes, int from) override;
  void broadcast(void* data, std::size_t bytes, int from) override;
  [[nodiscard]] int lowest_failing(bool failed) override;

  static constexpr std::size_t kPieceBytes = std::size_t{1} << 30;

 private:
  MpiSession& session_;
};

}  // namespace lag::mpi
