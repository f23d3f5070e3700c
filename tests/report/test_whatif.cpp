// The network what-if: units, the model in closed form on a hand-made ledger, the break-even
// bandwidth, the CSV and table writers, and `lag whatif` end to end on the paper's data.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../run_command.hpp"
#include "lag/error.hpp"
#include "lag/whatif.hpp"

namespace lag::whatif {
namespace {

// ---- units --------------------------------------------------------------------------------

TEST(WhatifUnits, ParsesBandwidthsInBitsPerSecond) {
  EXPECT_EQ(parse_bandwidth("10Gbps"), 1e10);
  EXPECT_EQ(parse_bandwidth("1.5 Mbps"), 1.5e6);
  EXPECT_EQ(parse_bandwidth("100Kbps"), 1e5);
  EXPECT_EQ(parse_bandwidth("100kbps"), 1e5);
  EXPECT_EQ(parse_bandwidth("2Tbps"), 2e12);
  EXPECT_EQ(parse_bandwidth("64bps"), 64.0);
  EXPECT_EQ(parse_bandwidth("25Gb/s"), 25e9);
  EXPECT_EQ(parse_bandwidth("1gbit/s"), 1e9);
  EXPECT_EQ(parse_bandwidth(" 400Gbps "), 4e11);
}

TEST(WhatifUnits, RejectsBadBandwidths) {
  auto message = [](const std::string& text) {
    try {
      parse_bandwidth(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("10").find("needs a unit"), std::string::npos);
  EXPECT_NE(message("10GBps").find("bytes per second"), std::string::npos);
  EXPECT_NE(message("10GB/s").find("bytes per second"), std::string::npos);
  EXPECT_NE(message("fast").find("not a bandwidth"), std::string::npos);
  EXPECT_NE(message("10Hz").find("unknown unit"), std::string::npos);
  EXPECT_NE(message("10Gbpsx").find("unknown unit"), std::string::npos);
  EXPECT_NE(message("0Gbps").find("positive"), std::string::npos);
  EXPECT_NE(message("-1Gbps").find("positive"), std::string::npos);
  EXPECT_NE(message("infGbps").find("positive"), std::string::npos);
}

TEST(WhatifUnits, ParsesDurations) {
  EXPECT_EQ(parse_duration("50us"), 50e-6);
  EXPECT_EQ(parse_duration("50\xC2\xB5s"), 50e-6);
  EXPECT_EQ(parse_duration("1.5ms"), 1.5e-3);
  EXPECT_EQ(parse_duration("2s"), 2.0);
  EXPECT_EQ(parse_duration("10 ns"), 10e-9);
  EXPECT_EQ(parse_duration("0us"), 0.0);
  EXPECT_THROW(parse_duration("50"), Error);     // no unit
  EXPECT_THROW(parse_duration("5min"), Error);   // unknown unit
  EXPECT_THROW(parse_duration("-1ms"), Error);   // negative
  EXPECT_THROW(parse_duration("soon"), Error);   // not a number
  EXPECT_THROW(parse_duration("nanms"), Error);  // not finite
}

TEST(WhatifUnits, ParsesListsAndRejectsEmptyItems) {
  EXPECT_EQ(parse_bandwidth_list("1Gbps, 10Gbps,100Gbps"), (std::vector<double>{1e9, 1e10, 1e11}));
  EXPECT_EQ(parse_duration_list("0us,1ms"), (std::vector<double>{0.0, 1e-3}));
  EXPECT_THROW(parse_bandwidth_list("1Gbps,,2Gbps"), Error);
  EXPECT_THROW(parse_bandwidth_list(""), Error);
  EXPECT_THROW(parse_duration_list("1ms,"), Error);
}

TEST(WhatifUnits, FormatsWithTheLargestUnitAndReadsBack) {
  EXPECT_EQ(format_bandwidth(1e10), "10Gbps");
  EXPECT_EQ(format_bandwidth(1.5e9), "1.5Gbps");
  EXPECT_EQ(format_bandwidth(100e6), "100Mbps");
  EXPECT_EQ(format_bandwidth(2e3), "2Kbps");
  EXPECT_EQ(format_bandwidth(12.0), "12bps");
  EXPECT_EQ(format_duration(5e-5), "50us");
  EXPECT_EQ(format_duration(2.5e-3), "2.5ms");
  EXPECT_EQ(format_duration(3.0), "3s");
  EXPECT_EQ(format_duration(7e-9), "7ns");
  EXPECT_EQ(format_duration(0.0), "0s");
  for (double b : {1e9, 2.5e10, 4e11, 3e4}) EXPECT_EQ(parse_bandwidth(format_bandwidth(b)), b);
  for (double d : {5e-5, 1e-3, 2.0, 0.0}) EXPECT_EQ(parse_duration(format_duration(d)), d);
}

// ---- the model on a hand-made ledger -----------------------------------------------------------

// M = 3 workers, d = 50, fp64: one vector is 400 bytes. Two iterations per algorithm:
//   gd      every worker both ways                                  compute 1.0 s in all
//   lag-wk  theta + tau down to all, flags up (27 control bytes);
//           iteration 1 everyone uploads, iteration 2 nobody        compute 0.5 s
//   lag-ps  iteration 1 one worker asked, iteration 2 nobody        compute 0.3 s
// Extra and reordered columns are allowed: columns are found by name.
const char* kMetrics =
    "iter,algo,loss,uploads,bytes_up,bytes_down,control_bytes,wall_seconds,extra\n"
    "0,gd,9,0,0,0,0,0.01,x\n"
    "1,gd,8,3,1200,1200,0,0.5,x\n"
    "2,gd,7,3,1200,1200,0,1.0,x\n"
    "0,lag-wk,9,0,0,0,0,0,x\n"
    "1,lag-wk,8,3,1200,1200,27,0.25,x\n"
    "\n"
    "2,lag-wk,7,0,0,1200,27,0.5,x\r\n"
    "0,lag-ps,9,0,0,0,0,0,x\n"
    "1,lag-ps,8,1,400,400,0,0.2,x\n"
    "2,lag-ps,8,0,0,0,0,0.3,x\n";

std::vector<Workload> hand_made() {
  std::istringstream in(kMetrics);
  return read_workloads(in, "m.csv");
}

TEST(WhatifModel, RoundsCountEachDirectionThatCarriesAnything) {
  EXPECT_EQ(rounds_of(0, 0, 0), 0);
  EXPECT_EQ(rounds_of(400, 0, 0), 1);
  EXPECT_EQ(rounds_of(400, 400, 0), 2);
  EXPECT_EQ(rounds_of(0, 400, 0), 1);
  EXPECT_EQ(rounds_of(400, 0, 27), 2);  // LAG-WK: the flags go up even when nobody uploads
}

TEST(WhatifModel, ReadsTheLedgerPerAlgorithm) {
  const auto w = hand_made();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].algo, "gd");
  EXPECT_EQ(w[0].iterations, 2);
  EXPECT_EQ(w[0].rounds, 4u);
  EXPECT_EQ(w[0].bytes_up, 2400u);
  EXPECT_EQ(w[0].bytes_down, 2400u);
  EXPECT_EQ(w[0].control_bytes, 0u);
  EXPECT_EQ(w[0].compute_seconds, 1.0);
  EXPECT_EQ(w[1].algo, "lag-wk");
  EXPECT_EQ(w[1].rounds, 4u);
  EXPECT_EQ(w[1].bytes(), 1200u + 1200 + 27 + 1200 + 27);
  EXPECT_EQ(w[1].compute_seconds, 0.5);
  EXPECT_EQ(w[2].algo, "lag-ps");
  EXPECT_EQ(w[2].rounds, 2u);  // the iteration in which nobody was asked is free
  EXPECT_EQ(w[2].bytes(), 800u);
}

TEST(WhatifModel, PredictsTheClosedForm) {
  const Link link{1e6, 1e-3};  // 1 Mbps, 1 ms
  const auto p = predict_all(hand_made(), {link});
  ASSERT_EQ(p.size(), 3u);
  // T = C + lat * R + 8 * Y / B
  const double gd = 1.0 + 4 * 1e-3 + 8.0 * 4800 / 1e6;
  const double wk = 0.5 + 4 * 1e-3 + 8.0 * 3654 / 1e6;
  const double ps = 0.3 + 2 * 1e-3 + 8.0 * 800 / 1e6;
  EXPECT_NEAR(p[0].seconds(), gd, 1e-15);
  EXPECT_NEAR(p[1].seconds(), wk, 1e-15);
  EXPECT_NEAR(p[2].seconds(), ps, 1e-15);
  EXPECT_NEAR(p[1].communication_seconds, 4e-3 + 8.0 * 3654 / 1e6, 1e-15);
  EXPECT_NEAR(p[1].communication_share(), (wk - 0.5) / wk, 1e-15);
  ASSERT_TRUE(p[0].speedup_vs_gd && p[1].speedup_vs_gd && p[2].speedup_vs_gd);
  EXPECT_EQ(*p[0].speedup_vs_gd, 1.0);
  EXPECT_NEAR(*p[1].speedup_vs_gd, gd / wk, 1e-15);
  EXPECT_NEAR(*p[2].speedup_vs_gd, gd / ps, 1e-15);
}

TEST(WhatifModel, GivenComputeTimeReplacesTheMeasuredOne) {
  const auto p = predict_all(hand_made(), {{1e9, 0.0}}, 0.25);
  EXPECT_NEAR(p[0].compute_seconds, 0.5, 1e-15);  // 2 iterations * 0.25 s
  EXPECT_NEAR(p[0].seconds(), 0.5 + 8.0 * 4800 / 1e9, 1e-15);
}

TEST(WhatifModel, NoSpeedupWithoutGd) {
  auto w = hand_made();
  w.erase(w.begin());
  for (const auto& p : predict_all(w, {{1e9, 5e-5}})) EXPECT_FALSE(p.speedup_vs_gd);
}

TEST(WhatifModel, LinksComeInTheOrderGiven) {
  const auto p = predict_all(hand_made(), {{1e9, 0.0}, {1e10, 5e-5}});
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0].link.bandwidth_bps, 1e9);
  EXPECT_EQ(p[3].link.bandwidth_bps, 1e10);
  EXPECT_EQ(p[4].algo, "lag-wk");
}

