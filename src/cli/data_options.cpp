#include "cli/data_options.hpp"

#include <cmath>
#include <cstdlib>

#include "lag/error.hpp"

namespace lag::cli {

namespace {

CLI::Validator number_at_least(double low, bool strict, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(v) || v < low || (strict && v == low))
          return "expected " + what + ", got '" + text + "'";
        return std::string();
      },
      what);
}

}  // namespace

CLI::Validator positive_number() { return number_at_least(0, true, "a number > 0"); }
CLI::Validator non_negative_number() { return number_at_least(0, false, "a number >= 0"); }

void add_data_options(CLI::App& app, DataOptions& o) {
  app.add_option("--data", o.paths,
                 "Data file (LIBSVM/svmlight or CSV); repeat it for one file per worker, or name "
                 "a directory to use its data files in name order. A single file is split over "
                 "--workers")
      ->group("Data");
  app.add_option("--format", o.format,
                 "File format: auto (.csv is CSV, others LIBSVM), libsvm, csv")
      ->check(CLI::IsMember({"auto", "libsvm", "svmlight", "csv"}))
      ->capture_default_str()
      ->group("Data");
  app.add_option("--label-col", o.label_col, "CSV: 1-based column holding the label")
      ->check(positive_number())
      ->capture_default_str()
      ->group("Data");
  app.add_option("--dim", o.dim,
                 "Number of features (default: inferred; LIBSVM indices above it are errors)")
      ->group("Data");
  app.add_option("--workers", o.workers,
                 "Number of workers M when one file is split (default: one worker per file)")
      ->check(positive_number())
      ->group("Data");
  app.add_option("--partition", o.partition,
                 "How one file is split: contiguous or shuffle (seeded)")
      ->check(CLI::IsMember({"contiguous", "shuffle"}))
      ->capture_default_str()
      ->group("Data");
  app.add_option("--seed", o.seed, "Seed for the shuffle partition and Num-IAG's draws")
      ->capture_default_str();
  app.add_option("--model", o.model,
                 "linear (least squares, 1/2||X theta - y||^2) or logistic (labels +-1 or 0/1)")
      ->check(CLI::IsMember({"linear", "least-squares", "logistic"}))
      ->capture_default_str()
      ->group("Model");
  app.add_option("--lambda", o.lambda,
                 "Logistic: each worker's L2 weight (lambda/2)||theta||^2; the total is M*lambda")
      ->check(non_negative_number())
      ->capture_default_str()
      ->group("Model");
}

Dataset<double> load_training_data(const DataOptions& o, ModelSpec& model,
                                   std::vector<std::string>& notices) {
  if (o.paths.empty()) throw Error("no data: give --data FILE (see lag train --help)");
  model.kind = parse_model(o.model);
  model.lambda = o.lambda;
  LoadOptions load;
  load.format = parse_file_format(o.format);
  load.label_col = o.label_col;
  load.dim = o.dim;
  const std::vector<std::string> files = expand_data_paths(o.paths);
  Dataset<double> data = load_shards(files, load);
  // Labels are checked on the files as read, so that errors name the file's own line numbers.
  const std::string notice = prepare_labels(data, model.kind);
  if (!notice.empty()) notices.push_back(notice);
  if (files.size() == 1 && o.workers > 1) {
    Shard<double> all = std::move(data.shards.front());
    data = partition_rows(all, o.workers, parse_partition(o.partition), o.seed);
  } else if (files.size() > 1 && o.workers != 0 && o.workers != static_cast<int>(files.size())) {
    throw Error("--workers " + std::to_string(o.workers) + " does not match the " +
                std::to_string(files.size()) +
                " data files given (each file is one worker's shard; give one file to split it)");
  }
  return data;
}

}  // namespace lag::cli
