// The `lag` program end to end: gen -> train -> summary.json, config files, --help, and the
// one-line errors for bad input (with nothing written to the output folder).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "../run_command.hpp"
#include "../run_outputs.hpp"

namespace fs = std::filesystem;

namespace {

using Result = lag::test::CommandResult;
Result lag(const std::string& args) { return lag::test::run_lag(args); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lag-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
  }
  static nlohmann::json read_json(const std::string& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }
  fs::path dir_;
};

TEST_F(Cli, GenThenTrainWritesSummaryMetricsAndWeights) {
  Result g = lag("gen paper-linear --out " + path("data"));
  ASSERT_EQ(g.status, 0) << g.output;
  Result t = lag("train --data " + path("data") +
                 " --algo gd,lag-wk,lag-ps,cyc-iag,num-iag --target-gap 1e-8 --quiet --out " +
                 path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  const auto s = read_json(path("out/summary.json"));
  ASSERT_EQ(s["runs"].size(), 5u);
  std::map<std::string, nlohmann::json> runs;
  for (const auto& r : s["runs"]) {
    for (const char* key :
         {"algo", "model", "workers", "dim", "precision", "iterations", "uploads", "bytes_up",
          "bytes_down", "gd_equivalent_bytes_up", "bytes_saved_fraction", "final_loss",
          "objective_error", "stop_reason", "wall_seconds"})
      EXPECT_TRUE(r.contains(key)) << key;
    EXPECT_EQ(r["workers"], 9);
    EXPECT_EQ(r["dim"], 50);
    EXPECT_EQ(r["model"], "linear");
    EXPECT_EQ(r["precision"], "fp64");
    EXPECT_EQ(r["stop_reason"], "target_gap") << r["algo"];
    EXPECT_LE(r["objective_error"].get<double>(), 1e-8);
    EXPECT_EQ(r["bytes_up"].get<std::uint64_t>(), r["uploads"].get<std::uint64_t>() * 50 * 8);
    EXPECT_EQ(r["gd_equivalent_bytes_up"].get<std::uint64_t>(),
              r["iterations"].get<std::uint64_t>() * 9 * 50 * 8);
    // Bytes saved against GD: per iteration (one pass over the data) and as a fraction.
    const double up = r["bytes_up"].get<double>(), iters = r["iterations"].get<double>();
    const double gd = iters * 9 * 50 * 8;
    EXPECT_DOUBLE_EQ(r["bytes_saved_per_iteration"].get<double>(), (gd - up) / iters);
    EXPECT_DOUBLE_EQ(r["bytes_saved_fraction"].get<double>(), 1 - up / gd);
    runs[r["algo"].get<std::string>()] = r;
    EXPECT_TRUE(fs::exists(path("out/weights-" + r["algo"].get<std::string>() + ".txt")));
  }
  EXPECT_EQ(runs["gd"]["uploads"].get<std::uint64_t>(),
            9 * runs["gd"]["iterations"].get<std::uint64_t>());
  EXPECT_LT(runs["lag-wk"]["uploads"].get<std::uint64_t>() * 5,
            runs["gd"]["uploads"].get<std::uint64_t>());
  EXPECT_LT(runs["lag-ps"]["uploads"].get<std::uint64_t>() * 3,
            runs["gd"]["uploads"].get<std::uint64_t>());

  // metrics.csv: a header and one row per iteration (plus row 0) of every run.
  std::ifstream m(path("out/metrics.csv"));
  std::string line;
  std::getline(m, line);
  EXPECT_EQ(line.rfind("algo,iter,loss,objective_error,grad_norm,uploads,bytes_up", 0), 0u);
  std::size_t rows = 0;
  while (std::getline(m, line)) ++rows;
  std::size_t expected = 0;
  for (const auto& r : s["runs"]) expected += r["iterations"].get<std::size_t>() + 1;
  EXPECT_EQ(rows, expected);
}

// --xi and --depth reach the rules: xi = 0 makes tau = 0, so every LAG-WK worker whose gradient
// changed uploads and LAG-PS asks every worker, every iteration; a huge xi leaves only the full
// first round. The summary echoes what was used.
TEST_F(Cli, XiAndDepthReachTheTriggerRules) {
  ASSERT_EQ(lag("gen paper-linear --out " + path("data")).status, 0);  // 9 workers
  auto run = [&](const std::string& algo, const std::string& flags, const std::string& out) {
    const Result t = lag("train --data " + path("data") + " --algo " + algo +
                         " --max-iters 20 --quiet " + flags + " --out " + path(out));
    EXPECT_EQ(t.status, 0) << t.output;
    return read_json(path(out + "/summary.json"))["runs"][0];
  };
  const auto wk_all = run("lag-wk", "--xi 0 --depth 3", "wk0");
  EXPECT_EQ(wk_all["xi"], 0.0);
  EXPECT_EQ(wk_all["depth"], 3);
  EXPECT_EQ(wk_all["uploads"], 9 * 20);
  const auto ps_all = run("lag-ps", "--xi 0", "ps0");
  EXPECT_EQ(ps_all["uploads"], 9 * 20);
  EXPECT_EQ(ps_all["computes"], 9 * 20);
  EXPECT_EQ(run("lag-wk", "--xi 1e300", "wkbig")["uploads"], 9);
  EXPECT_EQ(run("lag-ps", "--xi 1e300", "psbig")["uploads"], 9);
  // D changes the decisions (tau sums a different window).
  const auto d1 = run("lag-wk", "--depth 1", "d1");
  const auto d10 = run("lag-wk", "--depth 10", "d10");
  EXPECT_EQ(d1["depth"], 1);
  EXPECT_EQ(d1["xi"], 1.0);
  EXPECT_NE(d1["uploads"], d10["uploads"]);
}

TEST_F(Cli, ComparisonTableOnStdout) {
  ASSERT_EQ(lag("gen paper-linear --out " + path("data")).status, 0);
  Result t = lag("train --data " + path("data") + " --target-gap 1e-6 --out " + path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("algo"), std::string::npos);
  EXPECT_NE(t.output.find("lag-wk"), std::string::npos);
  EXPECT_NE(t.output.find("target_gap"), std::string::npos);
}

TEST_F(Cli, ConfigFileWithFlagOverride) {
  ASSERT_EQ(lag("gen paper-linear --out " + path("data")).status, 0);
  write("run.toml", "data = [\"" + path("data") + "\"]\nalgo = \"gd,lag-wk\"\nmax-iters = 7\n");
  Result t =
      lag("train --config " + path("run.toml") + " --max-iters 5 --quiet --out " + path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  const auto s = read_json(path("out/summary.json"));
  ASSERT_EQ(s["runs"].size(), 2u);
  EXPECT_EQ(s["runs"][0]["iterations"], 5);
  EXPECT_EQ(s["runs"][0]["stop_reason"], "max_iters");
}

TEST_F(Cli, ConfigFileUnknownKeyIsAnError) {
  write("bad.toml", "algoo = \"gd\"\n");
  Result t = lag("train --config " + path("bad.toml") + " --out " + path("out"));
  EXPECT_NE(t.status, 0);
  EXPECT_NE(t.output.find("algoo"), std::string::npos) << t.output;
  EXPECT_FALSE(fs::exists(path("out")));
}

TEST_F(Cli, MalformedInputNamesFileAndLineAndWritesNothing) {
  write("bad.svm", "1 1:0.5 2:1\n-1 1:0.25 0:2\n");
  Result t = lag("train --data " + path("bad.svm") + " --out " + path("out"));
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.output.find("bad.svm:2:"), std::string::npos) << t.output;
  EXPECT_FALSE(fs::exists(path("out")));
}

TEST_F(Cli, BadLogisticLabelNamesLine) {
  write("labels.csv", "y,a,b\n1,0.5,1\n-1,0.2,0.1\n2,1,1\n");
  Result t = lag("train --data " + path("labels.csv") + " --model logistic --out " + path("out"));
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.output.find("labels.csv:4"), std::string::npos) << t.output;
  EXPECT_FALSE(fs::exists(path("out")));
}