// ---- break-even ----------------------------------------------------------------------------

Prediction made(const char* algo, double compute, std::uint64_t rounds, std::uint64_t bytes,
                double latency) {
  Prediction p;
  p.algo = algo;
  p.link = {1e9, latency};
  p.compute_seconds = compute;
  p.rounds = rounds;
  p.bytes = bytes;
  return p;
}

TEST(WhatifBreakEven, ClassifiesEveryCase) {
  const Prediction gd = made("gd", 1.0, 100, 8000, 1e-3);  // F = 1.1
  // Fewer bytes and less fixed time: faster everywhere.
  EXPECT_EQ(break_even(made("a", 0.5, 100, 4000, 1e-3), gd).kind, BreakEven::Always);
  // Fewer bytes, more fixed time: faster below 8 * 4000 / 0.5 = 64 kbit/s.
  const BreakEven below = break_even(made("a", 1.5, 100, 4000, 1e-3), gd);
  EXPECT_EQ(below.kind, BreakEven::Below);
  EXPECT_NEAR(below.bandwidth_bps, 64000.0, 1e-9);
  // More bytes, less fixed time: faster above 8 * 4000 / 0.5 = 64 kbit/s.
  const BreakEven above = break_even(made("a", 0.5, 100, 12000, 1e-3), gd);
  EXPECT_EQ(above.kind, BreakEven::Above);
  EXPECT_NEAR(above.bandwidth_bps, 64000.0, 1e-9);
  // More bytes and more fixed time, or equal everything: never.
  EXPECT_EQ(break_even(made("a", 1.5, 100, 12000, 1e-3), gd).kind, BreakEven::Never);
  EXPECT_EQ(break_even(gd, gd).kind, BreakEven::Never);
  // Same bytes: decided by the fixed time alone.
  EXPECT_EQ(break_even(made("a", 1.0, 50, 8000, 1e-3), gd).kind, BreakEven::Always);
  // More rounds count through the latency: 100 extra rounds of 10 ms outweigh 0.5 s saved.
  EXPECT_EQ(break_even(made("a", 0.5, 200, 8000, 1e-2), made("gd", 1.0, 100, 8000, 1e-2)).kind,
            BreakEven::Never);
}

