// Files that are either whole or absent: written beside their final name and renamed into place,
// so that neither a reader nor a crash ever sees half of one.
#pragma once

#include <string>

namespace lag {

// Writes `bytes` to `path` atomically. With `durable` the data and the rename reach the disk
// before this returns (fsync of the file, then of its folder): after a power cut or a kill the
// path holds the old contents or the new, whole. Throws lag::Error ("cannot write PATH: why")
// and leaves no temporary file behind.
// `before_rename`, when given, runs when the temporary file is whole (tests kill the process
// there).
void write_file_atomically(const std::string& path, const std::string& bytes, bool durable,
                           void (*before_rename)() = nullptr);

// The whole file; throws lag::Error ("cannot read PATH: why").
std::string read_whole_file(const std::string& path);

// fsync of a folder (a rename or removal in it reaches the disk); throws lag::Error.
void sync_folder(const std::string& folder);

}  // namespace lag
