// The subcommands of the `lag` program. Each registers its options on a CLI11 subcommand and
// runs after parsing; run() returns the process exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace lag::cli {

class Command {
 public:
  virtual ~Command() = default;
  virtual int run() = 0;
};

std::unique_ptr<Command> add_train_command(CLI::App& app);
std::unique_ptr<Command> add_gen_command(CLI::App& app);
std::unique_ptr<Command> add_info_command(CLI::App& app);
std::unique_ptr<Command> add_whatif_command(CLI::App& app);

// Exit statuses.
constexpr int kExitOk = 0;
constexpr int kExitError = 1;     // bad input, bad options, I/O failure
constexpr int kExitDiverged = 3;  // a run diverged (the others still completed)

}  // namespace lag::cli
