#include "cli/data_options.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "lag/error.hpp"
#include "lag/idx.hpp"

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
                 "Data file (LIBSVM/svmlight, CSV, or IDX images with --labels); repeat it for "
                 "one file per worker, or name a directory to use its data files in name order. "
                 "A single file is split over --workers")
      ->group("Data");
  app.add_option("--labels", o.labels, "IDX: the label file that goes with the --data images")
      ->group("Data");
  app.add_option("--dataset", o.dataset,
                 "A named data set instead of --data: fashion-mnist (Debian package "
                 "dataset-fashion-mnist; its test set becomes --test-data). The default when no "
                 "--data is given")
      ->check(CLI::IsMember({"fashion-mnist"}))
      ->group("Data");
  app.add_option("--test-data", o.test_path,
                 "Held-out rows (same format as --data) for test loss and accuracy")
      ->group("Data");
  app.add_option("--test-labels", o.test_labels, "IDX: the label file of --test-data")
      ->group("Data");
  app.add_option("--format", o.format,
                 "File format: auto (.csv is CSV, names with 'idx' are IDX, others LIBSVM), "
                 "libsvm, csv, idx")
      ->check(CLI::IsMember({"auto", "libsvm", "svmlight", "csv", "idx"}))
      ->capture_default_str()
      ->group("Data");
  app.add_option("--label-col", o.label_col, "CSV: 1-based column holding the label")
      ->check(positive_number())
      ->capture_default_str()
      ->group("Data");
  app.add_option("--dim", o.dim,
                 "Number of features (default: inferred; LIBSVM indices above it are errors)")
      ->group("Data");
  app.add_flag("--standardize,!--no-standardize", o.standardize,
               "Standardise each feature to mean 0 and standard deviation 1 with the training "
               "rows' statistics (all workers together; applied to the test rows too, and "
               "written to OUT/standardization.json)")
      ->group("Data");
  app.add_flag("--bias", o.bias, "Append a constant 1 feature to every row (an intercept)")
      ->group("Data");
  app.add_option("--limit", o.limit, "IDX: use only the first N training images (0: all)")
      ->group("Data");
  app.add_option("--workers", o.workers,
                 "Number of workers M when one file is split (default: one worker per file)")
      ->check(positive_number())
      ->group("Data");
  app.add_option("--partition", o.partition,
                 "How one file is split: contiguous, shuffle (seeded), or label (non-IID: each "
                 "worker holds only --classes-per-worker classes)")
      ->check(CLI::IsMember({"contiguous", "shuffle", "label", "iid"}))
      ->capture_default_str()
      ->group("Data");
  app.add_option("--classes-per-worker", o.classes_per_worker,
                 "With --partition label: classes on each worker (worker m holds classes "
                 "m*k .. m*k+k-1, mod K)")
      ->check(positive_number())
      ->capture_default_str()
      ->group("Data");
  app.add_option("--seed", o.seed,
                 "Seed for the shuffle/label partitions, Num-IAG's draws and the MLP's start")
      ->capture_default_str();
  app.add_option("--model", o.model,
                 "linear (least squares, 1/2||X theta - y||^2), logistic (labels +-1 or 0/1), "
                 "softmax (labels 0..K-1) or mlp (one tanh hidden layer, softmax output)")
      ->check(CLI::IsMember({"linear", "least-squares", "logistic", "softmax", "mlp"}))
      ->capture_default_str()
      ->group("Model");
  app.add_option("--lambda", o.lambda,
                 "Each worker's L2 weight (lambda/2)||theta||^2 (not for linear); the total is "
                 "M*lambda")
      ->check(non_negative_number())
      ->capture_default_str()
      ->group("Model");
  app.add_option("--classes", o.classes,
                 "softmax/mlp: number of classes K (default: largest label + 1)")
      ->check(positive_number())
      ->group("Model");
  app.add_option("--hidden", o.hidden, "mlp: width of the hidden layer")
      ->check(positive_number())
      ->capture_default_str()
      ->group("Model");
}

