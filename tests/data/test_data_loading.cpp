// Data loading: the LIBSVM and CSV readers, their error messages, directory expansion, row
// partitioning and the label rules of the models.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../temp_dir_test.hpp"
#include "data/data_internal.hpp"
#include "lag/dataset.hpp"
#include "lag/error.hpp"
#include "lag/model.hpp"

namespace {

namespace fs = std::filesystem;
using lag::Dataset;
using lag::FileFormat;
using lag::LoadOptions;
using lag::Shard;

class DataLoading : public lag::test::TempDirTest {};

LoadOptions with_dim(std::size_t dim) {
  LoadOptions o;
  o.dim = dim;
  return o;
}

// The message of the InputError that `f` throws ("" and a test failure when it throws none).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const lag::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected lag::InputError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected lag::InputError, nothing was thrown";
  return "";
}

// `message` reads "PATH:PLACE: ..." and contains `text`, all on one line.
void expect_message(const std::string& message, const std::string& path, const std::string& place,
                    const std::string& text) {
  const std::string prefix = place.empty() ? path + ": " : path + ":" + place + ": ";
  EXPECT_EQ(message.rfind(prefix, 0), 0u)
      << "message: " << message << "\nexpected prefix: " << prefix;
  EXPECT_NE(message.find(text), std::string::npos)
      << "message: " << message << "\nexpected: " << text;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "message: " << message;
}

std::string load_error(const std::string& path, const LoadOptions& options = {}) {
  return input_error([&] { lag::load_file(path, options); });
}

// ---- LIBSVM ----------------------------------------------------------------

TEST_F(DataLoading, LibsvmSparseRowsAreDensifiedToTheLargestIndex) {
  const std::string path = write("a.svm",
                                 "# a comment line\n"
                                 "+1 qid:3 1:0.5 3:-2 # trailing comment\n"
                                 "\n"
                                 "   \t\n"
                                 "-1 2:1e-3\n"
                                 "0.5\n"
                                 "1 4:7\n");
  const Shard<double> s = lag::load_file(path, {});
  EXPECT_EQ(s.source, path);
  ASSERT_EQ(s.rows, 4u);
  ASSERT_EQ(s.dim, 4u);
  EXPECT_EQ(s.x, (std::vector<double>{0.5, 0, -2, 0, 0, 1e-3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}));
  EXPECT_EQ(s.y, (std::vector<double>{1, -1, 0.5, 1}));
  EXPECT_EQ(s.labels.first_plus_one, 2u);
  EXPECT_EQ(s.labels.first_minus_one, 5u);
  EXPECT_EQ(s.labels.first_zero, 0u);
  EXPECT_EQ(s.labels.first_other, 6u);
  EXPECT_EQ(s.labels.other_value, 0.5);
}

TEST_F(DataLoading, LibsvmGivenDimPadsRows) {
  const std::string path = write("a.libsvm", "1 2:3\n-1 1:1\n");
  const Shard<double> s = lag::load_file(path, with_dim(4));
  ASSERT_EQ(s.dim, 4u);
  EXPECT_EQ(s.x, (std::vector<double>{0, 3, 0, 0, 1, 0, 0, 0}));
}

TEST_F(DataLoading, LibsvmAcceptsTabsCrlfNoFinalNewlineAndExactDecimals) {
  const std::string path = write("a.txt",
                                 "\xEF\xBB\xBF"
                                 "1\t1:0.1\t2:1e-400\r\n-1 2:-3.25");
  const Shard<double> s = lag::load_file(path, {});
  ASSERT_EQ(s.rows, 2u);
  EXPECT_EQ(s.x, (std::vector<double>{0.1, 0.0, 0.0, -3.25}));
  EXPECT_EQ(s.y, (std::vector<double>{1, -1}));
}

TEST_F(DataLoading, LibsvmIndexZero) {
  const std::string path = write("b.svm", "1 1:2\n-1 0:3\n");
  expect_message(load_error(path), path, "2:4", "feature index 0 (indices are 1-based)");
}

TEST_F(DataLoading, LibsvmIndexAboveGivenDim) {
  const std::string path = write("b.svm", "1 1:1 4:1\n");
  expect_message(load_error(path, with_dim(3)), path, "1:7",
                 "feature index 4 is above the dimension 3");
}

TEST_F(DataLoading, LibsvmIndicesNotIncreasing) {
  const std::string path = write("b.svm", "1 3:1 2:1\n");
  expect_message(load_error(path), path, "1:7",
                 "feature index 2 after 3 (indices must be increasing)");
  const std::string twice = write("c.svm", "1 2:1 2:1\n");
  expect_message(load_error(twice), twice, "1:7", "feature index 2 repeated");
}

