// Network what-if: the wall time a run would have taken on a given network, predicted from its
// ledger (metrics.csv), so that a user sees on which links LAG pays off.
//
// The model (the one place it is defined; docs/benchmarks.md repeats it):
//
//   Parameter-server star; the server's link (bandwidth B bits/s, one-way latency lat) is the
//   bottleneck: every byte of the iteration crosses it, the workers' own links are assumed at
//   least as fast. Iteration k costs
//
//     t_k = c_k + lat * rounds_k + 8 * (bytes_down_k + bytes_up_k + control_bytes_k) / B
//
//     rounds_k = [bytes_down_k > 0 or control_bytes_k > 0]    theta (and LAG-WK's tau) go down
//              + [bytes_up_k   > 0 or control_bytes_k > 0]    deltas (and LAG-WK's flags) go up
//
//   and a run costs T = sum_k t_k = C + lat * R + 8 * Y / B  (C = sum c_k, R = sum rounds_k,
//   Y = all logical bytes). Why this shape:
//   * The phases are sequential: a worker needs theta^k before it can compute and upload, and
//     the server needs every upload before it steps. So the down and up phases add up, even on a
//     full-duplex link, and nothing overlaps across iterations (the algorithms are synchronous).
//   * Within a phase the server's messages to (or from) the M workers queue on its one link:
//     their latencies overlap, so a phase pays one latency plus its bytes at the link's rate.
//   * A LAG-WK worker always answers with its trigger flag (the ledger's control bytes travel
//     both ways), so LAG-WK pays both latencies every iteration even when nobody uploads;
//     LAG-PS and the IAGs skip the up phase of a worker the server did not ask, and an
//     iteration with no traffic at all costs only its compute.
//   * Bytes are the ledger's logical bytes (the paper's model: every worker a node).
//   c_k, the compute time, is the run's measured training time spread evenly over its
//   iterations (C = wall_seconds: all M workers' gradients on the machine and threads the run
//   used, and the server's step), or a per-iteration time the user gives (for example one
//   worker's gradient time, when every worker has its own machine).
//   Not modelled: message headers and protocol overheads, congestion control ramp-up, overlap of
//   compute with communication, a tree or all-reduce topology.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace lag::whatif {

// A link model: bandwidth in bits per second and one-way latency in seconds.
struct Link {
  double bandwidth_bps = 0.0;
  double latency_s = 0.0;
};

// "10Gbps" -> 1e10. SI prefixes (k/K, M/m, G/g, T/t: powers of 1000) on bps, b/s or bit/s;
// the unit is required. Throws lag::Error naming the text (bytes as "B", no unit, not positive).
double parse_bandwidth(const std::string& text);
// "50us" -> 5e-5. Units s, ms, us, ns; the unit is required; must be >= 0.
double parse_duration(const std::string& text);
// Comma lists of the two; an empty element or an empty list is an error.
std::vector<double> parse_bandwidth_list(const std::string& text);
std::vector<double> parse_duration_list(const std::string& text);
// 1e10 -> "10Gbps", 5e-5 -> "50us": the largest unit that keeps the number >= 1, up to 4
// significant digits (parse_* reads it back).
std::string format_bandwidth(double bps);
std::string format_duration(double seconds);

// One run of the ledger reduced to what the model needs.
struct Workload {
  std::string algo;
  std::int64_t iterations = 0;
  double compute_seconds = 0.0;  // C: measured training time of the whole run
  std::uint64_t rounds = 0;      // R
  std::uint64_t bytes_down = 0;  // sum over the iterations of the ledger's columns
  std::uint64_t bytes_up = 0;
  std::uint64_t control_bytes = 0;
  std::uint64_t bytes() const { return bytes_down + bytes_up + control_bytes; }
};

// The rounds (0, 1 or 2) an iteration with this traffic pays latency for.
int rounds_of(std::uint64_t bytes_down, std::uint64_t bytes_up, std::uint64_t control_bytes);

// Reads metrics.csv (as `lag train` writes it; columns found by name, extra columns ignored):
// one workload per algorithm in order of first appearance, its traffic summed over the rows
// iter >= 1 (row 0 spent nothing), its compute time the wall_seconds of its last row. `name` is
// used in error messages. Throws lag::InputError (file:line) for a missing column, a field that is
// not a number, or a file without data rows.
std::vector<Workload> read_workloads(std::istream& in, const std::string& name);

struct Prediction {
  std::string algo;
  Link link;
  std::int64_t iterations = 0;
  std::uint64_t rounds = 0;
  std::uint64_t bytes = 0;
  double compute_seconds = 0.0;        // C
  double communication_seconds = 0.0;  // lat * R + 8 Y / B
  double seconds() const { return compute_seconds + communication_seconds; }
  double communication_share() const {
    return seconds() > 0 ? communication_seconds / seconds() : 0.0;
  }
  std::optional<double> speedup_vs_gd;  // T_GD / T on the same link, when GD is in the run
};

// T for one workload on one link; compute_per_iteration, when given, replaces the measured C by
// iterations * compute_per_iteration.
Prediction predict(const Workload& w, const Link& link,
                   std::optional<double> compute_per_iteration = std::nullopt);

// Every workload on every link (links in the order given, workloads within), with speed-ups
// against the workload named "gd" when there is one.
std::vector<Prediction> predict_all(const std::vector<Workload>& workloads,
                                    const std::vector<Link>& links,
                                    std::optional<double> compute_per_iteration = std::nullopt);

// Where an algorithm's T(B) crosses GD's at a fixed latency. With F = C + lat * R, A is faster
// than GD iff F_A - F_GD < 8 (Y_GD - Y_A) / B, so:
//   Always  faster at every bandwidth (F_A <= F_GD and Y_A < Y_GD, or F_A < F_GD and Y_A = Y_GD)
//   Below   faster iff B < bandwidth_bps (A moves fewer bytes but costs more compute/latency)
//   Above   faster iff B > bandwidth_bps (A moves more bytes but costs less compute/latency)
//   Never   not faster at any bandwidth
struct BreakEven {
  enum Kind { Always, Below, Above, Never } kind = Never;
  double bandwidth_bps = 0.0;
};
BreakEven break_even(const Prediction& algo, const Prediction& gd);

// Fixed-width table: one row per algorithm and link (seconds, communication share, speed-up vs
// GD), then one line per algorithm saying at which bandwidths it beats GD at each latency.
void print_table(std::ostream& out, const std::vector<Prediction>& predictions);

// CSV with a header: algo, bandwidth_bps, latency_s, iterations, rounds, bytes, compute_s,
// communication_s, predicted_s, communication_share, speedup_vs_gd (empty without GD). Reals
// with 10 significant digits.
void write_csv(std::ostream& out, const std::vector<Prediction>& predictions);

}  // namespace lag::whatif
