// The TOML config file of `lag train`, applied to the real command's options. An accepted file
// has every key applied to the option of its name.
#include <toml++/toml.h>

#include <string>

#include "cli/commands.hpp"
#include "cli/config_file.hpp"
#include "harness_util.hpp"
#include "lag/error.hpp"

namespace lag::fuzz {

int fuzz_config(const std::uint8_t* data, std::size_t size) {
  init_harness();
  static const InputFile file("config.toml");
  file.write(data, size);
  // Made once (making the command costs more than applying a file), its results cleared for
  // each input: apply_config_file skips the options that have one.
  static CLI::App app;
  static const auto command = cli::add_train_command(app);
  static CLI::App* const train = app.get_subcommand("train");
  app.clear();
  try {
    cli::apply_config_file(*train, file.path());
  } catch (const Error&) {
    return 0;
  }
  const toml::table table = toml::parse_file(file.path());  // it parsed just now
  for (const auto& [key, node] : table) {
    (void)node;
    const std::string name(key.str());
    require(name != "config", "a config file naming another was accepted");
    if (train->get_option("--" + name)->count() == 0) {
      throw InvariantFailure("key '" + name + "' was not applied");
    }
  }
  return 0;
}

}  // namespace lag::fuzz