TEST_F(Cli, ZeroOneLabelsAreMappedWithANotice) {
  write("labels.csv", "1,0.5,1\n0,0.2,0.1\n1,1,1\n0,-1,0.3\n");
  Result t = lag("train --data " + path("labels.csv") +
                 " --model logistic --lambda 0.1 --max-iters 3 --quiet --out " + path("out"));
  EXPECT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("mapped"), std::string::npos) << t.output;
}

TEST_F(Cli, SplitOneFileOverWorkers) {
  ASSERT_EQ(lag("gen hetero --workers 1 --rows 90 --dim 5 --out " + path("data")).status, 0);
  Result t = lag("train --data " + path("data/shard-01.svm") +
                 " --workers 4 --partition shuffle --max-iters 10 --quiet --out " + path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  const auto s = read_json(path("out/summary.json"));
  EXPECT_EQ(s["runs"][0]["workers"], 4);
  EXPECT_EQ(s["rows"], 90);
}

TEST_F(Cli, DivergenceExitsWithStatus3) {
  ASSERT_EQ(lag("gen paper-linear --out " + path("data")).status, 0);
  Result t =
      lag("train --data " + path("data") + " --algo gd --alpha 1 --quiet --out " + path("out"));
  EXPECT_EQ(t.status, 3) << t.output;
  EXPECT_NE(t.output.find("diverged"), std::string::npos) << t.output;
  EXPECT_EQ(read_json(path("out/summary.json"))["runs"][0]["stop_reason"], "diverged");
}

TEST_F(Cli, HelpExplainsEveryOption) {
  Result h = lag("train --help");
  EXPECT_EQ(h.status, 0);
  for (const char* opt :
       {"--data",      "--workers",  "--partition",  "--model",      "--lambda",    "--algo",
        "--precision", "--alpha",    "--depth",      "--xi",         "--max-iters", "--target-gap",
        "--optimum",   "--grad-tol", "--time-limit", "--eval-every", "--threads",   "--out",
        "--quiet",     "--config",   "--label-col",  "--format"})
    EXPECT_NE(h.output.find(opt), std::string::npos) << opt;
}

TEST_F(Cli, InfoShowsBuildAndData) {
  ASSERT_EQ(lag("gen paper-linear --out " + path("data")).status, 0);
  Result i = lag("info --data " + path("data"));
  ASSERT_EQ(i.status, 0) << i.output;
  EXPECT_NE(i.output.find("precisions: fp32, fp64"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("CUDA:"), std::string::npos);
  EXPECT_NE(i.output.find("global L"), std::string::npos);
  EXPECT_NE(i.output.find("heterogeneity profile"), std::string::npos);
}

// A raw (uncompressed) IDX file: magic 0 0 type ndims, big-endian dims, then the bytes.
void write_idx(const std::string& path, const std::vector<std::uint32_t>& dims,
               const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  const unsigned char head[4] = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  out.write(reinterpret_cast<const char*>(head), 4);
  for (std::uint32_t d : dims) {
    const unsigned char be[4] = {static_cast<unsigned char>(d >> 24),
                                 static_cast<unsigned char>(d >> 16),
                                 static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)};
    out.write(reinterpret_cast<const char*>(be), 4);
  }
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// n 4x4 "images" of 3 classes: class c lights up row c of the image, plus a little noise.
void write_idx_set(const std::string& images, const std::string& labels, std::uint32_t n,
                   unsigned seed) {
  std::vector<std::uint8_t> pixels, classes;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto c = static_cast<std::uint8_t>((i * 7 + seed) % 3);
    classes.push_back(c);
    for (unsigned p = 0; p < 16; ++p)
      pixels.push_back(
          static_cast<std::uint8_t>((p / 4 == c ? 200 : 0) + (p * 13 + i * 5 + seed) % 40));
  }
  write_idx(images, {n, 4, 4}, pixels);
  write_idx(labels, {n}, classes);
}

TEST_F(Cli, IdxSubsetEndToEnd) {
  write_idx_set(path("train-images.idx"), path("train-labels.idx"), 90, 1);
  write_idx_set(path("test-images.idx"), path("test-labels.idx"), 30, 2);
  Result t =
      lag("train --data " + path("train-images.idx") + " --labels " + path("train-labels.idx") +
          " --test-data " + path("test-images.idx") + " --test-labels " + path("test-labels.idx") +
          " --model softmax --bias --workers 3 --partition label --algo gd,lag-wk,lag-ps"
          " --max-iters 200 --quiet --out " +
          path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  const auto s = read_json(path("out/summary.json"));
  EXPECT_EQ(s["classes"], 3);
  EXPECT_EQ(s["parameters"], 3 * 17);
  EXPECT_EQ(s["test_rows"], 30);
  for (const auto& r : s["runs"]) {
    EXPECT_EQ(r["workers"], 3);
    EXPECT_EQ(r["model"], "softmax");
    EXPECT_GE(r["test_accuracy"].get<double>(), 0.95) << r["algo"];
    EXPECT_GT(r["test_loss"].get<double>(), 0.0);
  }
  std::ifstream m(path("out/metrics.csv"));
  std::string header;
  std::getline(m, header);
  EXPECT_NE(header.find("test_loss,test_accuracy"), std::string::npos) << header;
}

// LASG-WK on minibatches end to end: 300 images of 3 classes split by label over 3 workers, 95%
// or more test accuracy, fewer uploads than SGD's, and a row per epoch.
TEST_F(Cli, LasgWkOnMinibatchesEndToEnd) {
  write_idx_set(path("train-images.idx"), path("train-labels.idx"), 300, 1);
  write_idx_set(path("test-images.idx"), path("test-labels.idx"), 60, 2);
  Result t =
      lag("train --data " + path("train-images.idx") + " --labels " + path("train-labels.idx") +
          " --test-data " + path("test-images.idx") + " --test-labels " + path("test-labels.idx") +
          " --model softmax --bias --standardize --workers 3 --partition label --algo "
          "lasg-wk,sgd --batch-size 10 --max-iters 100 --out " +
          path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("lasg-wk, minibatches of 10 rows, 10 iterations per epoch"),
            std::string::npos)
      << t.output;
  const auto s = read_json(path("out/summary.json"));
  const auto& lasg = s["runs"][0];
  const auto& sgd = s["runs"][1];
  EXPECT_EQ(lasg["algo"], "lasg-wk");
  EXPECT_GE(lasg["test_accuracy"].get<double>(), 0.95);
  EXPECT_EQ(sgd["uploads"], 300);
  EXPECT_LT(lasg["uploads"].get<int>(), 300);
  ASSERT_EQ(lasg["epochs"].size(), 10u);
  std::int64_t saved = 0;
  for (const auto& e : lasg["epochs"]) saved += e["bytes_saved"].get<std::int64_t>();
  EXPECT_EQ(saved, lasg["epochs"][9]["cum_bytes_saved"].get<std::int64_t>());
  std::ifstream m(path("out/metrics.csv"));
  std::string header;
  std::getline(m, header);
  EXPECT_NE(header.find(",senders,epoch"), std::string::npos) << header;
}

TEST_F(Cli, ABatchLargerThanAShardIsAnError) {
  ASSERT_EQ(lag("gen hetero --workers 3 --rows 20 --dim 4 --out " + path("data")).status, 0);
  Result t =
      lag("train --data " + path("data") + " --algo sgd --batch-size 21 --out " + path("out"));
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.output.find("--batch-size 21 is more than worker 0's 20 rows"), std::string::npos)
      << t.output;
}

// ---- test loss and accuracy, recomputed here from the saved weights ----------------------

// CSV rows "label,x1,x2,x3" of 3 overlapping classes; features are multiples of 1/8 (exact in
// text and binary). The last 2 rows repeat one point with two labels, so no model gets every
// row right and the accuracy stays a discriminating number.
std::vector<std::vector<double>> three_classes(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<double>> out;
  for (int i = 0; i < rows; ++i) {
    const int k = static_cast<int>(rng() % 3);
    std::vector<double> r{static_cast<double>(k)};
    for (int j = 0; j < 3; ++j) {
      const double noise = (static_cast<int>(rng() % 25) - 12) / 8.0;  // [-1.5, 1.5]
      r.push_back((j == k ? 1.0 : 0.0) + noise);
    }
    out.push_back(r);
  }
  out.push_back({0, 0.5, 0.5, 0.5});
  out.push_back({1, 0.5, 0.5, 0.5});
  return out;
}

std::string csv(const std::vector<std::vector<double>>& rows) {
  std::string text;
  char buf[32];
  for (const auto& r : rows)
    for (std::size_t j = 0; j < r.size(); ++j) {
      std::snprintf(buf, sizeof buf, "%.17g", r[j]);
      text += buf;
      text += j + 1 < r.size() ? "," : "\n";
    }
  return text;
}

double log_sum_exp(const std::vector<double>& z) {
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double v : z) sum += std::exp(v - top);
  return top + std::log(sum);
}

