// TOML configuration files for the subcommands: each key is a long option name, each value what
// that option would take on the command line. Options given on the command line win.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace lag::cli {

// Apply the keys of `path` to the options of `app` that were not given on the command line.
// Throws lag::InputError "FILE:LINE:COL: ..." for a TOML syntax error, an unknown key, a value
// of the wrong kind, or a value the option rejects.
void apply_config_file(CLI::App& app, const std::string& path);

// Gives `values` to `opt` as if they had been given on the command line. Throws CLI::Error when
// the option rejects them.
void set_option_values(CLI::Option& opt, const std::vector<std::string>& values);

}  // namespace lag::cli
