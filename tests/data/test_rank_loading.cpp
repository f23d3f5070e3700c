// Rank-local loading and the constants over several ranks, with threads playing the ranks of an
// MPI job (thread_ranks.hpp): a rank opens only its own workers' files (seen through the
// loaders' file-open hook) and holds only their rows, the ranks agree on dimension, labels and K,
// a bad file is reported by the rank that reads it, and the smoothness constants, the curvature
// estimate and L* have the bits of one process. End to end under mpirun: tests/mpi/test_mpi.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "../temp_dir_test.hpp"
#include "../test_helpers.hpp"
#include "../thread_ranks.hpp"
#include "cli/data_options.hpp"
#include "lag/dataset.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"
#include "lag/optimum.hpp"
#include "lag/process_group.hpp"
#include "lag/smoothness.hpp"
#include "lag/thread_pool.hpp"
#include "model/curvature.hpp"
#include "model/loss_kernels.hpp"
#include "mpi/worker_blocks.hpp"

namespace {

using lag::Dataset;
using lag::ModelKind;
using lag::ModelSpec;
using lag::ProcessGroup;
using lag::Shard;
using lag::test::message_of;
using lag::test::ThreadRanks;

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  // memcmp must not be given the null data() of an empty vector, even for 0 bytes.
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The global worker indices of rank r's block, from the MPI clusters' own rule.
lag::mpi::WorkerBlock block(int workers, int ranks, int r) {
  return lag::mpi::worker_block(workers, ranks, r);
}

// ---- ProcessGroup helpers ----------------------------------------------------

// Pieces whose sum depends on the order of the additions: 6 + 1e16 + 1 - 1e16 is 8 in worker
// order (1e16 + 7 rounds to 1e16 + 8), but 6 + (1e16 + 1 - 1e16) = 6 when a block is summed first.
std::vector<double> piece_of(int m, std::size_t n) {
  static const double base[] = {1, 1, 1, 3, 1e16, 1, -1e16};
  std::vector<double> p(n);
  for (std::size_t j = 0; j < n; ++j) p[j] = base[m] * static_cast<double>(1 + j);
  return p;
}

TEST(OrderedSumAcrossRanks, HasTheBitsOfTheSumInWorkerOrder) {
  const int M = 7;
  const std::size_t n = 5;
  std::vector<double> reference(n, 0.0), by_blocks(n, 0.0);
  for (int m = 0; m < M; ++m) {
    const auto p = piece_of(m, n);
    for (std::size_t j = 0; j < n; ++j) reference[j] += p[j];
  }
  // The pieces are chosen so that summing each rank's block first would change the bits.
  for (int r = 0; r < 2; ++r) {
    std::vector<double> part(n, 0.0);
    for (int m = block(M, 2, r).first; m < block(M, 2, r).end(); ++m) {
      const auto p = piece_of(m, n);
      for (std::size_t j = 0; j < n; ++j) part[j] += p[j];
    }
    for (std::size_t j = 0; j < n; ++j) by_blocks[j] += part[j];
  }
  ASSERT_FALSE(same_bits(reference, by_blocks));

  for (int R = 1; R <= 4; ++R)
    for (const auto where :
         {lag::OrderedSum::Deliver::Root, lag::OrderedSum::Deliver::Everywhere}) {
      std::vector<std::vector<double>> got(static_cast<std::size_t>(R));
      const auto errors = ThreadRanks::run(R, [&](ProcessGroup& g) {
        lag::OrderedSum sum(g, M, n);
        const lag::WorkerRange own = lag::own_workers(g, M);
        for (int m = own.first; m < own.end; ++m) sum.add(piece_of(m, n).data());
        got[static_cast<std::size_t>(g.rank())] = sum.finish(where);
      });
      for (int r = 0; r < R; ++r) {
        ASSERT_EQ(message_of(errors[static_cast<std::size_t>(r)]), "");
        const auto& total = got[static_cast<std::size_t>(r)];
        if (r == 0 || where == lag::OrderedSum::Deliver::Everywhere)
          EXPECT_TRUE(same_bits(total, reference)) << R << " ranks, rank " << r;
        else
          EXPECT_TRUE(total.empty()) << R << " ranks, rank " << r;
      }
    }
}

TEST(ProcessGroupAcrossRanks, GathersInRankAndWorkerOrder) {
  const int M = 5, R = 3;
  std::vector<std::vector<double>> values(R);
  std::vector<std::vector<std::string>> strings(R);
  const auto errors = ThreadRanks::run(R, [&](ProcessGroup& g) {
    std::vector<double> mine;
    const lag::WorkerRange own = lag::own_workers(g, M);
    for (int m = own.first; m < own.end; ++m) {
      mine.push_back(10.0 * m);
      mine.push_back(10.0 * m + 1);
    }
    values[static_cast<std::size_t>(g.rank())] = lag::gather_workers(g, M, mine, 2);
    strings[static_cast<std::size_t>(g.rank())] =
        lag::all_gather(g, std::string(static_cast<std::size_t>(g.rank()), 'x'));
  });
  const std::vector<double> expected{0, 1, 10, 11, 20, 21, 30, 31, 40, 41};
  for (int r = 0; r < R; ++r) {
    EXPECT_EQ(message_of(errors[static_cast<std::size_t>(r)]), "");
    EXPECT_EQ(values[static_cast<std::size_t>(r)], expected) << "rank " << r;
    EXPECT_EQ(strings[static_cast<std::size_t>(r)], (std::vector<std::string>{"", "x", "xx"}));
  }
}

TEST(ProcessGroupAcrossRanks, AgreeRethrowsOnTheFailingRankAndStopsTheOthers) {
  std::vector<int> peer_of(4, -2);
  const auto errors = ThreadRanks::run(4, [&](ProcessGroup& g) {
    try {
      lag::agree(g, [&] {
        if (g.rank() == 2 || g.rank() == 3) throw lag::InputError("f.svm", 3, 0, "bad");
      });
    } catch (const lag::PeerFailure& e) {
      peer_of[static_cast<std::size_t>(g.rank())] = e.failed_rank();
      throw;
    }
  });
  EXPECT_EQ(peer_of[0], 2);
  EXPECT_EQ(peer_of[1], 2);
  EXPECT_EQ(message_of(errors[2]), "f.svm:3: bad");
  EXPECT_EQ(message_of(errors[3]), "f.svm:3: bad");
}

// ---- the loaders ---------------------------------------------------------------

// Which data files each rank opened (the loaders' hook), by rank; -1: outside the ranks.
class OpenLog {
 public:
  OpenLog() {
    opened().clear();
    previous_ = lag::set_file_open_hook(&record);
  }
  ~OpenLog() { lag::set_file_open_hook(previous_); }
  std::vector<std::string> of(int rank) const {
    const std::lock_guard<std::mutex> lock(mutex());
    return opened()[rank];
  }
  bool empty() const {
    const std::lock_guard<std::mutex> lock(mutex());
    return opened().empty();
  }
  void clear() {
    const std::lock_guard<std::mutex> lock(mutex());
    opened().clear();
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<int, std::vector<std::string>>& opened() {
    static std::map<int, std::vector<std::string>> files;
    return files;
  }
  static void record(const std::string& path) {
    const std::lock_guard<std::mutex> lock(mutex());
    opened()[ThreadRanks::current_rank()].push_back(path);
  }
  lag::FileOpenHook previous_ = nullptr;
};

class RankLoading : public lag::test::TempDirTest {
 protected:
  // One file per worker, of different widths (the widest, 7, in the middle).
  std::vector<std::string> five_files() {
    return {write("w1.svm", "1 1:0.5 2:0.25\n-1 2:1.5\n"),
            write("w2.svm", "-1 1:2 3:1\n1 3:0.125\n1 1:1\n"), write("w3.svm", "1 7:0.5\n"),
            write("w4.svm", "-1 1:1 2:2\n1 4:0.5\n"), write("w5.svm", "1 5:3\n-1 1:1\n")};
  }