struct Metrics {
  double loss = 0;  // mean over the rows, data term only (README: summary.json's test_loss)
  std::size_t correct = 0;
};

// The README's models on rows (label, features...) with a constant-1 feature appended (--bias):
// softmax W (K x d, row k = class k); mlp [W1 (h x d) | b1 | W2 (K x h) | b2] with tanh;
// logistic theta (d), labels 0/1 read as -1/+1, right when sign(x.theta) (0 counts as +) matches.
Metrics reference_metrics(const std::string& model, const std::vector<double>& theta,
                          const std::vector<std::vector<double>>& rows, std::size_t classes,
                          std::size_t hidden) {
  Metrics m;
  for (const auto& r : rows) {
    std::vector<double> x(r.begin() + 1, r.end());
    x.push_back(1.0);
    const std::size_t d = x.size();
    const auto label = static_cast<std::size_t>(r[0]);
    if (model == "logistic") {
      double z = 0;
      for (std::size_t j = 0; j < d; ++j) z += theta[j] * x[j];
      const double y = label == 1 ? 1.0 : -1.0;
      m.loss += std::log1p(std::exp(-y * z));
      m.correct += (z >= 0) == (y > 0) ? 1 : 0;
      continue;
    }
    std::vector<double> logits(classes, 0.0);
    if (model == "softmax") {
      for (std::size_t c = 0; c < classes; ++c)
        for (std::size_t j = 0; j < d; ++j) logits[c] += theta[c * d + j] * x[j];
    } else {
      const double *w1 = theta.data(), *b1 = w1 + hidden * d, *w2 = b1 + hidden,
                   *b2 = w2 + classes * hidden;
      std::vector<double> a(hidden);
      for (std::size_t u = 0; u < hidden; ++u) {
        double pre = b1[u];
        for (std::size_t j = 0; j < d; ++j) pre += w1[u * d + j] * x[j];
        a[u] = std::tanh(pre);
      }
      for (std::size_t c = 0; c < classes; ++c) {
        logits[c] = b2[c];
        for (std::size_t u = 0; u < hidden; ++u) logits[c] += w2[c * hidden + u] * a[u];
      }
    }
    m.loss += log_sum_exp(logits) - logits[label];
    // The first largest logit is the prediction (ties do not occur with these weights).
    const auto best =
        static_cast<std::size_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    m.correct += best == label ? 1 : 0;
  }
  m.loss /= static_cast<double>(rows.size());
  return m;
}

