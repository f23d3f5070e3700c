// The fuzz harnesses' bodies, shared by the libFuzzer entry points (fuzz/entry.cpp) and the
// replay of their corpora as ordinary tests (tests/data/test_fuzz_replay.cpp). Each feeds one
// input to a reader and checks what comes back. A reader refusing the input with lag::Error is
// the expected outcome for most inputs and ends the call quietly; a result that breaks what the
// reader promises throws InvariantFailure. Anything else that escapes (another exception, a
// sanitizer report, a crash) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lag::fuzz {

// A loaded result that breaks a reader's promise. Deliberately not a lag::Error.
class InvariantFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// LIBSVM reader (load_file, load_shards): the input is the file's text.
int fuzz_libsvm(const std::uint8_t* data, std::size_t size);
// CSV reader (load_file, load_shards): the input is the file's text.
int fuzz_csv(const std::uint8_t* data, std::size_t size);
// IDX reader (read_idx, load_idx_images), files as given. The input: a flags byte (bit 0: bias,
// bits 1-3: limit), the label file's length (2 bytes, little-endian), the label file, the image
// file (the rest).
int fuzz_idx(const std::uint8_t* data, std::size_t size);
// The same on gzip files: as fuzz_idx, but bit 4 of the flags byte set compresses the label file
// and bit 5 the image file (valid gzip around fuzzed IDX data); a clear bit writes the bytes as
// given (the seeds hold gzip files there: corrupt and cut-off streams).
int fuzz_idx_gzip(const std::uint8_t* data, std::size_t size);
// TOML config file of `lag train` (apply_config_file): the input is the file's text.
int fuzz_config(const std::uint8_t* data, std::size_t size);
// Checkpoint files and their contents (harness_checkpoint.cpp): a flags byte (bit 0: the rest is
// a whole file; clear: the rest is contents, given a valid header), then the bytes.
int fuzz_checkpoint(const std::uint8_t* data, std::size_t size);

}  // namespace lag::fuzz
