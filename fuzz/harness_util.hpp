// What the harnesses share: inputs written to files (the readers read files by path) and the
// checks made on what a reader returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "harness.hpp"
#include "lag/dataset.hpp"

namespace lag::fuzz {

// Sets up what every harness needs, once: a memory limit for the dense-size checks that a
// fuzzer can afford (a one-line LIBSVM file may name feature 300000000).
void init_harness();

// A file of this process's, named by `name` (its extension matters to no reader here: the
// harnesses name the format), rewritten with each input and removed at exit.
class InputFile {
 public:
  explicit InputFile(const std::string& name);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  void write(const void* data, std::size_t size) const;
  void write(const std::string& bytes) const { write(bytes.data(), bytes.size()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Throws InvariantFailure(what) unless `ok` (a plain string: the checks run per value, and
// building a std::string each time would cost more than the parse).
void require(bool ok, const char* what);
// The same, naming the check `context`: "CONTEXT: WHAT".
void require(bool ok, const char* context, const char* what);

// A loaded shard's promises: rows > 0, dim consistent with x and y, every value finite, the label
// census naming a line for each kind of label present (text files only: `lines`).
void check_shard(const Shard<double>& s, bool lines);

}  // namespace lag::fuzz
