// lag whatif: predict each algorithm's wall time on network links the user names, from a run's
// ledger (metrics.csv) and measured training time (summary.json). The model is in lag/whatif.hpp.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.hpp"
#include "lag/error.hpp"
#include "lag/whatif.hpp"

namespace lag::cli {

namespace {

namespace fs = std::filesystem;

class WhatifCommand final : public Command {
 public:
  explicit WhatifCommand(CLI::App& app) {
    CLI::App* c = app.add_subcommand(
        "whatif",
        "Predict each algorithm's wall time on the network links you name, from a finished run "
        "(the --out folder of lag train). Model: a parameter-server star whose server link is "
        "the bottleneck; per iteration, compute + latency * rounds + 8 * bytes / bandwidth, "
        "with the ledger's logical bytes (theta down, deltas up, LAG-WK's tau and flags) and "
        "one latency per direction that carries anything (docs/benchmarks.md).");
    c->add_option("run", run_,
                  "Output folder of lag train (its metrics.csv and summary.json), or a "
                  "metrics.csv file")
        ->capture_default_str();
    c->add_option("--link", links_,
                  "Comma list of server link bandwidths in bits per second: bps, Kbps, Mbps, "
                  "Gbps, Tbps (e.g. 1Gbps,10Gbps,100Gbps)")
        ->capture_default_str();
    c->add_option("--latency", latencies_,
                  "Comma list of one-way latencies per message round: s, ms, us, ns (every "
                  "bandwidth is combined with every latency)")
        ->capture_default_str();
    c->add_option("--compute-seconds", compute_,
                  "Compute time per iteration for every algorithm, instead of the run's measured "
                  "wall_seconds / iterations (e.g. one worker's gradient time, when each worker "
                  "has its own machine)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--csv", csv_, "Also write the predictions to this CSV file");
  }

  int run() override {
    // Parse the links first: a typo should not wait for the files.
    std::vector<whatif::Link> links;
    const auto latencies = whatif::parse_duration_list(latencies_);
    for (double lat : latencies)
      for (double bps : whatif::parse_bandwidth_list(links_)) links.push_back({bps, lat});

    fs::path metrics = run_, summary_path;
    if (fs::is_directory(metrics)) metrics /= "metrics.csv";
    summary_path = metrics.parent_path() / "summary.json";
    std::ifstream in(metrics);
    if (!in) throw Error("cannot read " + metrics.string() + " (the --out folder of lag train?)");
    auto workloads = whatif::read_workloads(in, metrics.string());

    const nlohmann::json summary = read_summary(summary_path);
    print_header(summary, metrics);
    if (summary.contains("runs"))
      for (auto& w : workloads) apply_summary(summary["runs"], w);

    const auto compute = compute_ >= 0 ? std::optional<double>(compute_) : std::nullopt;
    const auto predictions = whatif::predict_all(workloads, links, compute);
    whatif::print_table(std::cout, predictions);
    print_caveats(summary);
    if (!csv_.empty()) {
      std::ofstream out(csv_);
      if (!out) throw Error("cannot create " + csv_);
      whatif::write_csv(out, predictions);
      out.close();
      if (!out) throw Error("cannot write " + csv_);
      std::cout << "wrote " << csv_ << "\n";
    }
    return kExitOk;
  }

 private:
  // summary.json is optional (metrics.csv alone is enough); a broken one is an error.
  static nlohmann::json read_summary(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return nlohmann::json::object();
    try {
      return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
    }
  }

  // The measured training time at full precision (metrics.csv rounds it to microseconds).
  static void apply_summary(const nlohmann::json& runs, whatif::Workload& w) {
    for (const auto& r : runs)
      if (r.value("algo", "") == w.algo && r.contains("wall_seconds") &&
          r["wall_seconds"].is_number())
        w.compute_seconds = r["wall_seconds"].get<double>();
  }

  void print_header(const nlohmann::json& summary, const fs::path& metrics) const {
    std::cout << "what-if for " << metrics.string();
    if (summary.contains("runs") && !summary["runs"].empty()) {
      const auto& r = summary["runs"][0];
      std::cout << ": " << r.value("workers", 0) << " workers, " << r.value("dim", 0)
                << " features, " << r.value("model", std::string("?")) << ", "
                << r.value("precision", std::string("?"));
    }
    std::cout << "\nmodel: parameter-server star, the server link is the bottleneck; per "
                 "iteration\n  compute + latency * rounds + 8 * (bytes down + up + control) / "
                 "bandwidth\ncompute: ";
    if (compute_ >= 0) {
      std::cout << compute_ << " s per iteration (--compute-seconds)\n\n";
      return;
    }
    std::cout << "as measured (wall_seconds of each run";
    if (summary.contains("backend") && summary["backend"].is_string()) {
      const std::string backend = summary["backend"].get<std::string>();
      std::cout << ", backend " << backend.substr(0, backend.find(" ("));  // not why it was picked
    }
    if (summary.contains("runs") && !summary["runs"].empty() &&
        summary["runs"][0].contains("threads"))
      std::cout << ", " << summary["runs"][0]["threads"] << " threads";
    std::cout << ": all workers on one machine;\n  give --compute-seconds for one machine per "
                 "worker)\n\n";
  }

  // Speed-ups compare the time to the runs' stopping points: equal accuracy only when they
  // stopped on the same target.
  static void print_caveats(const nlohmann::json& summary) {
    if (!summary.contains("runs")) return;
    for (const auto& r : summary["runs"]) {
      const std::string stop = r.value("stop_reason", std::string());
      if (stop != "target_gap" && stop != "grad_tol") {
        std::cout << "\nnote: " << r.value("algo", std::string("?")) << " stopped by " << stop
                  << ": times compare the runs' iteration budgets, not the time to one "
                     "accuracy (use --target-gap for that)\n";
        return;
      }
    }
  }

  std::string run_ = "lag-out";
  std::string links_ = "1Gbps,10Gbps,100Gbps";
  std::string latencies_ = "50us";
  double compute_ = -1;  // < 0: measured
  std::string csv_;
};

}  // namespace

std::unique_ptr<Command> add_whatif_command(CLI::App& app) {
  return std::make_unique<WhatifCommand>(app);
}

}  // namespace lag::cli