// summary.json's test_loss and test_accuracy are those of the weights written beside it: the
// final iterate, mean loss per test row, fraction right. Recomputed here from weights-ALGO.txt
// with code of the test's own. --eval-every 7 with 31 iterations puts the final iterate off the
// evaluation grid, so metrics of an earlier iterate would not match; 52 test rows would show a
// sum instead of a mean, a missing bias column or a class count off by one.
TEST_F(Cli, TestLossAndAccuracyMatchTheSavedWeights) {
  const auto train_rows = three_classes(150, 3), test_rows = three_classes(50, 4);
  write("train.csv", csv(train_rows));
  write("test.csv", csv(test_rows));
  auto binary = [](std::vector<std::vector<double>> rows) {  // class 0 against the others
    for (auto& r : rows) r[0] = r[0] == 0 ? 0 : 1;
    return rows;
  };
  const auto test01_rows = binary(test_rows);
  write("train01.csv", csv(binary(train_rows)));
  write("test01.csv", csv(test01_rows));
  struct Case {
    std::string model, flags, train, test;
    const std::vector<std::vector<double>>& test_rows;
  };
  const Case cases[] = {
      {"softmax", "", "train.csv", "test.csv", test_rows},
      {"softmax", "--precision fp32", "train.csv", "test.csv", test_rows},
      {"mlp", "--hidden 4", "train.csv", "test.csv", test_rows},
      {"logistic", "--lambda 0.01", "train01.csv", "test01.csv", test01_rows},
      {"softmax", "--standardize", "train.csv", "test.csv", test_rows},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.model + " " + c.flags);
    const std::string out = path("out-" + c.model + (c.flags.empty() ? "" : "-flags"));
    Result t = lag("train --data " + path(c.train) + " --test-data " + path(c.test) + " --model " +
                   c.model + " " + c.flags +
                   " --bias --workers 3 --algo gd,lag-wk --max-iters 31 --eval-every 7 --quiet"
                   " --out " +
                   out);
    ASSERT_EQ(t.status, 0) << t.output;
    const auto s = read_json(out + "/summary.json");
    ASSERT_EQ(s["test_rows"], test_rows.size());
    const std::size_t classes = c.model == "logistic" ? 2 : 3;
    if (c.model != "logistic") {
      EXPECT_EQ(s["classes"], classes);
    }
    ASSERT_EQ(s["runs"].size(), 2u);
    for (const auto& r : s["runs"]) {
      const std::string algo = r["algo"].get<std::string>();
      ASSERT_EQ(r["iterations"], 31) << algo;
      const std::vector<double> theta = lag::test::read_numbers(out + "/weights-" + algo + ".txt");
      ASSERT_EQ(theta.size(), s["parameters"].get<std::size_t>()) << algo;
      // --standardize: the statistics are the training rows' columns' (computed here), and
      // the weights apply to test rows mapped with them.
      std::vector<std::vector<double>> mapped = c.test_rows;
      if (c.flags == "--standardize") {
        const auto st = read_json(out + "/standardization.json");
        const std::size_t features = st["features"].get<std::size_t>();
        ASSERT_EQ(features, train_rows.front().size() - 1);
        for (std::size_t j = 0; j < features; ++j) {
          double sum = 0, squares = 0;
          for (const auto& row : train_rows) sum += row[j + 1];
          const double mean = sum / static_cast<double>(train_rows.size());
          for (const auto& row : train_rows) squares += (row[j + 1] - mean) * (row[j + 1] - mean);
          const double sd = std::sqrt(squares / static_cast<double>(train_rows.size()));
          EXPECT_NEAR(st["mean"][j].get<double>(), mean, 1e-12 * (1 + std::fabs(mean)));
          EXPECT_NEAR(st["scale"][j].get<double>(), sd, 1e-12 * sd);
          for (auto& row : mapped)
            row[j + 1] = (row[j + 1] - st["mean"][j].get<double>()) / st["scale"][j].get<double>();
        }
      }
      const Metrics m = reference_metrics(c.model, theta, mapped, classes, 4);
      const double rows = static_cast<double>(test_rows.size());
      // Both sums are fp64 over 52 terms of size ~1, in different orders: ~1e-15 apart.
      EXPECT_NEAR(r["test_loss"].get<double>(), m.loss, 1e-12 * m.loss) << algo;
      EXPECT_EQ(r["test_accuracy"].get<double>(), static_cast<double>(m.correct) / rows) << algo;
      // Trained beyond chance (1/3 for three classes), and (the repeated point) short of perfect.
      EXPECT_GT(m.correct, test_rows.size() / 3) << algo;
      EXPECT_LT(m.correct, test_rows.size()) << algo;
    }
  }
}

