// Checkpoint files (read_checkpoint_file) and their contents (the command's TrainCheckpoint and
// the engine's and cluster's RunState). The input: a flags byte, then bytes. Bit 0 set: the bytes
// are a whole file (the header checks: magic, version, byte order, length, CRC-32). Bit 0 clear:
// the bytes are contents, wrapped in a valid header so that they reach the decoders. What decodes
// must encode back to the same bytes.
#include <string>

#include "checkpoint/checkpoint_file.hpp"
#include "checkpoint/run_state_codec.hpp"
#include "cli/train_checkpoint.hpp"
#include "harness_util.hpp"
#include "lag/error.hpp"

namespace lag::fuzz {

namespace {

template <class T>
void check_run_state(const std::string& bytes) {
  RunState<T> state;
  try {
    MessageReader in(bytes, "the run state");
    state = get_run_state<T>(in);
    if (!in.done()) return;
  } catch (const Error&) {
    return;
  }
  MessageWriter out;
  put_run_state(out, state);
  require(out.bytes() == bytes, "a decoded run state does not encode to its bytes");
}

}  // namespace

int fuzz_checkpoint(const std::uint8_t* data, std::size_t size) {
  init_harness();
  if (size == 0) return 0;
  static const InputFile file("checkpoint");
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  cli::TrainCheckpoint checkpoint;
  std::string contents;
  try {
    if (data[0] & 1) {
      file.write(bytes);
    } else {
      write_checkpoint_file(file.path(), bytes);
    }
    contents = read_checkpoint_file(file.path());
    if (!(data[0] & 1)) require(contents == bytes, "a checkpoint does not give back its contents");
    checkpoint = cli::decode(contents, "the fuzzed checkpoint");
  } catch (const Error&) {
    return 0;
  }
  require(cli::encode(checkpoint) == contents, "a decoded checkpoint does not encode to its bytes");
  if (checkpoint.in_run) {
    check_run_state<double>(checkpoint.run_state);
    check_run_state<float>(checkpoint.run_state);
  }
  return 0;
}

}  // namespace lag::fuzz