TEST(WhatifBreakEven, PredictedTimesCrossAtTheBreakEvenBandwidth) {
  Workload gd{"gd", 10, 1.0, 20, 4000, 4000, 0};
  Workload wk{"lag-wk", 8, 1.2, 16, 4000, 500, 72};
  const BreakEven b = break_even(predict(wk, {1e9, 1e-4}), predict(gd, {1e9, 1e-4}));
  ASSERT_EQ(b.kind, BreakEven::Below);
  const Link at{b.bandwidth_bps, 1e-4};
  EXPECT_NEAR(predict(wk, at).seconds(), predict(gd, at).seconds(), 1e-12);
  const Link slower{0.5 * b.bandwidth_bps, 1e-4}, faster{2 * b.bandwidth_bps, 1e-4};
  EXPECT_LT(predict(wk, slower).seconds(), predict(gd, slower).seconds());
  EXPECT_GT(predict(wk, faster).seconds(), predict(gd, faster).seconds());
}

// ---- writers -------------------------------------------------------------------------------

TEST(WhatifWriters, CsvIsExact) {
  std::ostringstream out;
  write_csv(out, predict_all(hand_made(), {{1e6, 1e-3}}));
  EXPECT_EQ(out.str(),
            "algo,bandwidth_bps,latency_s,iterations,rounds,bytes,compute_s,communication_s,"
            "predicted_s,communication_share,speedup_vs_gd\n"
            "gd,1000000,0.001,2,4,4800,1,0.0424,1.0424,0.04067536454,1\n"
            "lag-wk,1000000,0.001,2,4,3654,0.5,0.033232,0.533232,0.06232184115,1.954871426\n"
            "lag-ps,1000000,0.001,2,2,800,0.3,0.0084,0.3084,0.02723735409,3.38002594\n");
}