// --topk: a count or a fraction, never more than the parameters (even one too large for any
// integer type), and the compressed algorithms' other options within their ranges.
TEST_F(Cli, CompressionOptionsOutOfRangeAreErrors) {
  ASSERT_EQ(lag("gen paper-linear --workers 3 --dim 8 --out " + path("data")).status, 0);
  const std::string train =
      "train --data " + path("data") + " --algo ef21 --quiet --out " + path("out") + " ";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {Case{"--topk 100000000000000000000", "more than the model's 8 parameters"},
                        Case{"--topk 9", "more than the model's 8 parameters"},
                        Case{"--topk 1.5", "a fraction of the parameters in (0, 1]"},
                        Case{"--topk 0", "a count of coordinates"}, Case{"--topk x", "got 'x'"},
                        Case{"--bits 17", "--bits"}, Case{"--zeta -1", "--zeta"}}) {
    const Result t = lag(train + c.args);
    // 1 for a lag error; the option parser's own code for a value its range check rejects.
    EXPECT_NE(t.status, 0) << c.args << "\n" << t.output;
    EXPECT_NE(t.output.find(c.message), std::string::npos) << c.args << "\n" << t.output;
  }
}

TEST_F(Cli, IdxImagesWithoutLabelsIsAnError) {
  write_idx_set(path("train-images.idx"), path("train-labels.idx"), 9, 1);
  Result t =
      lag("train --data " + path("train-images.idx") + " --model softmax --out " + path("out"));
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.output.find("--labels"), std::string::npos) << t.output;
  EXPECT_FALSE(fs::exists(path("out")));
}