TEST_F(DataLoading, LibsvmMalformedTokens) {
  struct Case {
    const char* line;
    const char* place;
    const char* text;
  };
  const Case cases[] = {
      {"1 abc", "1:3", "malformed feature 'abc' (expected INDEX:VALUE)"},
      {"1 3:", "1:3", "missing value in feature '3:'"},
      {"1 :3", "1:3", "missing feature index in ':3'"},
      {"1 x:3", "1:3", "feature index 'x' in 'x:3' is not a positive integer"},
      {"1 -2:3", "1:3", "feature index '-2' in '-2:3' is not a positive integer"},
      {"1 99999999999999999999:1", "1:3", "feature index '99999999999999999999' is too large"},
      {"1 3:abc", "1:5", "value 'abc' in feature '3:abc' is not a number"},
      {"1 3:1:2", "1:5", "value '1:2' in feature '3:1:2' is not a number"},
      {"1 3:1e999", "1:5", "out of range"},
      {"abc 1:2", "1:1", "label 'abc' is not a number"},
      {"1,2,3", "1:1", "is this a CSV file?"},
      {"1:2 3:4", "1:1", "every line must start with its label"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    const std::string path = write("m.svm", std::string("1 1:1\n") + c.line + "\n");
    std::string place = c.place;
    place[0] = '2';  // the bad line follows a good one
    expect_message(load_error(path), path, place, c.text);
  }
}

TEST_F(DataLoading, LibsvmNaNAndInf) {
  const std::string nan_value = write("n.svm", "1 1:1\n1 1:nan\n");
  expect_message(load_error(nan_value), nan_value, "2:5", "NaN value");
  const std::string nan_label = write("l.svm", "NaN 1:1\n");
  expect_message(load_error(nan_label), nan_label, "1:1", "NaN label");
  const std::string inf_value = write("i.svm", "1 2:-inf\n");
  expect_message(load_error(inf_value), inf_value, "1:5", "infinite value");
}

// ---- CSV -------------------------------------------------------------------

TEST_F(DataLoading, CsvWithoutHeader) {
  const std::string path = write("a.csv", "1,2,3\n-1,4,5\n");
  const Shard<double> s = lag::load_file(path, {});
  ASSERT_EQ(s.rows, 2u);
  ASSERT_EQ(s.dim, 2u);
  EXPECT_EQ(s.x, (std::vector<double>{2, 3, 4, 5}));
  EXPECT_EQ(s.y, (std::vector<double>{1, -1}));
}

TEST_F(DataLoading, CsvWithHeaderWhitespaceAndBlankLines) {
  const std::string path = write("a.csv",
                                 "\xEF\xBB\xBF"
                                 "label , a,b\r\n"
                                 " 1 , 2.5 ,\t3\r\n"
                                 "\r\n"
                                 "0,4,5\r\n");
  const Shard<double> s = lag::load_file(path, {});
  ASSERT_EQ(s.rows, 2u);
  ASSERT_EQ(s.dim, 2u);
  EXPECT_EQ(s.x, (std::vector<double>{2.5, 3, 4, 5}));
  EXPECT_EQ(s.y, (std::vector<double>{1, 0}));
  EXPECT_EQ(s.labels.first_plus_one, 2u);
  EXPECT_EQ(s.labels.first_zero, 4u);
}

TEST_F(DataLoading, CsvLabelColumnOtherThanFirst) {
  const std::string path = write("a.csv", "x1,x2,y,x3\n2,3,1,4\n5,6,-1,7\n");
  LoadOptions options;
  options.label_col = 3;
  const Shard<double> s = lag::load_file(path, options);
  ASSERT_EQ(s.dim, 3u);
  EXPECT_EQ(s.x, (std::vector<double>{2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(s.y, (std::vector<double>{1, -1}));
}

TEST_F(DataLoading, CsvRaggedRows) {
  const std::string path = write("a.csv", "1,2,3\n4,5,6\n\n7,8\n");
  expect_message(load_error(path), path, "4", "row has 2 fields, expected 3 (as on line 1)");
  const std::string longer = write("b.csv", "y,a,b\n1,2,3\n4,5,6,7\n");
  expect_message(load_error(longer), longer, "3", "row has 4 fields, expected 3 (as on line 1)");
}

TEST_F(DataLoading, CsvNonNumericAndEmptyFields) {
  const std::string path = write("a.csv", "1,2,3\n4, abc,6\n");
  expect_message(load_error(path), path, "2:4", "non-numeric field 'abc' (field 2)");
  const std::string empty = write("b.csv", "1,2,3\n4,,6\n");
  expect_message(load_error(empty), empty, "2:3", "empty field (field 2)");
  const std::string semicolons = write("c.csv", "1;2;3\n");
  expect_message(load_error(semicolons), semicolons, "1", "fields must be separated by commas");
  const std::string late_header = write("d.csv", "1,2\ny,x\n");
  expect_message(load_error(late_header), late_header, "2:1", "non-numeric field 'y'");
}

TEST_F(DataLoading, CsvNaNAndInf) {
  const std::string nan_value = write("a.csv", "1,2\n1,NaN\n");
  expect_message(load_error(nan_value), nan_value, "2:3", "NaN value (field 2)");
  const std::string nan_label = write("b.csv", "nan,2\n");
  expect_message(load_error(nan_label), nan_label, "1:1", "NaN label (field 1)");
  const std::string inf_value = write("c.csv", "1,2\n1,-Infinity\n");
  expect_message(load_error(inf_value), inf_value, "2:3", "infinite value (field 2)");
  const std::string huge = write("d.csv", "1,1e999\n");
  expect_message(load_error(huge), huge, "1:3", "value '1e999' is out of range");
}

TEST_F(DataLoading, CsvLabelColumnBeyondTheFields) {
  const std::string path = write("a.csv", "1,2,3\n");
  LoadOptions options;
  options.label_col = 4;
  expect_message(load_error(path, options), path, "1", "label column 4 does not exist");
}

TEST_F(DataLoading, CsvGivenDimMustMatch) {
  const std::string path = write("a.csv", "1,2,3\n");
  expect_message(load_error(path, with_dim(5)), path, "1", "rows have 2 features");
}

TEST_F(DataLoading, NumbersReadExactly) {
  // Plain decimals take a fast path, the rest the general parser; both must round exactly.
  const std::vector<std::string> numbers = {"0.1",
                                            "-0.3",
                                            "+2.5",
                                            "1e22",
                                            "1e23",
                                            "9007199254740993",
                                            "0.000001",
                                            "1.",
                                            ".5",
                                            "-0",
                                            "3E-5",
                                            "123456789012345678901234",
                                            "4.9e-324",
                                            "1e-400",
                                            "1.7976931348623157e308",
                                            "2.2250738585072014e-308",
                                            "0.30000000000000004"};
  std::string text;
  for (const std::string& n : numbers) text += "1," + n + "\n";
  const Shard<double> s = lag::load_file(write("n.csv", text), {});
  ASSERT_EQ(s.rows, numbers.size());
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    EXPECT_EQ(s.x[i], std::strtod(numbers[i].c_str(), nullptr)) << numbers[i];
  }
  EXPECT_TRUE(std::signbit(s.x[9]));  // "-0"
}

// Whatever the bytes, loading either succeeds with a consistent shard or throws InputError.
TEST_F(DataLoading, GarbageNeverCrashes) {
  std::mt19937 random(12345);
  const std::string alphabet = "0123456789:.,-+eE #\n\t\rqidnaNfI";
  for (int round = 0; round < 400; ++round) {
    std::string text(random() % 60, ' ');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    const std::string path = write(round % 2 ? "g.csv" : "g.svm", text);
    SCOPED_TRACE(text);
    try {
      const Shard<double> shard = lag::load_file(path, {});
      EXPECT_GT(shard.rows, 0u);
      EXPECT_EQ(shard.x.size(), shard.rows * shard.dim);
      EXPECT_EQ(shard.y.size(), shard.rows);
      for (const double v : shard.x) EXPECT_TRUE(std::isfinite(v));
    } catch (const lag::InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path, 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

// ---- files -----------------------------------------------------------------

TEST_F(DataLoading, MissingOrUnreadableFile) {
  const std::string missing = (dir_ / "nope.csv").string();
  expect_message(load_error(missing), missing, "", "cannot open");
  expect_message(load_error(dir_.string()), dir_.string(), "", "is a directory");
  const std::string gz = write("a.svm", std::string("\x1f\x8b\x08\x00", 4) + "junk");
  expect_message(load_error(gz), gz, "", "gzip");
}

TEST_F(DataLoading, FileWithoutRows) {
  const std::string empty = write("x.csv", "");
  expect_message(load_error(empty), empty, "", "no data rows");
  const std::string header_only = write("y.csv", "label,a,b\n");
  expect_message(load_error(header_only), header_only, "", "no data rows (only a header line)");
  const std::string comments = write("z.svm", "# nothing here\n\n  \n");
  expect_message(load_error(comments), comments, "", "no data rows");
}

TEST_F(DataLoading, FormatChosenByExtensionOrOption) {
  const std::string upper = write("a.CSV", "1,2\n");
  EXPECT_EQ(lag::load_file(upper, {}).dim, 1u);
  const std::string data = write("a.data", "1 3:2\n");
  EXPECT_EQ(lag::load_file(data, {}).dim, 3u);
  const std::string commas = write("b.data", "1,2,3\n");
  LoadOptions csv;
  csv.format = FileFormat::Csv;
  EXPECT_EQ(lag::load_file(commas, csv).dim, 2u);

  EXPECT_EQ(lag::parse_file_format("auto"), FileFormat::Auto);
  EXPECT_EQ(lag::parse_file_format("libsvm"), FileFormat::Libsvm);
  EXPECT_EQ(lag::parse_file_format("svmlight"), FileFormat::Libsvm);
  EXPECT_EQ(lag::parse_file_format("csv"), FileFormat::Csv);
  EXPECT_THROW(lag::parse_file_format("tsv"), lag::Error);
}

// ---- several shards --------------------------------------------------------

TEST_F(DataLoading, CsvShardDimensionMismatchNamesBothFiles) {
  const std::string a = write("a.csv", "1,2,3\n");
  const std::string b = write("b.csv", "y,p,q,r\n1,2,3,4\n");
  const std::string message = input_error([&] { lag::load_shards({a, b}, {}); });
  expect_message(message, b, "2", "rows have 3 features, but " + a + " has 2");
}

// Files are parsed in parallel: the shards, and the error reported (the first bad file in file
// order, however the threads ran), are the same for 1, 2 and 5 threads.
TEST_F(DataLoading, ParallelLoadingGivesTheSameShardsAndErrorsForAnyThreadCount) {
  std::vector<std::string> good;
  for (int f = 0; f < 5; ++f) {
    std::string text;
    for (int i = 0; i < 200; ++i)
      text += std::to_string((i + f) % 2) + " " + std::to_string(1 + (i * 7 + f) % 9) + ":" +
              std::to_string(0.25 * (i % 13) - f) + " 11:" + std::to_string(i) + "\n";
    good.push_back(write("good-" + std::to_string(f) + ".svm", text));
  }
  LoadOptions one;
  one.threads = 1;
  const Dataset<double> reference = lag::load_shards(good, one);
  ASSERT_EQ(reference.dim, 11u);
  std::vector<std::string> bad = good;
  bad[2] = write("bad-2.svm", "1 1:1\n0 3:x\n");
  bad[4] = write("bad-4.svm", "1 0:1\n");
  for (int threads : {1, 2, 5}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    LoadOptions o;
    o.threads = threads;
    const Dataset<double> data = lag::load_shards(good, o);
    ASSERT_EQ(data.shards.size(), reference.shards.size());
    for (std::size_t m = 0; m < data.shards.size(); ++m) {
      EXPECT_EQ(data.shards[m].x, reference.shards[m].x);
      EXPECT_EQ(data.shards[m].y, reference.shards[m].y);
      EXPECT_EQ(data.shards[m].source, good[m]);
    }
    expect_message(input_error([&] { lag::load_shards(bad, o); }), bad[2], "2:5",
                   "value 'x' in feature '3:x' is not a number");
  }
}

// The first pass over a file (its line count and widest index) is split over the threads too,
// in runs of whole lines: a widest index that only the last run sees still sets the width.
TEST_F(DataLoading, TheFirstPassFindsAWidestIndexOnlyItsLastThreadSees) {
  std::string text;
  for (int i = 0; i < 300000; ++i)  // about 3.6 MB: a 2- or 3-thread pass splits it
    text += std::to_string(i % 2 == 0 ? 1 : -1) + " 1:0.5 2:" + std::to_string(i % 9) + "\n";
  text += "1 1:2 17:3\n";  // the widest index, on the last line only
  const std::string path = write("late-widest.svm", text);
  LoadOptions one;
  one.threads = 1;
  const Dataset<double> reference = lag::load_shards({path}, one);
  ASSERT_EQ(reference.dim, 17u);
  for (int threads : {2, 3}) {
    LoadOptions o;
    o.threads = threads;
    const Dataset<double> data = lag::load_shards({path}, o);
    EXPECT_EQ(data.dim, 17u) << threads << " threads";
    EXPECT_TRUE(data.shards[0].x == reference.shards[0].x) << threads << " threads";
  }
}

// One large file is parsed by several threads in batches of lines (8 MiB each): the rows,
// labels, label census and widest index (the first line that has it), and the first error in
// line order, are those of one thread. 25.5 MiB here: four batches, two waves on two threads.
TEST_F(DataLoading, OneLargeFileParsedInParallelMatchesOneThread) {
  constexpr int kRows = 1200000;
  std::string text;
  text.reserve(std::size_t{28} * kRows);
  for (int i = 0; i < kRows; ++i) {
    const int label = i % 7 == 0 ? 0 : (i % 3 == 0 ? -1 : 1);
    text += std::to_string(label) + " 1:" + std::to_string((i % 11) * 0.25) + " 3:-2 " +
            std::to_string(4 + i % 3) + ":" + std::to_string(i % 5);
    if (i == 900000) text += " 9:1.5";  // the widest index, first in the third batch
    if (i == 1190000) text += " 9:2";   // again, in the fourth batch
    if (i % 100000 == 5) text += " # a comment";
    text += "\n";
    if (i % 250000 == 3) text += "\n";  // blank lines keep the numbering honest
  }
  const std::string good = write("large.svm", text);
  LoadOptions one;
  one.threads = 1;
  const Dataset<double> reference = lag::load_shards({good}, one);
  ASSERT_EQ(reference.shards[0].rows, static_cast<std::size_t>(kRows));
  ASSERT_EQ(reference.dim, 9u);
  // Errors in the second and third batches: the second's is the first in line order.
  std::string broken = text;
  const std::size_t at_third = broken.find("\n", 22u << 20);
  broken.insert(at_third, " 2:x");
  const std::size_t at_second = broken.find("\n", 12u << 20);
  broken.insert(at_second, " 0:1");
  const std::string bad = write("broken.svm", broken);
  const std::string expected = input_error([&] { lag::load_shards({bad}, one); });
  ASSERT_NE(expected.find("feature index 0"), std::string::npos) << expected;
  for (int threads : {2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    LoadOptions o;
    o.threads = threads;
    const Dataset<double> data = lag::load_shards({good}, o);
    const Shard<double>& a = data.shards[0];
    const Shard<double>& b = reference.shards[0];
    EXPECT_EQ(data.dim, reference.dim);
    EXPECT_TRUE(a.x == b.x);
    EXPECT_TRUE(a.y == b.y);
    EXPECT_EQ(a.labels.first_zero, b.labels.first_zero);
    EXPECT_EQ(a.labels.first_minus_one, b.labels.first_minus_one);
    EXPECT_EQ(a.labels.first_plus_one, b.labels.first_plus_one);
    EXPECT_EQ(input_error([&] { lag::load_shards({bad}, o); }), expected);
  }
  // Beside a CSV shard of 8 features the file is too wide: the error names the first line with
  // its widest index, whatever the threads (4 for two files: 2 for the large one).
  const std::string csv = write("narrow.csv", "1,2,3,4,5,6,7,8,9\n");
  const std::string too_wide = input_error([&] { lag::load_shards({csv, good}, one); });
  ASSERT_NE(too_wide.find(good + ":"), std::string::npos) << too_wide;
  LoadOptions four;
  four.threads = 4;
  EXPECT_EQ(input_error([&] { lag::load_shards({csv, good}, four); }), too_wide);
}

TEST_F(DataLoading, LibsvmShardsArePaddedToTheLargestIndex) {
  const std::string a = write("a.svm", "1 2:5\n");
  const std::string b = write("b.svm", "-1 5:1\n");
  const Dataset<double> data = lag::load_shards({a, b}, {});
  ASSERT_EQ(data.dim, 5u);
  ASSERT_EQ(data.workers(), 2);
  EXPECT_EQ(data.total_rows(), 2u);
  EXPECT_EQ(data.shards[0].dim, 5u);
  EXPECT_EQ(data.shards[0].x, (std::vector<double>{0, 5, 0, 0, 0}));
  EXPECT_EQ(data.shards[1].x, (std::vector<double>{0, 0, 0, 0, 1}));
}

TEST_F(DataLoading, LibsvmShardPaddedToCsvDimensionButNotBeyond) {
  const std::string a = write("a.csv", "1,2,3,4\n");
  const std::string b = write("b.svm", "1 1:1\n-1 2:2\n");
  const Dataset<double> data = lag::load_shards({a, b}, {});
  ASSERT_EQ(data.dim, 3u);
  EXPECT_EQ(data.shards[1].x, (std::vector<double>{1, 0, 0, 0, 2, 0}));

  const std::string wide = write("c.svm", "1 1:1\n1 7:1\n");
  const std::string message = input_error([&] { lag::load_shards({a, wide}, {}); });
  expect_message(message, wide, "2:3",
                 "feature index 7 is above the dimension 3 of the CSV shard " + a);
}

// ---- directories -----------------------------------------------------------

TEST_F(DataLoading, ExpandDirectoryKeepsDataFilesSortedByName) {
  write("data/shard-10.svm", "1 1:1\n");
  write("data/b.csv", "1,1\n");
  write("data/a.TXT", "1 1:1\n");
  write("data/shard-02.svm", "1 1:1\n");
  write("data/notes.md", "not data\n");
  write("data/.hidden.svm", "1 1:1\n");
  fs::create_directories(dir_ / "data" / "sub.svm");
  const std::string single = write("single.anything", "1 1:1\n");
  const fs::path d = dir_ / "data";
  const std::vector<std::string> paths = lag::expand_data_paths({single, d.string()});
  const std::vector<std::string> expected = {single, (d / "a.TXT").string(), (d / "b.csv").string(),
                                             (d / "shard-02.svm").string(),
                                             (d / "shard-10.svm").string()};
  EXPECT_EQ(paths, expected);
}

TEST_F(DataLoading, ExpandMissingPathOrEmptyDirectory) {
  const std::string missing = (dir_ / "missing").string();
  expect_message(input_error([&] { lag::expand_data_paths({missing}); }), missing, "",
                 "no such file or directory");
  write("empty/readme.md", "x\n");
  const std::string empty = (dir_ / "empty").string();
  expect_message(input_error([&] { lag::expand_data_paths({empty}); }), empty, "",
                 "directory has no data files");
}

// ---- partitioning ----------------------------------------------------------

// `rows` rows of two features, row i being (i, -i) with label i % 2 ? +1 : -1.
Shard<double> numbered_rows(std::size_t rows) {
  Shard<double> s;
  s.source = "all.svm";
  s.rows = rows;
  s.dim = 2;
  for (std::size_t i = 0; i < rows; ++i) {
    s.x.push_back(static_cast<double>(i));
    s.x.push_back(-static_cast<double>(i));
    s.y.push_back(i % 2 ? 1.0 : -1.0);
  }
  s.labels.first_minus_one = 1;
  s.labels.first_plus_one = 2;
  return s;
}

std::vector<double> first_features(const Shard<double>& s) {
  std::vector<double> v;
  for (std::size_t i = 0; i < s.rows; ++i) v.push_back(s.row(i)[0]);
  return v;
}

TEST(Partition, ParseNames) {
  EXPECT_EQ(lag::parse_partition("contiguous"), lag::Partition::Contiguous);
  EXPECT_EQ(lag::parse_partition("shuffle"), lag::Partition::Shuffle);
  EXPECT_THROW(lag::parse_partition("random"), lag::Error);
}

TEST(Partition, ContiguousBlocksDifferByAtMostOne) {
  const Dataset<double> data =
      lag::partition_rows(numbered_rows(10), 4, lag::Partition::Contiguous, 1);
  ASSERT_EQ(data.workers(), 4);
  EXPECT_EQ(data.dim, 2u);
  EXPECT_EQ(first_features(data.shards[0]), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(first_features(data.shards[1]), (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(first_features(data.shards[2]), (std::vector<double>{6, 7}));
  EXPECT_EQ(first_features(data.shards[3]), (std::vector<double>{8, 9}));
  EXPECT_EQ(data.shards[1].source, "all.svm[rows 4-6]");
  EXPECT_EQ(data.shards[2].row(1)[1], -7.0);
  EXPECT_EQ(data.shards[2].y, (std::vector<double>{-1, 1}));
  EXPECT_EQ(data.shards[2].labels.first_minus_one, 1u);
  EXPECT_EQ(data.shards[2].labels.first_plus_one, 2u);
}

TEST(Partition, ShuffleIsSeededAndKeepsEveryRowOnce) {
  const Shard<double> all = numbered_rows(101);
  const auto split = [&](std::uint64_t seed) {
    std::vector<std::vector<double>> parts;
    for (const auto& s : lag::partition_rows(all, 4, lag::Partition::Shuffle, seed).shards) {
      parts.push_back(first_features(s));
      for (std::size_t i = 0; i < s.rows; ++i) {
        EXPECT_EQ(s.row(i)[1], -s.row(i)[0]);  // rows move whole
        EXPECT_EQ(s.y[i], static_cast<std::size_t>(s.row(i)[0]) % 2 ? 1.0 : -1.0);
      }
    }
    return parts;
  };
  const auto a = split(7);
  EXPECT_EQ(a, split(7));
  EXPECT_NE(a, split(8));
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].size(), 26u);
  EXPECT_EQ(a[3].size(), 25u);
  std::vector<double> every;
  for (const auto& part : a) every.insert(every.end(), part.begin(), part.end());
  std::sort(every.begin(), every.end());
  EXPECT_EQ(every, first_features(all));
  EXPECT_NE(a[0], (std::vector<double>(every.begin(), every.begin() + 26)));
}

TEST(Partition, FewerRowsThanWorkersIsAnError) {
  try {
    lag::partition_rows(numbered_rows(3), 4, lag::Partition::Contiguous, 1);
    FAIL() << "no error";
  } catch (const lag::Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 rows cannot be split over 4 workers"),
              std::string::npos)
        << e.what();
  }
}

// ---- labels ----------------------------------------------------------------

TEST_F(DataLoading, LogisticMapsZeroOneLabels) {
  Dataset<double> data =
      lag::load_shards({write("a.svm", "1 1:1\n0 1:2\n"), write("b.svm", "0 1:3\n")}, {});
  const std::string notice = lag::prepare_labels(data, lag::ModelKind::Logistic);
  EXPECT_NE(notice.find("{0,1} mapped to {-1,+1}"), std::string::npos) << notice;
  EXPECT_EQ(data.shards[0].y, (std::vector<double>{1, -1}));
  EXPECT_EQ(data.shards[1].y, (std::vector<double>{-1}));
  EXPECT_EQ(data.shards[0].labels.first_zero, 0u);
  EXPECT_EQ(data.shards[0].labels.first_minus_one, 2u);

  // Already -1/+1: nothing to say.
  EXPECT_EQ(lag::prepare_labels(data, lag::ModelKind::Logistic), "");
}

TEST_F(DataLoading, LeastSquaresKeepsLabels) {
  Dataset<double> data = lag::load_shards({write("a.svm", "2.5 1:1\n0 1:2\n")}, {});
  EXPECT_EQ(lag::prepare_labels(data, lag::ModelKind::LeastSquares), "");
  EXPECT_EQ(data.shards[0].y, (std::vector<double>{2.5, 0}));
}

TEST_F(DataLoading, LogisticRejectsOtherLabelsAtTheirLine) {
  const std::string a = write("a.svm", "1 1:1\n");
  const std::string b = write("b.svm", "# header comment\n1 1:1\n2 1:1\n0.5 1:1\n");
  Dataset<double> data = lag::load_shards({a, b}, {});
  const std::string message =
      input_error([&] { lag::prepare_labels(data, lag::ModelKind::Logistic); });
  expect_message(message, b, "3", "label 2 is not valid for logistic regression");
}

TEST_F(DataLoading, LogisticRejectsZeroMixedWithMinusOne) {
  const std::string a = write("a.svm", "1 1:1\n-1 1:1\n");
  const std::string b = write("b.svm", "1 1:1\n\n0 1:2\n");
  Dataset<double> data = lag::load_shards({a, b}, {});
  const std::string message =
      input_error([&] { lag::prepare_labels(data, lag::ModelKind::Logistic); });
  expect_message(message, b, "3", "label 0 in a data set that also uses -1 (first at " + a + ":2)");
  EXPECT_EQ(data.shards[1].y[1], 0.0);  // nothing mapped
}

TEST_F(DataLoading, LabelErrorsAfterPartitioningNameTheFile) {
  const std::string path = write("all.csv", "y,x\n1,1\n-1,2\n1,3\n7,4\n");
  const Dataset<double> parts =
      lag::partition_rows(lag::load_file(path, {}), 2, lag::Partition::Contiguous, 1);
  Dataset<double> data = parts;
  const std::string message =
      input_error([&] { lag::prepare_labels(data, lag::ModelKind::Logistic); });
  expect_message(message, path, "5", "label 7 is not valid");
}

TEST(Labels, LabelErrorsInHandBuiltShardsNameTheRow) {
  Dataset<double> data;
  data.dim = 1;
  Shard<double> s;
  s.source = "memory";
  s.rows = 2;
  s.dim = 1;
  s.x = {1, 2};
  s.y = {1, 3};
  data.shards.push_back(s);
  const std::string message =
      input_error([&] { lag::prepare_labels(data, lag::ModelKind::Logistic); });
  expect_message(message, "memory", "", "label 3 is not valid for logistic regression");
  EXPECT_NE(message.find("(row 2)"), std::string::npos) << message;
}

TEST(Labels, SoftplusIsStable) {
  EXPECT_DOUBLE_EQ(lag::softplus(0.0), std::log(2.0));
  EXPECT_DOUBLE_EQ(lag::softplus(1.0), std::log1p(std::exp(1.0)));
  EXPECT_DOUBLE_EQ(lag::softplus(-1.0), std::log1p(std::exp(-1.0)));
  EXPECT_DOUBLE_EQ(lag::softplus(1000.0), 1000.0);
  EXPECT_EQ(lag::softplus(-1000.0), 0.0);
  EXPECT_DOUBLE_EQ(lag::softplus(-40.0), std::exp(-40.0));
  EXPECT_DOUBLE_EQ(lag::softplus(40.0) - 40.0, 0.0);
  EXPECT_TRUE(std::isfinite(lag::softplus(1e308)));
}

// ---- reading a file a piece at a time -------------------------------------------

// The lines of `text` as a reader must see them: split at '\n', without a trailing '\r', after
// a UTF-8 byte-order mark; a final '\n' ends the last line (no empty line after it).
std::vector<std::string> lines_of(std::string text) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t stop = text.find('\n', at);
    if (stop == std::string::npos) stop = text.size();
    std::string line = text.substr(at, stop - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    at = stop + 1;
  }
  return lines;
}

// Every line, numbered, read through FileLines with pieces of `piece` bytes.
std::vector<std::string> read_lines(lag::detail::FileLines& in) {
  std::vector<std::string> lines;
  const char* begin = nullptr;
  const char* end = nullptr;
  while (in.next(begin, end)) {
    lines.emplace_back(begin, end);
    EXPECT_EQ(in.number(), lines.size());
  }
  return lines;
}

TEST_F(DataLoading, PiecesOfAFileGiveTheLinesOfTheWholeText) {
  const std::vector<std::string> texts{
      "",
      "\n",
      "1 1:2\n",
      "1 1:2",
      "1 1:2\r\n-1 2:3\r\n\n\n0 4:1",
      "\xEF\xBB\xBFlabel,a\n1,2\n",
      "a line much longer than the pieces: " + std::string(100, 'x') + "\nshort\n"};
  for (std::size_t t = 0; t < texts.size(); ++t) {
    const std::string file = write("t" + std::to_string(t) + ".txt", texts[t]);
    for (const std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                                    std::size_t{64}, lag::detail::FileLines::kPiece}) {
      lag::detail::FileLines counted(file, piece);
      const auto counts = counted.count(':');
      EXPECT_EQ(counts.newlines,
                static_cast<std::size_t>(std::count(texts[t].begin(), texts[t].end(), '\n')));
      EXPECT_EQ(counts.hits,
                static_cast<std::size_t>(std::count(texts[t].begin(), texts[t].end(), ':')));
      EXPECT_EQ(read_lines(counted), lines_of(texts[t])) << "text " << t << ", piece " << piece;
      lag::detail::FileLines plain(file, piece);
      EXPECT_EQ(read_lines(plain), lines_of(texts[t])) << "text " << t << ", piece " << piece;
    }
  }
}

// Rows are written densely as they are read when the bound on the indices found by the first
// pass makes that cheap, else collected sparse: the same rows either way; a comment's "N:" is
// not an index.
TEST_F(DataLoading, DenseAndSparseCollectionGiveTheSameRows) {
  const std::string f = write("r.svm", "1 1:0.5 3:2 # 7:1\n-1 2:0.25\n");
  const Shard<double> inferred = lag::load_file(f, {});
  EXPECT_EQ(inferred.dim, 3u);
  EXPECT_EQ(inferred.x, (std::vector<double>{0.5, 0, 2, 0, 0.25, 0}));
  const std::size_t wide = 200000;  // 3.2 MB of rows from 30 bytes of text: collected sparse
  const Shard<double> sparse = lag::load_file(f, with_dim(wide));
  ASSERT_EQ(sparse.x.size(), 2 * wide);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < wide; ++j)
      ASSERT_EQ(sparse.x[i * wide + j], j < 3 ? inferred.x[i * 3 + j] : 0.0) << i << " " << j;
  EXPECT_EQ(sparse.y, inferred.y);
}

// A pipe cannot be read twice: it is read whole, once, counting included.
TEST_F(DataLoading, PipeIsReadWholeOnce) {
  const std::string fifo = path("pipe.svm");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string text = "1 1:0.5\n-1 2:0.25\n";
  {
    std::thread writer([&] { std::ofstream(fifo) << text; });
    lag::detail::FileLines in(fifo, 4);
    EXPECT_EQ(in.count(':').hits, 2u);
    EXPECT_EQ(read_lines(in), lines_of(text));
    writer.join();
  }  // `in` closes the pipe: held open, it let the next writer open, write and close before
     // load_file opened the pipe, which then waited forever for a writer (seen under TSan)
  std::thread again([&] { std::ofstream(fifo) << text; });
  const Shard<double> s = lag::load_file(fifo, {});
  again.join();
  EXPECT_EQ(s.rows, 2u);
  EXPECT_EQ(s.y, (std::vector<double>{1, -1}));
}

// A file larger than one piece: a row split by a piece boundary reads whole, and an error past
// the first piece names its own line and column.
TEST_F(DataLoading, ErrorBeyondTheFirstPieceNamesItsLineAndColumn) {
  const std::string row = "1 1:0.5 2:0.25 3:0.125\n";  // 23 bytes: rows straddle the boundary
  const std::size_t rows = lag::detail::FileLines::kPiece / row.size() + 1000;
  std::string text;
  text.reserve(rows * row.size() + 64);
  for (std::size_t i = 0; i < rows; ++i) text += row;
  const std::string good = write("good.svm", text);
  const Shard<double> s = lag::load_file(good, {});
  ASSERT_EQ(s.rows, rows);
  for (std::size_t i = 0; i < rows; ++i)
    ASSERT_EQ(std::vector<double>(s.x.begin() + 3 * i, s.x.begin() + 3 * i + 3),
              (std::vector<double>{0.5, 0.25, 0.125}))
        << "row " << i;
  text += "-1 1:0.5 2:bad\n";
  const std::string bad = write("bad.svm", text);
  expect_message(input_error([&] { lag::load_file(bad, {}); }), bad,
                 std::to_string(rows + 1) + ":12",
                 "value 'bad' in feature '2:bad' is not a number");
}

}  // namespace
