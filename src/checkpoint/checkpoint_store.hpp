// A folder of checkpoints that every process of a run writes together (docs/architecture.md §6).
//
// Generation g is one file per process, FOLDER/checkpoint-g.rank-R, each holding what that
// process alone has (its own workers' state); it becomes the one a resume reads once rank 0 has
// written FOLDER/LATEST ("g R": the generation and the number of processes), which it does only
// after every process has written its file. A kill at any moment therefore leaves LATEST naming a
// generation whose files are all whole. Older generations are removed after LATEST moves on.
// Every process reads and writes only its own files and rank 0 the LATEST file, so the folder may
// be local to each machine of an MPI job.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "lag/process_group.hpp"

namespace lag {

class CheckpointStore {
 public:
  CheckpointStore(std::string folder, ProcessGroup& group)
      : folder_(std::move(folder)), group_(group) {}

  const std::string& folder() const { return folder_; }

  // Collective, for a run that does not resume: the checkpoints of an earlier run in the folder
  // are removed (this process's files; rank 0's also LATEST), so that none can be mistaken for
  // this run's. Throws lag::Error on every process if any fails.
  void start_fresh();
  // Collective: this process's file of the latest generation (read_checkpoint_file's checks
  // passed). Throws lag::Error on every process if any fails: no checkpoint in the folder, a
  // different number of processes, a missing or damaged file.
  std::string load();
  // Collective: writes `contents` as this process's file of the next generation and makes that
  // generation the latest. Throws lag::Error on every process if any fails; LATEST then still
  // names the previous generation.
  void save(const std::string& contents) {
    save([&] { return contents; });
  }
  // The same, with the contents made by `contents` inside the collective step (a failure to make
  // them on one process is then agreed like a failure to write).
  void save(const std::function<std::string()>& contents);

 private:
  std::string file(std::uint64_t generation, int rank) const;
  std::string latest() const;
  void remove_own_files(std::uint64_t below);

  std::string folder_;
  ProcessGroup& group_;
  std::uint64_t generation_ = 0;
};

}  // namespace lag
