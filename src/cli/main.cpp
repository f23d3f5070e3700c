// lag: train with Lazily Aggregated Gradient, generate data, describe the build and the data,
// predict the wall time on other networks.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.hpp"
#include "lag/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "LAG trainer: communication-efficient distributed learning with Lazily Aggregated "
      "Gradient (Chen, Giannakis, Sun, Yin, NeurIPS 2018)."};
  app.require_subcommand(1);
  auto train = lag::cli::add_train_command(app);
  auto gen = lag::cli::add_gen_command(app);
  auto info = lag::cli::add_info_command(app);
  auto whatif = lag::cli::add_whatif_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (app.got_subcommand("train")) return train->run();
    if (app.got_subcommand("gen")) return gen->run();
    if (app.got_subcommand("info")) return info->run();
    if (app.got_subcommand("whatif")) return whatif->run();
  } catch (const lag::Error& e) {
    std::fprintf(stderr, "lag: error: %s\n", e.what());
    return lag::cli::kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lag: internal error: %s\n", e.what());
    return lag::cli::kExitError;
  }
  return lag::cli::kExitError;
}