TEST(WhatifWriters, CsvLeavesTheSpeedupEmptyWithoutGd) {
  auto w = hand_made();
  w.erase(w.begin());
  std::ostringstream out;
  write_csv(out, predict_all(w, {{1e6, 1e-3}}));
  std::istringstream lines(out.str());
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_EQ(row, "lag-wk,1000000,0.001,2,4,3654,0.5,0.033232,0.533232,0.06232184115,");
}

TEST(WhatifWriters, TableHasARowPerAlgorithmAndLinkAndTheVerdicts) {
  std::ostringstream out;
  print_table(out, predict_all(hand_made(), {{1e6, 1e-3}, {1e9, 1e-3}}));
  const std::string t = out.str();
  EXPECT_NE(t.find("bandwidth  latency  algo"), std::string::npos) << t;
  EXPECT_NE(t.find("1Mbps      1ms      gd"), std::string::npos) << t;
  EXPECT_NE(t.find("1Gbps      1ms      lag-ps"), std::string::npos) << t;
  EXPECT_NE(t.find("1.95x"), std::string::npos) << t;  // lag-wk at 1 Mbps
  EXPECT_NE(t.find("against GD at latency 1ms"), std::string::npos) << t;
  EXPECT_NE(t.find("lag-wk    faster at every bandwidth"), std::string::npos) << t;
  // No verdict for GD against itself.
  EXPECT_EQ(t.find("  gd ", t.find("against GD")), std::string::npos) << t;
}

// ---- reading errors ------------------------------------------------------------------------

