// The ledger of an R-rank `lag train` run, iteration by iteration, against formulas written here
// (not the trainer's): logical bytes from who computed and who sent, and the physical bytes the
// transport puts on the wire (MpiCluster and MpiCudaCluster count alike):
//   down  every iteration: theta || step norm broadcast, (R - 1) (d S + 8)
//         LAG-WK from iteration 2: the flag all-reduce, (R - 1) M; LAG-PS from iteration 2: the
//         server's flag broadcast, (R - 1) M
//   up    every sender on a rank other than 0: d S (rank 0's own workers send nothing);
//         LAG-WK from iteration 2: the flag all-reduce, (R - 1) M
// with S = sizeof(T), workers in contiguous blocks over the ranks (the first M mod R ranks one
// more), and the totals in summary.json the sums of the rows. Shared by the CPU (tests/mpi) and
// GPU (tests/mpi/gpu) byte tests, which differ only in --backend.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>

#include "../run_outputs.hpp"

namespace lag::test {

// The rank that holds worker m: contiguous blocks, sizes M / R, the first M % R one larger.
inline int owner_rank(int m, int workers, int ranks) {
  int first = 0;
  for (int r = 0; r < ranks; ++r) {
    const int size = workers / ranks + (r < workers % ranks ? 1 : 0);
    if (m < first + size) return r;
    first += size;
  }
  return -1;
}

inline std::uint64_t field(const std::map<std::string, std::string>& row, const char* name) {
  const auto it = row.find(name);
  if (it == row.end() || it->second.empty()) {
    ADD_FAILURE() << "metrics.csv has no value for " << name;
    return 0;
  }
  return std::stoull(it->second);
}

inline void expect_exact_ledger(const std::filesystem::path& run, int ranks, int workers,
                                std::uint64_t dim, std::uint64_t value_bytes) {
  const std::uint64_t R = static_cast<std::uint64_t>(ranks),
                      M = static_cast<std::uint64_t>(workers);
  const std::uint64_t vec = dim * value_bytes;
  std::map<std::string, std::map<std::string, std::uint64_t>> sums;
  std::size_t checked = 0;
  for (const auto& row : metrics_table(run / "metrics.csv")) {
    const std::string algo = row.at("algo");
    const std::uint64_t k = field(row, "iter");
    if (k == 0) continue;  // the start: nothing spent
    SCOPED_TRACE(algo + " iteration " + std::to_string(k) + " with " + std::to_string(ranks) +
                 " ranks");
    const std::string senders = row.at("senders");
    EXPECT_EQ(senders.size(), M);
    std::uint64_t sent = 0, remote = 0;
    for (int m = 0; m < static_cast<int>(senders.size()); ++m) {
      if (senders[static_cast<std::size_t>(m)] != '1') continue;
      ++sent;
      if (owner_rank(m, workers, ranks) != 0) ++remote;
    }
    const bool wk = algo == "lag-wk", ps = algo == "lag-ps";
    const bool iag = algo == "cyc-iag" || algo == "num-iag";
    const std::uint64_t computes = field(row, "computes");
    EXPECT_EQ(field(row, "uploads"), sent);
    if (algo == "gd" || wk || k == 1) {
      EXPECT_EQ(computes, M);
    }
    if (ps) {
      EXPECT_EQ(computes, sent) << "LAG-PS: every asked worker uploads";
    }
    if (iag && k > 1) {
      EXPECT_EQ(computes, 1u);
    }
    if (algo == "gd" || k == 1) {
      EXPECT_EQ(sent, M);
    }
    const std::uint64_t receivers = algo == "gd" || wk ? M : computes;
    EXPECT_EQ(field(row, "bytes_up"), sent * vec);
    EXPECT_EQ(field(row, "bytes_down"), receivers * vec);
    EXPECT_EQ(field(row, "control_bytes"), wk ? M * (value_bytes + 1) : 0u);
    const std::uint64_t flags_up = wk && k > 1 ? (R - 1) * M : 0;
    const std::uint64_t flags_down = (wk || ps) && k > 1 ? (R - 1) * M : 0;
    EXPECT_EQ(field(row, "physical_bytes_up"), remote * vec + flags_up);
    EXPECT_EQ(field(row, "physical_bytes_down"), (R - 1) * (vec + 8) + flags_down);
    for (const char* name : {"uploads", "computes", "bytes_up", "bytes_down", "control_bytes",
                             "physical_bytes_up", "physical_bytes_down"})
      sums[algo][name] += field(row, name);
    ++checked;
  }
  EXPECT_GT(checked, 0u);
  const auto summary = read_json(run / "summary.json");
  for (const auto& r : summary["runs"]) {
    const std::string algo = r["algo"];
    SCOPED_TRACE(algo + " totals with " + std::to_string(ranks) + " ranks");
    for (const auto& [name, total] : sums[algo])
      EXPECT_EQ(r[name].get<std::uint64_t>(), total) << name;
    EXPECT_EQ(r["gd_equivalent_bytes_up"].get<std::uint64_t>(),
              r["iterations"].get<std::uint64_t>() * M * vec);
  }
}

// The run the byte tests check: six workers (so that rank 0 holds several, and blocks are
// uneven on 4 ranks), d = 20, all five algorithms for 40 iterations, in the given precision.
struct LedgerRun {
  static constexpr int kWorkers = 6;
  static constexpr std::uint64_t kDim = 20;
  static std::string gen_args(const std::string& data) {
    return "gen paper-linear --workers " + std::to_string(kWorkers) + " --dim " +
           std::to_string(kDim) + " --out " + data;
  }
  static std::string train_args(const std::string& data, const std::string& precision,
                                const std::string& out) {
    return "train --data " + data +
           " --algo gd,lag-wk,lag-ps,cyc-iag,num-iag --quiet --max-iters 40 --precision " +
           precision + " --out " + out;
  }
  static void expect_exact(const std::filesystem::path& out, int ranks,
                           const std::string& precision) {
    expect_exact_ledger(out, ranks, kWorkers, kDim, precision == "fp32" ? 4 : 8);
  }
};

// The parameters of the byte tests: ranks (2, 4) and precision (fp32, fp64), named "2ranks_fp32".
using RanksAndPrecision = std::tuple<int, std::string>;
inline auto ranks_and_precisions() {
  return ::testing::Combine(::testing::Values(2, 4),
                            ::testing::Values(std::string("fp32"), std::string("fp64")));
}
inline std::string ranks_and_precision_name(
    const ::testing::TestParamInfo<RanksAndPrecision>& info) {
  return std::to_string(std::get<0>(info.param)) + "ranks_" + std::get<1>(info.param);
}

}  // namespace lag::test
