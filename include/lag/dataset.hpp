// Shards and data sets: what the loaders produce and the engine consumes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lag/huge_pages.hpp"

namespace lag {

class ProcessGroup;  // lag/process_group.hpp

// Where each kind of label first appears in a file (1-based line numbers, 0 = never). Kept so
// that label checks made after loading (they depend on the model) can still name file and line.
struct LabelCensus {
  std::size_t first_zero = 0;
  std::size_t first_minus_one = 0;
  std::size_t first_plus_one = 0;
  std::size_t first_other = 0;  // first label outside {-1, 0, +1}
  double other_value = 0.0;
};

// One worker's data: `rows` rows of `dim` features, densified, row-major.
template <class T>
struct Shard {
  std::string source;  // file the rows came from (for messages)
  std::size_t rows = 0;
  std::size_t dim = 0;
  std::vector<T> x;  // rows * dim, row-major
  std::vector<T> y;  // rows
  LabelCensus labels;

  const T* row(std::size_t i) const { return x.data() + i * dim; }
};

// M shards of a common dimension; shard m belongs to worker m.
//
// Spread over processes (the ranks of an MPI job, lag/process_group.hpp), each process holds the
// rows of its own workers only: it still has all M shards, but those of other processes' workers
// are EMPTY: rows 0, no x or y, an empty label census; their `source` and `dim` are set. Code that
// runs on one process reads only its own workers' shards (own_workers); total_rows() counts the
// rows held here.
template <class T>
struct Dataset {
  std::size_t dim = 0;
  std::vector<Shard<T>> shards;

  int workers() const { return static_cast<int>(shards.size()); }
  std::size_t total_rows() const {
    std::size_t n = 0;
    for (const auto& s : shards) n += s.rows;
    return n;
  }
};

// Same data in another precision (fp64 -> fp32 for single-precision runs).
template <class To, class From>
Dataset<To> convert_precision(const Dataset<From>& in) {
  Dataset<To> out;
  out.dim = in.dim;
  out.shards.reserve(in.shards.size());
  for (const auto& s : in.shards) {
    Shard<To> t;
    t.source = s.source;
    t.rows = s.rows;
    t.dim = s.dim;
    t.labels = s.labels;
    reserve_huge(t.x, s.x.size());
    t.x.assign(s.x.begin(), s.x.end());
    t.y.assign(s.y.begin(), s.y.end());
    out.shards.push_back(std::move(t));
  }
  return out;
}

// ---- loading ---------------------------------------------------------------

enum class FileFormat { Auto, Libsvm, Csv };

// "auto", "libsvm" (also "svmlight"), "csv"; throws lag::Error otherwise.
FileFormat parse_file_format(const std::string& name);

struct LoadOptions {
  FileFormat format = FileFormat::Auto;  // Auto: ".csv" -> CSV, anything else -> LIBSVM
  // CSV: 1-based column holding the label (default: the first).
  std::size_t label_col = 1;
  // Number of features. 0: inferred (CSV: column count - 1; LIBSVM: largest index over all
  // files). When set, a LIBSVM index above it is an error.
  std::size_t dim = 0;
  // Parsing threads (0: one per hardware thread): load_shards parses that many files at once,
  // and a LIBSVM file with dense rows is parsed by the threads left to it (one large file: all)
  // in batches of lines. Errors are reported in file and line order and the rows are the same,
  // so the result does not depend on the count.
  int threads = 0;
};

// Expand the --data arguments: a directory stands for its regular files with a data extension
// (.svm .libsvm .svmlight .txt .csv .data), sorted by name; files are kept as given.
// Throws lag::Error for a missing path or an empty directory.
std::vector<std::string> expand_data_paths(const std::vector<std::string>& args);

// Read one file. CSV: header detected (first line with a non-numeric field) and skipped;
// LIBSVM: 1-based indices, `qid:` ignored, `#` starts a comment. Throws lag::InputError naming
// file, line and column for: unreadable file, ragged rows, non-numeric fields, NaN/Inf, index 0
// or out of range, indices not increasing, a file with no rows.
Shard<double> load_file(const std::string& path, const LoadOptions& options);

// Load each file as one shard and reconcile the dimension: all shards are densified to a common
// `dim`. Throws lag::InputError on a dimension mismatch between CSV shards (or a LIBSVM shard
// wider than a CSV one), naming both files.
Dataset<double> load_shards(const std::vector<std::string>& paths, const LoadOptions& options);

// load_shards with the workers (one file each) spread over the processes of `group`
// (collective): this process opens only its own workers' files. The processes then agree on the
// dimension, reconciled as above from what each learned from its files (rows, columns, widest
// index and where it is), so that this process's shards are exactly load_shards' and the others
// are empty (see Dataset). `rows`, when given, receives every worker's row count. A file's own
// errors are thrown by the process that reads it (the others throw PeerFailure), a conflict
// between files by every process alike; the check of the dense size against the machine's memory
// counts the rows held here. With single_process(), exactly load_shards(paths, options).
Dataset<double> load_shards(const std::vector<std::string>& paths, const LoadOptions& options,
                            ProcessGroup& group, std::vector<std::size_t>* rows = nullptr);

// Collective: `data` complete on rank 0 (every shard; ignored elsewhere) becomes, on every process,
// its own workers' shards with the others empty (see Dataset); rank 0 frees the shards it sends.
// Every process gets the dimension, the sources and the label censuses; `rows`, when given, every
// worker's row count. Alone, nothing moves.
void scatter_shards(ProcessGroup& group, Dataset<double>& data,
                    std::vector<std::size_t>* rows = nullptr);

// FOR TESTS: called with the path of every data file the loaders read (LIBSVM, CSV, IDX, test
// rows), just before it is opened, on the thread that opens it; null (the default) for none.
// Returns the hook it replaces.
using FileOpenHook = void (*)(const std::string& path);
FileOpenHook set_file_open_hook(FileOpenHook hook);

// ---- partitioning ----------------------------------------------------------

enum class Partition { Contiguous, Shuffle, Label };
Partition parse_partition(const std::string& name);  // "contiguous" | "shuffle" | "label"

// Split one shard's rows over `workers` shards: contiguous blocks whose sizes differ by at most
// one (the first rows % workers get one more), after a seeded shuffle for Partition::Shuffle.
// Throws lag::Error when there are fewer rows than workers (a shard would be empty), and for
// Partition::Label, which needs the class counts: call partition_by_label for it.
Dataset<double> partition_rows(const Shard<double>& all, int workers, Partition kind,
                               std::uint64_t seed);

// Non-IID split: worker m (0-based) holds the classes (m*k + j) mod K for j = 0..k-1
// (k = classes_per_worker, K = num_classes); each class's rows are shuffled (seeded) and split
// in contiguous near-equal parts over the workers holding that class, in worker order (the
// first rows % holders parts get one more). Within a worker shard rows keep their order in
// `all`. Labels in all.y must be class indices 0..K-1. Sources read
// "FILE[label part m of M: classes a,b]" (m 1-based). Throws lag::Error when k < 1 or k > K,
// when workers * k < K (some class would be held by nobody), when a label is not a class
// index, or when some worker would get no rows.
Dataset<double> partition_by_label(const Shard<double>& all, int workers, int classes_per_worker,
                                   int num_classes, std::uint64_t seed);

}  // namespace lag
