#include "checkpoint/checkpoint_store.hpp"

#include <charconv>
#include <filesystem>
#include <sstream>

#include "checkpoint/checkpoint_file.hpp"
#include "common/atomic_file.hpp"
#include "lag/error.hpp"

namespace lag {

namespace fs = std::filesystem;

std::string CheckpointStore::file(std::uint64_t generation, int rank) const {
  return (fs::path(folder_) /
          ("checkpoint-" + std::to_string(generation) + ".rank-" + std::to_string(rank)))
      .string();
}

std::string CheckpointStore::latest() const { return (fs::path(folder_) / "LATEST").string(); }

void CheckpointStore::remove_own_files(std::uint64_t below) {
  std::error_code ec;
  if (!fs::is_directory(folder_, ec)) return;
  const std::string suffix = ".rank-" + std::to_string(group_.rank());
  fs::directory_iterator it(folder_, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    const bool temporary = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    if (temporary) name.resize(name.size() - 4);
    if (name.rfind("checkpoint-", 0) != 0 || name.size() <= 11 + suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const char* first = name.data() + 11;
    const char* last = name.data() + name.size() - suffix.size();
    std::uint64_t generation = 0;
    const auto parsed = std::from_chars(first, last, generation);
    if (parsed.ec != std::errc() || parsed.ptr != last) continue;  // not one of ours
    std::error_code removed;
    if (temporary || generation < below) fs::remove(it->path(), removed);
  }
  if (ec) throw Error("cannot clear old checkpoints in " + folder_ + ": " + ec.message());
}

void CheckpointStore::start_fresh() {
  agree(group_, [&] {
    std::error_code ec;
    if (group_.root()) fs::remove(latest(), ec);
    if (ec) throw Error("cannot remove " + latest() + ": " + ec.message());
    remove_own_files(UINT64_MAX);
  });
  generation_ = 0;
}

std::string CheckpointStore::load() {
  std::string chosen;  // "generation processes"
  agree(group_, [&] {
    if (!group_.root()) return;
    std::error_code ec;
    if (!fs::exists(latest(), ec))
      throw Error("no checkpoint in " + folder_ + " (it has no LATEST file)");
    chosen = read_whole_file(latest());
  });
  broadcast_string(group_, chosen);
  std::string contents;
  agree(group_, [&] {
    std::istringstream in(chosen);
    std::uint64_t generation = 0;
    int processes = 0;
    std::string rest;
    if (!(in >> generation >> processes) || (in >> rest) || processes < 1)
      throw Error(latest() + " is damaged: expected 'GENERATION PROCESSES', found '" + chosen +
                  "'");
    if (processes != group_.size())
      throw Error("the checkpoint in " + folder_ + " was written by " + std::to_string(processes) +
                  " process(es); this run has " + std::to_string(group_.size()) +
                  " (resume with the same mpirun -np)");
    contents = read_checkpoint_file(file(generation, group_.rank()));
    generation_ = generation;
  });
  return contents;
}

void CheckpointStore::save(const std::function<std::string()>& contents) {
  const std::uint64_t next = generation_ + 1;
  agree(group_, [&] {
    std::error_code ec;
    fs::create_directories(folder_, ec);
    if (ec) throw Error("cannot create checkpoint folder " + folder_ + ": " + ec.message());
    write_checkpoint_file(file(next, group_.rank()), contents());
  });
  agree(group_, [&] {
    if (group_.root())
      write_file_atomically(
          latest(), std::to_string(next) + " " + std::to_string(group_.size()) + "\n", true);
  });
  generation_ = next;
  try {
    remove_own_files(next);
  } catch (const std::exception&) {
    // Left-over files of older generations are harmless (LATEST names the current one); the
    // next save or a fresh start tries again.
  }
}

}  // namespace lag