std::string read_error(const std::string& text) {
  std::istringstream in(text);
  try {
    read_workloads(in, "m.csv");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(WhatifRead, NamesFileLineAndColumn) {
  EXPECT_NE(read_error("algo,iter,bytes_up,bytes_down,wall_seconds\n").find("control_bytes"),
            std::string::npos);
  EXPECT_EQ(read_error("algo,iter,bytes_up,bytes_down,control_bytes,wall_seconds\n"),
            "m.csv: no data rows");
  EXPECT_EQ(read_error("algo,iter,bytes_up,bytes_down,control_bytes,wall_seconds\n"
                       "gd,0,0,0,0,0\n"
                       "gd,1,12x,0,0,0.1\n"),
            "m.csv:3:6: '12x' is not a non-negative integer");
  EXPECT_EQ(read_error("algo,iter,bytes_up,bytes_down,control_bytes,wall_seconds\n"
                       "gd,1,-4,0,0,0.1\n"),
            "m.csv:2:6: '-4' is not a non-negative integer");
  EXPECT_EQ(read_error("algo,iter,bytes_up,bytes_down,control_bytes,wall_seconds\n"
                       "gd,1,4,0,0,soon\n"),
            "m.csv:2:12: 'soon' is not a number");
  EXPECT_NE(read_error("algo,iter,bytes_up,bytes_down,control_bytes,wall_seconds\ngd,1,4\n")
                .find("m.csv:2: has 3 fields"),
            std::string::npos);
  EXPECT_EQ(read_error(""), "m.csv: empty file (no header)");
}

// ---- end to end ----------------------------------------------------------------------------

namespace fs = std::filesystem;

using Result = lag::test::CommandResult;
Result lag(const std::string& args) { return lag::test::run_lag(args); }

// predicted rows of a what-if CSV by algorithm (one link)
std::map<std::string, std::vector<std::string>> csv_rows(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream s(line);
    std::string field;
    while (std::getline(s, field, ',')) f.push_back(field);
    rows[f.at(0)] = f;
  }
  return rows;
}

TEST(WhatifCli, PaperLinearLagWkBeatsGdOnEveryLink) {
  const fs::path dir = fs::temp_directory_path() / ("lag-whatif-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string d = dir.string();
  ASSERT_EQ(lag("gen paper-linear --out " + d + "/data").status, 0);
  const Result t = lag("train --data " + d + "/data --algo gd,lag-wk,lag-ps,cyc-iag,num-iag " +
                       "--target-gap 1e-8 --threads 1 --quiet --out " + d + "/run");
  ASSERT_EQ(t.status, 0) << t.output;
  std::ifstream summary_in(d + "/run/summary.json");
  const auto summary = nlohmann::json::parse(summary_in);
  std::map<std::string, nlohmann::json> runs;
  for (const auto& r : summary["runs"]) runs[r["algo"].get<std::string>()] = r;

  // Measured compute: the table is there, and each run's compute is its wall_seconds.
  const Result m = lag("whatif " + d + "/run --link 1Gbps --latency 50us --csv " + d + "/m.csv");
  ASSERT_EQ(m.status, 0) << m.output;
  EXPECT_NE(m.output.find("bandwidth  latency  algo"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("1Gbps      50us     lag-wk"), std::string::npos) << m.output;
  auto rows = csv_rows(d + "/m.csv");
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& [algo, r] : runs) {
    const auto& row = rows.at(algo);
    EXPECT_NEAR(std::stod(row[6]), r["wall_seconds"].get<double>(), 1e-9) << algo;
    // The bytes are the ledger's, all of them.
    EXPECT_EQ(std::stoull(row[5]), r["bytes_up"].get<std::uint64_t>() +
                                       r["bytes_down"].get<std::uint64_t>() +
                                       r["control_bytes"].get<std::uint64_t>())
        << algo;
  }
  // GD and LAG-WK pay both latencies every iteration (LAG-WK's flags always go up).
  const auto gd_iters = runs["gd"]["iterations"].get<std::uint64_t>();
  const auto wk_iters = runs["lag-wk"]["iterations"].get<std::uint64_t>();
  EXPECT_EQ(std::stoull(rows["gd"][4]), 2 * gd_iters);
  EXPECT_EQ(std::stoull(rows["lag-wk"][4]), 2 * wk_iters);
  EXPECT_NEAR(std::stod(rows["gd"][7]),
              2.0 * static_cast<double>(gd_iters) * 50e-6 +
                  8.0 *
                      static_cast<double>(runs["gd"]["bytes_up"].get<std::uint64_t>() +
                                          runs["gd"]["bytes_down"].get<std::uint64_t>()) /
                      1e9,
              1e-12);

  // With the same compute per iteration (1 ms, a gradient's time on a worker of its own),
  // LAG-WK reaches 1e-8 in fewer iterations, with fewer rounds and fewer bytes than GD: it is
  // faster at 1 Gbps and on every other link.
  const Result c = lag("whatif " + d + "/run --link 1Gbps --latency 50us --compute-seconds 1e-3 " +
                       "--csv " + d + "/c.csv");
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_LT(wk_iters, gd_iters);
  rows = csv_rows(d + "/c.csv");
  EXPECT_LT(std::stod(rows["lag-wk"][8]), std::stod(rows["gd"][8]));
  EXPECT_GT(std::stod(rows["lag-wk"][10]), 1.0);
  EXPECT_NE(c.output.find("lag-wk    faster at every bandwidth"), std::string::npos) << c.output;
  // The IAGs upload one gradient per iteration but need about M times the iterations: the
  // latency of their rounds makes them slower than GD on this link.
  EXPECT_LT(std::stod(rows["cyc-iag"][10]), 1.0);

  // Bad units stop before anything is read.
  const Result bad = lag("whatif " + d + "/run --link 10GBps");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("bytes per second"), std::string::npos) << bad.output;
  const Result missing = lag("whatif " + d + "/nothing-here");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("cannot read"), std::string::npos) << missing.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lag::whatif
