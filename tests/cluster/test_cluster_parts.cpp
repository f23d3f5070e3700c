// The parts of a cluster, each on its own (docs/architecture.md §4): the host server's step and
// aggregation, the CPU workers' trigger and packing, and the protocol of ComposedCluster over a
// scripted wire that plays one rank of a job: which messages a rank sends and receives, with
// which sizes, in which order rank 0 adds what it receives, and the physical bytes counted.
// The expected values are written here from the protocol's description, not from the code.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../test_helpers.hpp"
#include "cluster/composed_cluster.hpp"
#include "cluster/server/host_server.hpp"
#include "cluster/workers/cpu_workers.hpp"
#include "lag/trigger_rules.hpp"
#include "mpi/worker_blocks.hpp"

namespace lag {
namespace {

// Rounds of LAG's kinds: deltas, GD's gradients, and the LAG-WK rule at a threshold.
const Round kDelta{};
Round gradient_round() {
  Round r;
  r.upload = Round::Upload::Gradient;
  return r;
}
Round wk_round(double tau) {
  Round r;
  r.trigger = Round::Trigger::LagWk;
  r.tau = tau;
  return r;
}

// ---- the host server ------------------------------------------------------------------------

TEST(HostServer, StepIsThetaMinusStepTimesAggregateAndReportsTheChange) {
  HostServer<double> s(3, 2, 0, 1);
  s.reset({1.0, -2.0, 0.5});
  s.begin_upload(false);
  const double a[3] = {4.0, 0.0, -8.0}, b[3] = {0.0, 2.0, 0.0};
  s.add(a, kDelta);
  s.add(b, kDelta);
  s.step(0.25);
  EXPECT_EQ(s.theta()[0], 0.0);   // 1 - 0.25 * 4
  EXPECT_EQ(s.theta()[1], -2.5);  // -2 - 0.25 * 2
  EXPECT_EQ(s.theta()[2], 2.5);   // 0.5 + 0.25 * 8
  EXPECT_EQ(s.scalars()[Server<double>::kChange2], 1.0 + 0.25 + 4.0);
  // The aggregate persists (lazy aggregation): a step without uploads moves theta again.
  s.begin_upload(false);
  s.step(1.0);
  EXPECT_EQ(s.theta()[0], -4.0);
  // GD replaces it.
  s.begin_upload(true);
  s.step(1.0);
  EXPECT_EQ(s.scalars()[Server<double>::kChange2], 0.0);
}

TEST(HostServer, AddsInTheOrderGiven) {
  // 1e16 + 1 - 1e16 is 0 or 1 depending on the order of the additions.
  HostServer<double> s(1, 3, 0, 1);
  s.reset({0.0});
  const double big = 1e16, one = 1.0, minus = -1e16;
  s.begin_upload(false);
  s.add(&big, kDelta);
  s.add(&one, kDelta);
  s.add(&minus, kDelta);
  s.step(-1.0);  // theta = aggregate
  EXPECT_EQ(s.theta()[0], (big + one) + minus);
  s.reset({0.0});
  s.begin_upload(false);
  s.add(&big, kDelta);
  s.add(&minus, kDelta);
  s.add(&one, kDelta);
  s.step(-1.0);
  EXPECT_EQ(s.theta()[0], (big + minus) + one);
  EXPECT_NE((big + one) + minus, (big + minus) + one);  // the test can tell the orders apart
}

TEST(HostServer, PsSelectAppliesTheRuleToTheStaleDistances) {
  HostServer<double> s(2, 3, 0, 1);
  s.reset({0.0, 0.0});
  s.sent(1);  // theta_hat_1 = (0, 0)
  s.begin_upload(false);
  const double g[2] = {-3.0, -4.0};
  s.add(g, kDelta);
  s.step(1.0);  // theta = (3, 4): workers 0 and 2 are 25 away (their theta_hat is the start)
  s.sent(2);    // theta_hat_2 = (3, 4): distance 0
  std::uint8_t selected[3] = {9, 9, 9};
  s.ps_select(24.0, {1.0, 1.0, 1.0}, selected);
  EXPECT_EQ(selected[0], 1);  // 1 * 25 > 24
  EXPECT_EQ(selected[1], 1);
  EXPECT_EQ(selected[2], 0);  // 0 > 24 is false
  s.ps_select(25.0, {1.0, 1.0, 1.0}, selected);
  EXPECT_EQ(selected[0], 0);  // the rule is strict
  s.ps_select(25.0, {1.1, 1.0, 1.0}, selected);
  EXPECT_EQ(selected[0], ps_fires(1.1, 25.0, 25.0) ? 1 : 0);
  EXPECT_EQ(selected[0], 1);
}

TEST(HostServer, OnlyRankZeroHoldsTheServersState) {
  HostServer<double> other(4, 6, 1, 3);
  other.reset({1, 2, 3, 4});
  EXPECT_EQ(other.theta()[3], 4.0);  // the replica
  HostServer<double> server(4, 6, 0, 3);
  // Room for each other rank's block: ranks 1 and 2 hold 2 workers each.
  server.inbox(1, 0)[2 * 4 * sizeof(double) - 1] = 1;
  server.inbox(2, 0)[2 * 4 * sizeof(double) - 1] = 1;
  // Grown for larger payloads.
  server.inbox(1, 1000)[999] = 1;
}

// ---- the CPU workers --------------------------------------------------------------------------

std::vector<const Shard<double>*> all_shards(const Dataset<double>& d) {
  std::vector<const Shard<double>*> out;
  for (const auto& s : d.shards) out.push_back(&s);
  return out;
}

TEST(CpuWorkers, TriggerSetsOnlyItsOwnFlagsAndClearsTheRest) {
  const Dataset<double> data = test::gaussian_data(3, 20, 4, false, 0.1, 7);
  ThreadPool pool(1);
  CpuWorkers<double> w(all_shards(data), data.dim, ModelSpec{}, pool);
  w.reset({}, 0);
  const std::vector<double> theta(4, 0.5);
  w.compute({1, 1, 1}, theta.data());
  std::vector<double> norms;
  for (std::size_t i = 0; i < 3; ++i) norms.push_back(w.delta_norm2(i));
  ASSERT_GT(norms[0], 0.0);
  std::vector<std::uint8_t> flags(8, 7);
  const double tau = norms[1];  // worker 1 sits exactly at the threshold: it does not fire
  w.trigger(wk_round(tau), {1, 1, 0}, flags.data(), 2, flags.size());
  const std::vector<std::uint8_t> expected = {
      0, 0, static_cast<std::uint8_t>(norms[0] > tau), 0, 0, 0, 0, 0};
  EXPECT_EQ(flags, expected);
}

TEST(CpuWorkers, PackPutsTheSendersVectorsInWorkerOrder) {
  const Dataset<double> data = test::gaussian_data(3, 10, 2, false, 0.1, 3);
  ThreadPool pool(1);
  CpuWorkers<double> w(all_shards(data), data.dim, ModelSpec{}, pool);
  w.reset({}, 0);
  const std::vector<double> theta(2, 0.25);
  w.compute({1, 1, 1}, theta.data());
  const auto* packed = static_cast<const double*>(w.pack({1, 0, 1}, gradient_round()));
  EXPECT_EQ(std::vector<double>(packed, packed + 2), w.g(0));
  EXPECT_EQ(std::vector<double>(packed + 2, packed + 4), w.g(2));
  packed = static_cast<const double*>(w.pack({0, 1, 0}, kDelta));
  EXPECT_EQ(std::vector<double>(packed, packed + 2), w.delta(1));
}

// ---- the protocol over a scripted wire ---------------------------------------------------------

// One rank of a job of `size` ranks. It records every operation, delivers scripted payloads to
// receives, and (like MPI) moves downloads only at wait(), so that a protocol reading a
// download early reads stale bytes.
class ScriptedWire final : public Wire {
 public:
  struct Op {
    std::string kind;
    std::size_t bytes;
    int peer;  // root, destination or source; -1 for the all-reduce
  };
  ScriptedWire(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void broadcast(void*, std::size_t bytes, int root, const char*) override {
    ops.push_back({"broadcast", bytes, root});
  }
  void max_bytes(std::uint8_t* flags, std::size_t n, const char*) override {
    ops.push_back({"max", n, -1});
    for (std::size_t m = 0; m < n && m < other_flags.size(); ++m)
      flags[m] = std::max(flags[m], other_flags[m]);
  }
  void send(const void* buf, std::size_t bytes, int to, const char*) override {
    ops.push_back({"send", bytes, to});
    const auto* p = static_cast<const double*>(buf);
    sent[to].assign(p, p + bytes / sizeof(double));
  }
  void recv(void* buf, std::size_t bytes, int from, const char*) override {
    ops.push_back({"recv", bytes, from});
    const std::vector<double>& v = payload[from];
    std::memcpy(buf, v.data(), std::min(bytes, v.size() * sizeof(double)));
  }
  void fence(const char*, int) override {}
  void download(void* host, const void* src, std::size_t bytes) override {
    downloads.push_back({host, src, bytes});
  }
  void wait(const char*, int) override {
    for (const auto& d : downloads) std::memmove(d.host, d.src, d.bytes);
    downloads.clear();
  }
  void gather(const double* mine, std::vector<double>& all, const std::vector<int>& counts, int,
              const char*) override {
    all.clear();
    for (int r = 0; r < size_; ++r)
      for (int i = 0; i < counts[static_cast<std::size_t>(r)]; ++i)
        all.push_back(r == rank_ ? mine[i] : 0.0);
  }
  void broadcast_host(double*, int, int, const char*) override {}
  bool root_decision(bool value) override { return value; }
  void max_host(double*, int, const char*) override {}

  std::vector<Op> ops;
  std::map<int, std::vector<double>> payload;  // what a receive from rank r gets
  std::map<int, std::vector<double>> sent;     // what was sent to rank r
  Flags other_flags;                           // the other ranks' trigger flags

 private:
  struct Download {
    void* host;
    const void* src;
    std::size_t bytes;
  };
  std::vector<Download> downloads;
  int rank_, size_;
};

struct Job {
  static constexpr int kWorkers = 6, kRanks = 3;
  static constexpr std::size_t kDim = 3;
  Dataset<double> data = test::gaussian_data(kWorkers, 12, kDim, false, 0.1, 11);
  ThreadPool pool{1};
  ScriptedWire* wire = nullptr;
  std::unique_ptr<ComposedCluster<double>> cluster;

