#include "checkpoint/checkpoint_file.hpp"

#include <zlib.h>

#include <csignal>
#include <cstring>
#include <filesystem>

#include "common/atomic_file.hpp"
#include "common/test_signal.hpp"
#include "lag/error.hpp"

namespace lag {

namespace {

constexpr char kMagic[8] = {'L', 'A', 'G', 'C', 'K', 'P', 'T', '\0'};
constexpr std::uint32_t kByteOrder = 0x01020304;
constexpr std::size_t kHeaderBytes = 32;

std::uint32_t crc_of(const char* data, std::size_t n) {
  return static_cast<std::uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data), n));
}

template <class V>
void put(std::string& out, std::size_t at, V v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}

template <class V>
V get(const std::string& in, std::size_t at) {
  V v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

}  // namespace

void write_checkpoint_file(const std::string& path, const std::string& contents) {
  std::string file(kHeaderBytes, '\0');
  std::memcpy(file.data(), kMagic, sizeof kMagic);
  put<std::uint32_t>(file, 8, kCheckpointFormat);
  put<std::uint32_t>(file, 12, kByteOrder);
  put<std::uint64_t>(file, 16, contents.size());
  put<std::uint32_t>(file, 24, crc_of(contents.data(), contents.size()));
  file += contents;
  write_file_atomically(path, file, /*durable=*/true,
                        [] { test_signal_point("LAG_TEST_KILL_IN_CHECKPOINT", SIGKILL); });
}

std::string read_checkpoint_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error("checkpoint " + path + " does not exist");
  const std::string file = read_whole_file(path);
  const std::string where = "checkpoint " + path;
  if (file.size() < kHeaderBytes || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0)
    throw Error(where + " is not a checkpoint of this program (or its header is damaged)");
  const auto format = get<std::uint32_t>(file, 8);
  if (format != kCheckpointFormat)
    throw Error(where + " has format version " + std::to_string(format) +
                "; this build reads version " + std::to_string(kCheckpointFormat));
  if (get<std::uint32_t>(file, 12) != kByteOrder)
    throw Error(where + " was written on a machine of another byte order");
  const auto length = get<std::uint64_t>(file, 16);
  const std::size_t have = file.size() - kHeaderBytes;
  if (length != have)
    throw Error(where + (have < length ? " is truncated: " : " has trailing bytes: ") +
                std::to_string(have) + " bytes of contents where the header says " +
                std::to_string(length));
  if (crc_of(file.data() + kHeaderBytes, have) != get<std::uint32_t>(file, 24))
    throw Error(where + " is corrupt: its checksum does not match its contents");
  return file.substr(kHeaderBytes);
}

}  // namespace lag
