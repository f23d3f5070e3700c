// One checkpoint file (docs/architecture.md §6): a fixed header, then the contents.
//
//   offset  bytes  field
//   0       8      magic "LAGCKPT\0"
//   8       4      format version (kCheckpointFormat)
//   12      4      byte-order mark 0x01020304 as written by this machine
//   16      8      contents' length in bytes
//   24      4      CRC-32 (zlib) of the contents
//   28      4      zero
//   32      ...    contents (run_state_codec.hpp): the run's fingerprint first (precision,
//                  dimensions, options, data checksums), then its state
//
// A file is written whole and durably (temporary file, fsync, rename, fsync of the folder), so a
// kill at any moment leaves either the previous file or the new one.
#pragma once

#include <cstdint>
#include <string>

namespace lag {

constexpr std::uint32_t kCheckpointFormat = 2;  // 2: minibatches and LASG

// Throws lag::Error when the file cannot be written.
void write_checkpoint_file(const std::string& path, const std::string& contents);

// The contents, or lag::Error with one line saying what is wrong: no such file, not a checkpoint,
// another format version, another byte order, truncated (with the lengths), or corrupt (the
// checksum does not match). Nothing of a bad file is returned.
std::string read_checkpoint_file(const std::string& path);

}  // namespace lag
