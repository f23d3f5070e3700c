#include "cli/config_file.hpp"

#include <toml++/toml.h>

#include <sstream>
#include <vector>

#include "lag/error.hpp"

namespace lag::cli {

namespace {

// One TOML scalar as the text the option would get on the command line.
bool scalar_text(const toml::node& node, std::string& out) {
  if (auto s = node.value<std::string>(); s && node.is_string()) {
    out = *s;
    return true;
  }
  if (node.is_integer()) {
    out = std::to_string(*node.value<std::int64_t>());
    return true;
  }
  if (node.is_floating_point()) {
    std::ostringstream s;
    s.precision(17);
    s << *node.value<double>();
    out = s.str();
    return true;
  }
  if (node.is_boolean()) {
    out = *node.value<bool>() ? "true" : "false";
    return true;
  }
  return false;
}

}  // namespace

void set_option_values(CLI::Option& opt, const std::vector<std::string>& values) {
  for (const auto& v : values) opt.add_result(v);
  opt.run_callback();
}

void apply_config_file(CLI::App& app, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw InputError(path, where.line, where.column, std::string(e.description()));
  }
  for (const auto& [key, node] : table) {
    const auto& where = node.source().begin;
    const std::string name(key.str());
    auto fail = [&](const std::string& what) {
      throw InputError(path, where.line, where.column, what);
    };
    if (name == "config") fail("a config file cannot name another config file");
    CLI::Option* opt = nullptr;
    try {
      opt = app.get_option("--" + name);
    } catch (const CLI::OptionNotFound&) {
      fail("unknown option '" + name + "' (keys are the long option names of lag " +
           app.get_name() + " --help, without the dashes)");
    }
    if (opt->count() > 0) continue;  // given on the command line: it overrides the file
    std::vector<std::string> values;
    std::string text;
    if (const toml::array* arr = node.as_array()) {
      for (const toml::node& item : *arr) {
        if (!scalar_text(item, text)) fail("'" + name + "': arrays may hold only plain values");
        values.push_back(text);
      }
    } else if (scalar_text(node, text)) {
      values.push_back(text);
    } else {
      fail("'" + name + "' must be a string, number, boolean or array");
    }
    if (values.empty()) fail("'" + name + "' is an empty array: give it a value or leave it out");
    if (values.size() > 1 && opt->get_items_expected_max() <= 1)
      fail("'" + name + "' takes one value, not an array");
    try {
      set_option_values(*opt, values);
    } catch (const CLI::Error& e) {
      fail("'" + name + "': " + e.what());
    }
  }
}

}  // namespace lag::cli
