#include "cli/train_checkpoint.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "checkpoint/run_state_codec.hpp"
#include "cli/config_file.hpp"
#include "lag/error.hpp"
#include "lag/process_group.hpp"

namespace lag::cli {

std::string encode(const TrainCheckpoint& c) {
  MessageWriter out;
  out.put(static_cast<std::uint64_t>(c.fingerprint.size()));
  for (const auto& [what, value] : c.fingerprint) {
    out.put(what);
    out.put(value);
  }
  out.put(static_cast<std::uint64_t>(c.options.size()));
  for (const auto& [name, values] : c.options) {
    out.put(name);
    out.put(static_cast<std::uint64_t>(values.size()));
    for (const auto& v : values) out.put(v);
  }
  out.put(static_cast<std::uint64_t>(c.finished.size()));
  for (const auto& r : c.finished) put_run_result(out, r);
  out.put(c.metrics.bytes);
  out.put(static_cast<std::uint64_t>(c.metrics.crc));
  out.put(static_cast<std::uint64_t>(c.in_run ? 1 : 0));
  out.put(c.run_state);
  return out.bytes();
}

TrainCheckpoint decode(const std::string& contents, const std::string& where) {
  MessageReader in(contents, where);
  TrainCheckpoint c;
  // Counts are bounded by what the bytes can hold before anything is allocated for them.
  const auto count = [&](std::size_t smallest_item) {
    const std::size_t n = in.size();
    if (n > contents.size() / smallest_item) throw Error(where + " holds an impossible count");
    return n;
  };
  for (std::size_t i = count(16); i > 0; --i) {
    std::string what = in.str();
    c.fingerprint.emplace_back(std::move(what), in.str());
  }
  for (std::size_t i = count(16); i > 0; --i) {
    std::string name = in.str();
    std::vector<std::string> values(count(8));
    for (auto& v : values) v = in.str();
    c.options.emplace_back(std::move(name), std::move(values));
  }
  for (std::size_t i = count(64); i > 0; --i) c.finished.push_back(get_run_result(in));
  c.metrics.bytes = in.u64();
  const std::uint64_t crc = in.u64(), in_run = in.u64();
  if (crc > UINT32_MAX || in_run > 1) throw Error(where + " holds an impossible value");
  c.metrics.crc = static_cast<std::uint32_t>(crc);
  c.in_run = in_run == 1;
  c.run_state = in.str();
  if (!in.done()) throw Error(where + " has bytes after its contents");
  return c;
}

void require_same(const Fingerprint& saved, const Fingerprint& now, const std::string& folder) {
  const std::string head = "the checkpoint in " + folder + " does not match this run: ";
  for (const auto& item : now) {
    const std::string& what = item.first;
    const auto it =
        std::find_if(saved.begin(), saved.end(), [&](const auto& s) { return s.first == what; });
    if (it == saved.end()) throw Error(head + "it does not record " + what);
    if (it->second != item.second)
      throw Error(head + what + " is " + it->second + " there and " + item.second + " here");
  }
  if (saved.size() != now.size())
    throw Error(head + "it records " + std::to_string(saved.size()) + " settings, this run " +
                std::to_string(now.size()));
}

namespace {

template <class V>
uLong crc_values(uLong crc, const std::vector<V>& values) {
  return crc32_z(crc, reinterpret_cast<const Bytef*>(values.data()), values.size() * sizeof(V));
}

uLong crc_shard(uLong crc, const Shard<double>& s) {
  const std::uint64_t shape[2] = {s.rows, s.dim};
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(shape), sizeof shape);
  return crc_values(crc_values(crc, s.x), s.y);
}

}  // namespace

std::string data_checksum(const Dataset<double>& train, const Shard<double>* test, int own_first,
                          int own_end) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (int m = own_first; m < own_end; ++m)
    crc = crc_shard(crc, train.shards[static_cast<std::size_t>(m)]);
  if (test) crc = crc_shard(crc, *test);
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  return hex;
}

GivenOptions given_options(const CLI::App& app, const std::vector<std::string>& skip) {
  GivenOptions out;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0 || opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    out.emplace_back(name, opt->results());
  }
  return out;
}

void apply_given_options(CLI::App& app, const GivenOptions& options, const std::string& folder) {
  for (const auto& [name, values] : options) {
    CLI::Option* opt = nullptr;
    try {
      opt = app.get_option("--" + name);
    } catch (const CLI::OptionNotFound&) {
      throw Error("the checkpoint in " + folder + " was written with option --" + name +
                  ", which this version of lag " + app.get_name() + " does not have");
    }
    if (opt->count() > 0) continue;  // given again now: this value wins (checked later)
    try {
      set_option_values(*opt, values);
    } catch (const CLI::Error& e) {
      throw Error("the checkpoint in " + folder + " gives --" + name +
                  " a value it rejects: " + e.what());
    }
  }
}

}  // namespace lag::cli