namespace {

bool is_idx(const std::string& path, const std::string& format) {
  if (format == "idx") return true;
  if (format != "auto") return false;
  const std::string name = std::filesystem::path(path).filename().string();
  return name.find("idx") != std::string::npos;
}

Shard<double> load_idx_pair(const std::string& images, const std::string& labels,
                            const DataOptions& o, std::size_t limit, const char* option) {
  if (labels.empty())
    throw Error(images + ": an IDX image file needs its label file (" + option + ")");
  return load_idx_images(images, labels, o.bias, limit);
}

void append_bias(Shard<double>& s) {
  std::vector<double> x(s.rows * (s.dim + 1));
  for (std::size_t i = 0; i < s.rows; ++i) {
    std::copy(s.row(i), s.row(i) + s.dim, x.begin() + static_cast<std::ptrdiff_t>(i * (s.dim + 1)));
    x[i * (s.dim + 1) + s.dim] = 1.0;
  }
  s.x.swap(x);
  ++s.dim;
}

}  // namespace

namespace {

// Every process needs a worker of its own.
void check_ranks(int workers, int ranks) {
  if (workers < ranks)
    throw Error(std::to_string(workers) + " workers for " + std::to_string(ranks) +
                " MPI ranks: every rank needs at least one worker (--workers M with M >= " +
                std::to_string(ranks) + ", or one data file per worker)");
}

Shard<double> load_test(const DataOptions& d, const LoadOptions& load, std::size_t dim) {
  Shard<double> test;
  if (is_idx(d.test_path, d.format)) {
    test = load_idx_pair(d.test_path, d.test_labels, d, 0, "--test-labels");
  } else {
    LoadOptions tl = load;
    tl.format = parse_file_format(d.format == "idx" ? "auto" : d.format);
    tl.dim = dim - (d.bias ? 1 : 0);
    test = load_file(d.test_path, tl);
    if (d.bias) append_bias(test);
  }
  if (test.dim != dim)
    throw InputError(test.source, 0, 0,
                     "test rows have " + std::to_string(test.dim) + " features, training rows " +
                         std::to_string(dim));
  return test;
}

// Same rules (and mapping) for the test labels; for classes, with the training set's K.
void prepare_test_labels(TrainingData& out) {
  if (!out.test) return;
  Dataset<double> wrapped;
  wrapped.dim = out.test->dim;
  wrapped.shards.push_back(std::move(*out.test));
  ModelSpec m = out.model;
  prepare_labels(wrapped, m);
  out.test = std::move(wrapped.shards.front());
}

// One file (or an IDX pair) read whole and split over the workers, as one process does it.
Dataset<double> load_and_split(const DataOptions& d, const LoadOptions& load,
                               const std::string& file, bool idx, TrainingData& out) {
  Dataset<double> data;
  if (idx) {
    data.shards.push_back(load_idx_pair(file, d.labels, d, d.limit, "--labels"));
    data.dim = data.shards[0].dim;
  } else {
    data = load_shards({file}, load);
    if (d.bias) {
      for (auto& s : data.shards) append_bias(s);
      ++data.dim;
    }
  }
  if (!d.test_path.empty()) out.test = load_test(d, load, data.dim);
  // Labels are checked on the file as read, so that errors name the file's own line numbers.
  const std::string notice = prepare_labels(data, out.model);
  if (!notice.empty()) out.notices.push_back(notice);
  prepare_test_labels(out);
  if (d.workers > 1) {
    Shard<double> all = std::move(data.shards.front());
    if (d.partition == "label")
      data = partition_by_label(all, d.workers, d.classes_per_worker, out.model.classes, d.seed);
    else
      data = partition_rows(
          all, d.workers, parse_partition(d.partition == "iid" ? "shuffle" : d.partition), d.seed);
  }
  return data;
}

}  // namespace