  explicit Job(int rank) {
    const mpi::WorkerBlock b = mpi::worker_block(kWorkers, kRanks, rank);
    std::vector<const Shard<double>*> mine;
    for (int m = b.first; m < b.end(); ++m)
      mine.push_back(&data.shards[static_cast<std::size_t>(m)]);
    auto w = std::make_unique<ScriptedWire>(rank, kRanks);
    wire = w.get();
    cluster = std::make_unique<ComposedCluster<double>>(
        kWorkers, nullptr, std::make_unique<CpuWorkers<double>>(mine, kDim, ModelSpec{}, pool),
        std::make_unique<HostServer<double>>(kDim, kWorkers, rank, kRanks), std::move(w));
    cluster->reset({}, {});
  }
};

constexpr std::size_t kVector = Job::kDim * sizeof(double);

TEST(Protocol, RankZeroReceivesExactlyFromTheRanksThatSendAndAddsInWorkerOrder) {
  Job job(0);  // workers 0, 1 here; 2, 3 on rank 1; 4, 5 on rank 2
  const Flags all(6, 1), senders = {1, 0, 1, 1, 0, 0};
  job.cluster->compute(all);
  // Rank 1's packed uploads (workers 2 and 3), chosen so that the order of additions shows.
  job.wire->payload[1] = {1e16, 1.0, -3.0, -1e16, 2.0, 0.5};
  job.wire->ops.clear();
  job.cluster->upload(senders, gradient_round());
  ASSERT_EQ(job.wire->ops.size(), 1u);  // one receive, from rank 1; nothing from rank 2
  EXPECT_EQ(job.wire->ops[0].kind, "recv");
  EXPECT_EQ(job.wire->ops[0].peer, 1);
  EXPECT_EQ(job.wire->ops[0].bytes, 2 * kVector);
  job.cluster->step(-1.0);  // theta = the aggregate
  // Worker 0's gradient, then worker 2's, then worker 3's: left to right.
  const std::vector<double> theta = job.cluster->theta();
  ThreadPool pool(1);
  CpuWorkers<double> reference({&job.data.shards[0]}, Job::kDim, ModelSpec{}, pool);
  reference.reset({}, 0);
  const std::vector<double> zero(Job::kDim, 0.0);
  reference.compute({1}, zero.data());
  const std::vector<double>& g0 = reference.g(0);
  const std::vector<double>& p = job.wire->payload[1];
  for (std::size_t j = 0; j < Job::kDim; ++j)
    EXPECT_EQ(theta[j], (g0[j] + p[j]) + p[Job::kDim + j]) << j;
  std::uint64_t up = 0, down = 0;
  job.cluster->take_physical_bytes(up, down);
  EXPECT_EQ(up, 2 * kVector);                       // rank 1's two vectors
  EXPECT_EQ(down, 2 * (kVector + sizeof(double)));  // theta and the step norm, to 2 ranks
}

TEST(Protocol, ARankSendsOneMessageOfItsSendersOrNothing) {
  const Flags all(6, 1);
  Job one(1);
  one.cluster->compute(all);
  one.wire->ops.clear();
  one.cluster->upload({1, 0, 1, 1, 0, 0}, gradient_round());
  ASSERT_EQ(one.wire->ops.size(), 1u);
  EXPECT_EQ(one.wire->ops[0].kind, "send");
  EXPECT_EQ(one.wire->ops[0].peer, 0);
  EXPECT_EQ(one.wire->ops[0].bytes, 2 * kVector);
  EXPECT_EQ(one.wire->sent[0].size(), 2 * Job::kDim);
  std::uint64_t up = 0, down = 0;
  one.cluster->take_physical_bytes(up, down);
  EXPECT_EQ(up, 2 * kVector);  // the job's count, the same on every rank

  Job two(2);  // no senders among workers 4 and 5: no message at all
  two.cluster->compute(all);
  two.wire->ops.clear();
  two.cluster->upload({1, 0, 1, 1, 0, 0}, gradient_round());
  EXPECT_TRUE(two.wire->ops.empty());
  two.cluster->take_physical_bytes(up, down);
  EXPECT_EQ(up, 2 * kVector);
}

TEST(Protocol, FlagsAreAgreedByOneMaximumAndCountedForEveryOtherRank) {
  Job job(1);
  job.cluster->compute(Flags(6, 1));
  job.wire->other_flags = {1, 0, 0, 0, 0, 1};  // rank 0 fires worker 0, rank 2 worker 5
  job.wire->ops.clear();
  Flags fire;
  job.cluster->trigger(wk_round(0.0), Flags(6, 1), fire);  // tau 0: this rank's 2 and 3 fire
  const Flags expected = {1, 0, 1, 1, 0, 1};
  EXPECT_EQ(fire, expected);
  ASSERT_EQ(job.wire->ops.size(), 1u);
  EXPECT_EQ(job.wire->ops[0].kind, "max");
  EXPECT_EQ(job.wire->ops[0].bytes, 6u);
  std::uint64_t up = 0, down = 0;
  job.cluster->take_physical_bytes(up, down);
  EXPECT_EQ(up, 2u * 6u);
  EXPECT_EQ(down, 2u * 6u);
}

TEST(Protocol, LagPsSelectionComesFromRankZeroAndOnlyTheSelectedCompute) {
  Job job(1);
  job.wire->ops.clear();
  Flags selected;
  // Rank 1 does not apply the rule: the broadcast (scripted here as leaving the buffer, all
  // zeros) decides, so no worker computes.
  job.cluster->select_and_compute(0.0, std::vector<double>(6, 1.0), Flags(6, 0), selected);
  EXPECT_EQ(selected, Flags(6, 0));
  ASSERT_EQ(job.wire->ops.size(), 1u);
  EXPECT_EQ(job.wire->ops[0].kind, "broadcast");
  EXPECT_EQ(job.wire->ops[0].peer, 0);
  EXPECT_EQ(job.wire->ops[0].bytes, 6u);
  std::uint64_t up = 0, down = 0;
  job.cluster->take_physical_bytes(up, down);
  EXPECT_EQ(up, 0u);
  EXPECT_EQ(down, 2u * 6u);
}

TEST(Protocol, TheEvaluationsRunningSumTravelsFromRankToRank) {
  Job first(0);
  first.wire->ops.clear();
  first.cluster->evaluate();  // computes every worker (monitoring), adds workers 0 and 1, sends
  ASSERT_EQ(first.wire->ops.size(), 1u);
  EXPECT_EQ(first.wire->ops[0].kind, "send");
  EXPECT_EQ(first.wire->ops[0].peer, 1);
  EXPECT_EQ(first.wire->ops[0].bytes, kVector);

  Job last(2);
  last.wire->payload[1] = {0.5, -1e16, 3.0};  // the sum of workers 0 to 3
  last.wire->ops.clear();
  const Evaluation e = last.cluster->evaluate();
  ASSERT_EQ(last.wire->ops.size(), 1u);
  EXPECT_EQ(last.wire->ops[0].kind, "recv");
  EXPECT_EQ(last.wire->ops[0].peer, 1);
  ThreadPool pool(1);
  CpuWorkers<double> reference({&last.data.shards[4], &last.data.shards[5]}, Job::kDim, ModelSpec{},
                               pool);
  reference.reset({}, 0);
  const std::vector<double> zero(Job::kDim, 0.0);
  reference.compute({1, 1}, zero.data());
  double norm2 = 0;
  for (std::size_t j = 0; j < Job::kDim; ++j) {
    const double g = (last.wire->payload[1][j] + reference.g(0)[j]) + reference.g(1)[j];
    norm2 += g * g;
  }
  EXPECT_EQ(e.grad_norm, std::sqrt(norm2));
  // The losses gathered (the scripted other ranks' are 0) and added in worker order.
  double records[2];
  for (std::size_t i = 0; i < 2; ++i) records[i] = *reference.loss_record(i);
  EXPECT_EQ(e.loss, (0.0 + records[0]) + records[1]);
}

TEST(Protocol, OneRankMovesNothing) {
  const Dataset<double> data = test::gaussian_data(3, 10, 2, false, 0.1, 5);
  ThreadPool pool(1);
  auto w = std::make_unique<ScriptedWire>(0, 1);
  ScriptedWire* wire = w.get();
  ComposedCluster<double> c(
      3, nullptr, std::make_unique<CpuWorkers<double>>(all_shards(data), 2, ModelSpec{}, pool),
      std::make_unique<HostServer<double>>(2, 3, 0, 1), std::move(w));
  c.reset({}, {});
  Flags fire;
  c.compute(Flags(3, 1));
  c.exchange(wk_round(0.0), Flags(3, 1), 0.1, fire);
  c.evaluate();
  EXPECT_TRUE(wire->ops.empty());
  std::uint64_t up = 1, down = 1;
  c.take_physical_bytes(up, down);
  EXPECT_EQ(up + down, 0u);
}

}  // namespace
}  // namespace lag