  // Each rank's own shards have the reference's bits; the others are empty but named.
  static void expect_held(const Dataset<double>& got, const Dataset<double>& ref, int R, int r) {
    ASSERT_EQ(got.workers(), ref.workers());
    EXPECT_EQ(got.dim, ref.dim);
    const auto b = block(ref.workers(), R, r);
    for (int m = 0; m < ref.workers(); ++m) {
      const Shard<double>& s = got.shards[static_cast<std::size_t>(m)];
      const Shard<double>& e = ref.shards[static_cast<std::size_t>(m)];
      const std::string where =
          std::to_string(R) + " ranks, rank " + std::to_string(r) + ", worker " + std::to_string(m);
      EXPECT_EQ(s.source, e.source) << where;
      EXPECT_EQ(s.dim, e.dim) << where;
      if (m >= b.first && m < b.end()) {
        EXPECT_EQ(s.rows, e.rows) << where;
        EXPECT_TRUE(same_bits(s.x, e.x)) << where;
        EXPECT_TRUE(same_bits(s.y, e.y)) << where;
        EXPECT_EQ(s.labels.first_zero, e.labels.first_zero) << where;
        EXPECT_EQ(s.labels.first_minus_one, e.labels.first_minus_one) << where;
      } else {
        EXPECT_EQ(s.rows, 0u) << where;
        EXPECT_TRUE(s.x.empty() && s.y.empty()) << where;
      }
    }
  }
};

TEST_F(RankLoading, EachRankOpensOnlyItsOwnWorkersFilesAndHoldsOnlyTheirRows) {
  const auto paths = five_files();
  const Dataset<double> ref = lag::load_shards(paths, {});
  ASSERT_EQ(ref.dim, 7u);
  OpenLog log;
  for (int R = 1; R <= 5; ++R) {
    log.clear();
    std::vector<Dataset<double>> got(static_cast<std::size_t>(R));
    std::vector<std::vector<std::size_t>> rows(static_cast<std::size_t>(R));
    const auto errors = ThreadRanks::run(R, [&](ProcessGroup& g) {
      const auto r = static_cast<std::size_t>(g.rank());
      // One parsing thread per rank: the log knows a rank by its thread.
      lag::LoadOptions one_thread;
      one_thread.threads = 1;
      got[r] = lag::load_shards(paths, one_thread, g, &rows[r]);
    });
    for (int r = 0; r < R; ++r) {
      const auto at = static_cast<std::size_t>(r);
      ASSERT_EQ(message_of(errors[at]), "");
      const auto b = block(5, R, r);
      EXPECT_EQ(log.of(r),
                std::vector<std::string>(paths.begin() + b.first, paths.begin() + b.end()))
          << R << " ranks, rank " << r;
      expect_held(got[at], ref, R, r);
      EXPECT_EQ(rows[at], (std::vector<std::size_t>{2, 3, 1, 2, 2}));
    }
  }
}

TEST_F(RankLoading, MalformedFileIsReportedByTheRankThatReadsItAndStopsTheOthers) {
  auto paths = five_files();
  paths[3] = write("w4.svm", "-1 1:1 2:2\n1 4:x\n");
  std::string expected;
  try {
    lag::load_shards(paths, {});
  } catch (const lag::InputError& e) {
    expected = e.what();
  }
  ASSERT_EQ(expected.rfind(paths[3] + ":2:", 0), 0u) << expected;
  OpenLog log;
  for (const int R : {2, 3}) {  // worker 3 sits on rank 1 in both
    log.clear();
    const auto errors =
        ThreadRanks::run(R, [&](ProcessGroup& g) { lag::load_shards(paths, {}, g); });
    EXPECT_EQ(message_of(errors[1]), expected);
    for (int r = 0; r < R; ++r) {
      if (r == 1) continue;
      try {
        std::rethrow_exception(errors[static_cast<std::size_t>(r)]);
      } catch (const lag::PeerFailure& e) {
        EXPECT_EQ(e.failed_rank(), 1);
      } catch (...) {
        ADD_FAILURE() << "rank " << r << ": " << message_of(errors[static_cast<std::size_t>(r)]);
      }
      for (const auto& p : log.of(r)) EXPECT_NE(p, paths[3]) << "rank " << r;
    }
  }
}

TEST_F(RankLoading, ConflictBetweenFilesOfDifferentRanksIsTheSameErrorOnEveryRank) {
  const std::vector<std::string> paths{write("a.csv", "1,0.5,2\n0,1,1\n"),
                                       write("b.csv", "1,3,4\n"), write("c.csv", "1,0.5,2,7\n")};
  std::string expected;
  try {
    lag::load_shards(paths, {});
  } catch (const lag::InputError& e) {
    expected = e.what();
  }
  ASSERT_NE(expected.find("all shards need the same dimension"), std::string::npos) << expected;
  const auto errors = ThreadRanks::run(3, [&](ProcessGroup& g) { lag::load_shards(paths, {}, g); });
  for (const auto& e : errors) EXPECT_EQ(message_of(e), expected);
}

// Labels: rank 0 holds w1 and w2, rank 1 holds w3 (3 files on 2 ranks).
struct LabelCase {
  std::vector<std::string> contents;
  ModelSpec model;
};

class RankLabels : public RankLoading {
 protected:
  // Every rank's notice, K, error and own labels against the single-process run.
  void expect_like_one_process(const LabelCase& c, int failing_rank = -1) {
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < c.contents.size(); ++i)
      paths.push_back(write("l" + std::to_string(i) + ".svm", c.contents[i]));
    Dataset<double> ref = lag::load_shards(paths, {});
    ModelSpec ref_model = c.model;
    std::string ref_notice, ref_error;
    try {
      ref_notice = lag::prepare_labels(ref, ref_model);
    } catch (const lag::Error& e) {
      ref_error = e.what();
    }
    const int R = 2;
    std::vector<Dataset<double>> got(R);
    std::vector<ModelSpec> models(R, c.model);
    std::vector<std::string> notices(R);
    const auto errors = ThreadRanks::run(R, [&](ProcessGroup& g) {
      const auto r = static_cast<std::size_t>(g.rank());
      got[r] = lag::load_shards(paths, {}, g);
      notices[r] = lag::prepare_labels(got[r], models[r], g);
    });
    for (int r = 0; r < R; ++r) {
      const auto at = static_cast<std::size_t>(r);
      if (ref_error.empty()) {
        EXPECT_EQ(message_of(errors[at]), "") << "rank " << r;
        EXPECT_EQ(notices[at], ref_notice) << "rank " << r;
        EXPECT_EQ(models[at].classes, ref_model.classes) << "rank " << r;
        expect_held(got[at], ref, R, r);
      } else if (failing_rank < 0 || failing_rank == r) {
        EXPECT_EQ(message_of(errors[at]), ref_error) << "rank " << r;
      } else {
        EXPECT_EQ(message_of(errors[at]), "rank " + std::to_string(failing_rank) + " failed")
            << "rank " << r;
      }
    }
  }
};

TEST_F(RankLabels, ZeroOneLabelsAreMappedOnEveryRankWhenOnlyOneRankHasZeros) {
  expect_like_one_process({{"1 1:1\n1 1:2\n", "1 1:3\n", "0 1:1\n1 1:2\n"}, {ModelKind::Logistic}});
}

TEST_F(RankLabels, ZeroOnOneRankAndMinusOneOnAnotherIsOneProcesssError) {
  expect_like_one_process(
      {{"1 1:1\n0 1:2\n", "1 1:3\n", "1 1:1\n-1 1:2\n"}, {ModelKind::Logistic}});
}

TEST_F(RankLabels, BadLogisticLabelIsReportedByItsRank) {
  expect_like_one_process({{"1 1:1\n", "1 1:3\n", "1 1:1\n2 1:2\n"}, {ModelKind::Logistic}}, 1);
}

TEST_F(RankLabels, ClassCountIsTheLargestLabelOverEveryRank) {
  expect_like_one_process({{"0 1:1\n1 1:2\n", "1 1:3\n", "3 1:1\n0 1:2\n"}, {ModelKind::Softmax}});
}

TEST_F(RankLabels, BadClassLabelIsReportedByItsRank) {
  expect_like_one_process({{"0 1:1\n1 1:2\n", "1 1:3\n", "1 1:1\n2.5 1:2\n"}, {ModelKind::Mlp}}, 1);
}

// ---- the command line's loading ---------------------------------------------------

using lag::cli::DataOptions;
using lag::cli::TrainingData;

class RankTrainingData : public RankLoading {
 protected:
  // Loads `o` alone and on R ranks; each rank must hold its workers' rows of the single-process
  // result and agree on the rest. Returns the files each rank opened.
  std::vector<std::vector<std::string>> expect_like_one_process(DataOptions o, int R) {
    o.load_threads = 1;  // the log knows a rank by its thread
    const TrainingData ref = lag::cli::load_training_data(o);
    OpenLog log;
    std::vector<TrainingData> got(static_cast<std::size_t>(R));
    const auto errors = ThreadRanks::run(R, [&](ProcessGroup& g) {
      got[static_cast<std::size_t>(g.rank())] = lag::cli::load_training_data(o, g);
    });
    std::vector<std::vector<std::string>> opened;
    for (int r = 0; r < R; ++r) {
      const auto at = static_cast<std::size_t>(r);
      EXPECT_EQ(message_of(errors[at]), "") << "rank " << r;
      const TrainingData& t = got[at];
      expect_held(t.train, ref.train, R, r);
      EXPECT_EQ(t.rows, ref.rows);
      EXPECT_EQ(t.model.classes, ref.model.classes);
      EXPECT_EQ(t.notices, ref.notices);
      EXPECT_EQ(t.test.has_value(), ref.test.has_value() && r == 0) << "rank " << r;
      if (t.test) {
        EXPECT_TRUE(same_bits(t.test->x, ref.test->x));
        EXPECT_TRUE(same_bits(t.test->y, ref.test->y));
      }
      opened.push_back(log.of(r));
    }
    return opened;
  }
};

TEST_F(RankTrainingData, OneFileSplitOverTheWorkersIsReadByRankZeroAndScattered) {
  std::string rows;
  for (int i = 0; i < 23; ++i)
    rows +=
        std::to_string(i % 3) + " 1:" + std::to_string(0.5 * i) + " 3:" + std::to_string(i) + "\n";
  DataOptions o;
  o.paths = {write("all.svm", rows)};
  o.workers = 5;
  o.partition = "shuffle";
  o.seed = 3;
  for (const int R : {1, 2, 3}) {
    const auto opened = expect_like_one_process(o, R);
    EXPECT_EQ(opened[0], o.paths);
    for (int r = 1; r < R; ++r) EXPECT_TRUE(opened[static_cast<std::size_t>(r)].empty());
  }
  // By label (K from rank 0), with a bias column and held-out rows.
  o.model = "softmax";
  o.partition = "label";
  o.workers = 3;
  o.bias = true;
  o.test_path = write("test.svm", "2 1:1\n0 3:2\n");
  const auto opened = expect_like_one_process(o, 2);
  EXPECT_EQ(opened[0], (std::vector<std::string>{o.paths[0], o.test_path}));
  EXPECT_TRUE(opened[1].empty());
}

TEST_F(RankTrainingData, PerWorkerFilesWithBiasAndTestRowsOpenOnlyOwnFilesTestOnRankZero) {
  DataOptions o;
  o.paths = five_files();
  o.paths.pop_back();  // 4 workers: 2 per rank
  o.model = "logistic";
  o.bias = true;
  o.test_path = write("test.svm", "1 1:1\n-1 2:0.5\n");
  const auto opened = expect_like_one_process(o, 2);
  EXPECT_EQ(opened[0], (std::vector<std::string>{o.paths[0], o.paths[1], o.test_path}));
  EXPECT_EQ(opened[1], (std::vector<std::string>{o.paths[2], o.paths[3]}));
}

TEST_F(RankTrainingData, MoreRanksThanWorkersIsAnErrorBeforeAnyFileIsOpened) {
  OpenLog log;
  DataOptions per_worker;
  per_worker.paths = five_files();
  per_worker.paths.resize(3);
  DataOptions split;
  split.paths = {per_worker.paths[0]};
  split.workers = 2;
  const std::vector<std::tuple<DataOptions, int, std::string>> cases{
      {per_worker, 4, "3 workers for 4 MPI ranks"}, {split, 3, "2 workers for 3 MPI ranks"}};
  for (const auto& c : cases) {
    const DataOptions& o = std::get<0>(c);
    const auto errors = ThreadRanks::run(
        std::get<1>(c), [&](ProcessGroup& g) { lag::cli::load_training_data(o, g); });
    for (const auto& e : errors)
      EXPECT_NE(message_of(e).find(std::get<2>(c)), std::string::npos) << message_of(e);
  }
  EXPECT_TRUE(log.empty());
}

// ---- the constants ----------------------------------------------------------------

// `data` as rank r of `group` holds it: the other ranks' workers' shards emptied.
Dataset<double> held_by(const Dataset<double>& data, const ProcessGroup& group) {
  Dataset<double> out = data;
  const lag::WorkerRange own = lag::own_workers(group, data.workers());
  for (int m = 0; m < data.workers(); ++m)
    if (!own.holds(m)) {
      Shard<double>& s = out.shards[static_cast<std::size_t>(m)];
      s.rows = 0;
      s.x.clear();
      s.y.clear();
    }
  return out;
}

// Labels 0..2 for the multi-class models.
Dataset<double> with_classes(Dataset<double> d) {
  for (auto& s : d.shards)
    for (std::size_t i = 0; i < s.rows; ++i) s.y[i] = static_cast<double>((i * 7 + s.rows) % 3);
  return d;
}

struct Constants {
  lag::Smoothness smooth;
  double optimum = 0;
  std::vector<double> theta;
};

void expect_same_bits(const Constants& got, const Constants& ref, const std::string& where) {
  EXPECT_TRUE(same_bits(got.smooth.worker, ref.smooth.worker)) << where;
  EXPECT_TRUE(same_bits(got.smooth.global, ref.smooth.global)) << where;
  EXPECT_TRUE(same_bits(got.optimum, ref.optimum)) << where;
  EXPECT_TRUE(same_bits(got.theta, ref.theta)) << where;
}

// Smoothness constants (or the MLP's estimate) and, when asked, L* and its theta.
Constants constants_of(const Dataset<double>& data, const ModelSpec& model, bool optimum,
                       ProcessGroup& g) {
  Constants c;
  lag::ThreadPool pool(2);
  c.smooth =
      lag::model_smoothness(data, model, lag::initial_parameters(model, data.dim, 5), pool, g);
  if (optimum) {
    const lag::Optimum opt = lag::solve_optimum(data, model, g);
    c.optimum = opt.value;
    c.theta = opt.theta;
  }
  return c;
}

TEST(ConstantsAcrossRanks, HaveTheBitsOfOneProcessForEveryModel) {
  lag::cpu::use_single_threaded_blas();  // the same BLAS path in every thread and alone
  const Dataset<double> linear = lag::test::gaussian_data(5, 40, 6, false, 0.1, 11);
  const Dataset<double> logistic = lag::test::gaussian_data(5, 40, 6, true, 0, 12);
  const Dataset<double> classes = with_classes(linear);
  // Above the Gram limit (4096 features) the power iteration passes over the rows instead.
  const Dataset<double> wide = lag::test::gaussian_data(3, 2, 4100, false, 0.1, 13);
  struct Case {
    const Dataset<double>* data;
    ModelSpec model;
    bool optimum;  // L* too (not for the wide case: its X^T X is singular, and large)
  };
  const std::vector<Case> cases{{&linear, {ModelKind::LeastSquares}, true},
                                {&logistic, {ModelKind::Logistic, 0.01}, true},
                                {&classes, {ModelKind::Softmax, 0.01, 3}, false},
                                {&classes, {ModelKind::Mlp, 0.01, 3, 4}, false},
                                {&wide, {ModelKind::LeastSquares}, false}};
  for (const Case& c : cases) {
    const Dataset<double>* data = c.data;
    const ModelSpec& model = c.model;
    const Constants ref = constants_of(*data, model, c.optimum, lag::single_process());
    for (int R = 1; R <= std::min(4, data->workers()); ++R) {
      std::vector<Constants> got(static_cast<std::size_t>(R));
      const auto errors = ThreadRanks::run(R, [&](ProcessGroup& g) {
        got[static_cast<std::size_t>(g.rank())] =
            constants_of(held_by(*data, g), model, c.optimum, g);
      });
      for (int r = 0; r < R; ++r) {
        const std::string where = std::string(lag::model_name(model.kind)) + ", d " +
                                  std::to_string(data->dim) + ", " + std::to_string(R) +
                                  " ranks, rank " + std::to_string(r);
        ASSERT_EQ(message_of(errors[static_cast<std::size_t>(r)]), "") << where;
        expect_same_bits(got[static_cast<std::size_t>(r)], ref, where);
      }
    }
  }
}

}  // namespace