TEST_F(Cli, MainJobDefaultsOnAFashionMnistSubset) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  Result t = lag("train --limit 3000 --max-iters 20 --out " + path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("the main job"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("test acc"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("minibatches of 128 rows, 3 iterations per epoch"), std::string::npos)
      << t.output;
  const auto s = read_json(path("out/summary.json"));
  ASSERT_EQ(s["runs"].size(), 2u);
  const auto& r = s["runs"][0];
  const auto& baseline = s["runs"][1];
  EXPECT_EQ(r["algo"], "lasg-wk");
  EXPECT_EQ(baseline["algo"], "sgd");
  EXPECT_EQ(r["model"], "softmax");
  EXPECT_EQ(r["workers"], 10);
  EXPECT_EQ(r["dim"], 785);  // 28 x 28 pixels and the bias
  EXPECT_EQ(r["batch_size"], 128);
  EXPECT_EQ(r["lr_schedule"], "inv-sqrt");
  EXPECT_EQ(r["alpha"], 2e-6);
  EXPECT_EQ(r["xi"], 0.3);
  // 3000 rows over 10 workers in batches of 128: ceil(3000 / 1280) = 3 iterations per epoch.
  EXPECT_EQ(r["iterations_per_epoch"], 3);
  ASSERT_EQ(r["epochs"].size(), 6u);
  EXPECT_EQ(r["epochs"][5]["iteration"], 18);
  EXPECT_EQ(s["test_rows"], 10000);
  EXPECT_GT(r["test_accuracy"].get<double>(), 0.3);  // chance is 0.1
  EXPECT_EQ(baseline["uploads"], 200);               // every worker, every iteration
  EXPECT_LT(r["uploads"].get<int>(), 200);
  EXPECT_EQ(s["standardized"], true);
  EXPECT_TRUE(fs::exists(path("out/standardization.json")));
}

// Naming an algorithm keeps the main job's data but its full-batch defaults: the paper's job.
TEST_F(Cli, MainJobWithANamedAlgorithmIsFullBatch) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  Result t = lag("train --limit 3000 --algo lag-wk --max-iters 5 --out " + path("out"));
  ASSERT_EQ(t.status, 0) << t.output;
  const auto s = read_json(path("out/summary.json"));
  ASSERT_EQ(s["runs"].size(), 1u);
  const auto& r = s["runs"][0];
  EXPECT_EQ(r["algo"], "lag-wk");
  EXPECT_EQ(r["batch_size"], 0);
  EXPECT_EQ(r["lr_schedule"], "constant");
  EXPECT_DOUBLE_EQ(r["alpha"].get<double>(), 1.0 / s["smoothness"].get<double>());
  EXPECT_FALSE(r.contains("epochs"));
}

TEST_F(Cli, UnknownAlgorithmIsAnError) {
  ASSERT_EQ(lag("gen paper-linear --out " + path("data")).status, 0);
  Result t = lag("train --data " + path("data") + " --algo gd,lag --out " + path("out"));
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.output.find("unknown algorithm 'lag'"), std::string::npos) << t.output;
  EXPECT_FALSE(fs::exists(path("out")));
}

}  // namespace