TrainingData load_training_data(const DataOptions& o, ProcessGroup& group) {
  TrainingData out;
  DataOptions d = o;
  if (!d.dataset.empty()) {
    if (!d.paths.empty()) throw Error("give either --data or --dataset, not both");
    const std::string dir = kFashionMnistDir;
    if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
      throw Error("Fashion-MNIST is not installed in " + dir +
                  " (Debian: apt-get install dataset-fashion-mnist)");
    d.paths = {dir + "/train-images-idx3-ubyte.gz"};
    d.labels = dir + "/train-labels-idx1-ubyte.gz";
    if (d.test_path.empty()) {
      d.test_path = dir + "/t10k-images-idx3-ubyte.gz";
      d.test_labels = dir + "/t10k-labels-idx1-ubyte.gz";
    }
  }
  if (d.paths.empty()) throw Error("no data: give --data FILE (see lag train --help)");
  out.model.kind = parse_model(d.model);
  out.model.lambda = d.lambda;
  out.model.classes = d.classes;
  out.model.hidden = d.hidden;
  if (d.partition == "label" && !is_multiclass(out.model.kind))
    throw Error("--partition label needs class labels: use --model softmax or mlp");

  LoadOptions load;
  load.label_col = d.label_col;
  load.dim = d.dim;
  load.threads = d.load_threads;
  const bool idx = d.paths.size() == 1 && is_idx(d.paths[0], d.format);
  std::vector<std::string> files;
  if (idx) {
    files = d.paths;
  } else {
    if (!d.labels.empty()) throw Error("--labels is for IDX image files only");
    load.format = parse_file_format(d.format == "idx" ? "auto" : d.format);
    // Rank 0 lists the files (a folder's contents), so that every rank maps workers to files
    // alike even where folders are listed differently on different machines.
    agree(group, [&] {
      if (group.root()) files = expand_data_paths(d.paths);
    });
    MessageWriter list;
    list.put(static_cast<std::uint64_t>(files.size()));
    for (const std::string& f : files) list.put(f);
    std::string bytes = list.bytes();
    broadcast_string(group, bytes);
    MessageReader in(bytes);
    files.resize(in.size());
    for (std::string& f : files) f = in.str();
  }
  // Decided from the names alone, on every process alike, before anything is read.
  const bool split = files.size() == 1;
  if (!split && d.workers != 0 && d.workers != static_cast<int>(files.size()))
    throw Error("--workers " + std::to_string(d.workers) + " does not match the " +
                std::to_string(files.size()) +
                " data files given (each file is one worker's shard; give one file to split it)");
  check_ranks(split ? std::max(d.workers, 1) : static_cast<int>(files.size()), group.size());

  std::vector<std::size_t> rows;
  Dataset<double> data;
  if (split) {
    // Rank 0 reads and splits; the partitions need every row (a shuffle, the class counts), and
    // a text file's rows cannot be found without reading it through. Then each rank gets its
    // workers' rows, and K and the notices.
    agree(group, [&] {
      if (group.root()) data = load_and_split(d, load, files.front(), idx, out);
    });
    MessageWriter facts;
    facts.put(static_cast<std::uint64_t>(out.model.classes));
    facts.put(static_cast<std::uint64_t>(out.notices.size()));
    for (const std::string& n : out.notices) facts.put(n);
    std::string bytes = facts.bytes();
    broadcast_string(group, bytes);
    MessageReader in(bytes);
    out.model.classes = static_cast<int>(in.u64());
    out.notices.resize(in.size());
    for (std::string& n : out.notices) n = in.str();
    scatter_shards(group, data, &rows);
  } else {
    data = load_shards(files, load, group, &rows);
    if (d.bias) {
      for (auto& s : data.shards) append_bias(s);
      ++data.dim;
    }
    agree(group, [&] {
      if (group.root() && !d.test_path.empty()) out.test = load_test(d, load, data.dim);
    });
    // Labels are checked on the files as read, so that errors name the files' own line numbers.
    const std::string notice = prepare_labels(data, out.model, group);
    if (!notice.empty()) out.notices.push_back(notice);
    agree(group, [&] { prepare_test_labels(out); });
  }
  for (const std::size_t n : rows) out.rows += n;
  out.worker_rows = rows;
  if (d.standardize) {
    // The features, not the bias column appended after them. Every process computes the same
    // statistics (collective) and maps its own workers' rows; rank 0 also the test rows.
    const Standardization s = standardization_of(data, data.dim - (d.bias ? 1 : 0), group);
    const WorkerRange own = own_workers(group, data.workers());
    for (int m = own.first; m < own.end; ++m)
      standardize(data.shards[static_cast<std::size_t>(m)], s);
    if (out.test) standardize(*out.test, s);
    out.standardization = s;
  }
  out.train = std::move(data);
  return out;
}

}  // namespace lag::cli
