// The what-if's input and outputs: metrics.csv in, the table and the CSV out.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "lag/error.hpp"
#include "lag/whatif.hpp"

namespace lag::whatif {

namespace {

struct Field {
  std::string text;
  std::size_t column = 0;  // 1-based character column, for error messages
};

std::vector<Field> split_csv_line(const std::string& line) {
  std::vector<Field> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    const std::size_t end = comma == std::string::npos ? line.size() : comma;
    out.push_back({line.substr(start, end - start), start + 1});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The columns read_workloads needs, found by name in the header.
struct Columns {
  std::size_t algo, iter, bytes_up, bytes_down, control_bytes, wall_seconds;
};

Columns find_columns(const std::string& header, const std::string& name) {
  const auto fields = split_csv_line(header);
  auto at = [&](const char* want) {
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].text == want) return i;
    throw InputError(name, 1, 0,
                     "no column '" + std::string(want) +
                         "' in the header (is this a metrics.csv written by lag train?)");
  };
  return {at("algo"),       at("iter"),          at("bytes_up"),
          at("bytes_down"), at("control_bytes"), at("wall_seconds")};
}

std::uint64_t to_count(const Field& f, const std::string& name, std::size_t line) {
  const char* s = f.text.c_str();
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (f.text.empty() || end != s + f.text.size() || errno == ERANGE || f.text[0] == '-')
    throw InputError(name, line, f.column, "'" + f.text + "' is not a non-negative integer");
  return v;
}

double to_real(const Field& f, const std::string& name, std::size_t line) {
  const char* s = f.text.c_str();
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (f.text.empty() || end != s + f.text.size() || !std::isfinite(v))
    throw InputError(name, line, f.column, "'" + f.text + "' is not a number");
  return v;
}

std::string real(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

std::vector<Workload> read_workloads(std::istream& in, const std::string& name) {
  std::string line;
  if (!std::getline(in, line)) throw InputError(name, 0, 0, "empty file (no header)");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const Columns c = find_columns(line, name);
  const std::size_t needed =
      std::max({c.algo, c.iter, c.bytes_up, c.bytes_down, c.control_bytes, c.wall_seconds}) + 1;
  std::vector<Workload> out;
  std::map<std::string, std::size_t> index;  // algo -> position in out
  std::size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto f = split_csv_line(line);
    if (f.size() < needed)
      throw InputError(name, line_no, 0,
                       "has " + std::to_string(f.size()) + " fields, the header needs at least " +
                           std::to_string(needed));
    const std::string& algo = f[c.algo].text;
    if (algo.empty()) throw InputError(name, line_no, 1, "empty algo field");
    auto [it, fresh] = index.emplace(algo, out.size());
    if (fresh) out.push_back(Workload{algo});
    Workload& w = out[it->second];
    const auto iter = static_cast<std::int64_t>(to_count(f[c.iter], name, line_no));
    const std::uint64_t down = to_count(f[c.bytes_down], name, line_no);
    const std::uint64_t up = to_count(f[c.bytes_up], name, line_no);
    const std::uint64_t control = to_count(f[c.control_bytes], name, line_no);
    w.compute_seconds = to_real(f[c.wall_seconds], name, line_no);  // cumulative: keep the last
    if (iter == 0) continue;  // the starting point: nothing spent
    w.iterations = std::max(w.iterations, iter);
    w.bytes_down += down;
    w.bytes_up += up;
    w.control_bytes += control;
    w.rounds += static_cast<std::uint64_t>(rounds_of(down, up, control));
  }
  if (out.empty()) throw InputError(name, 0, 0, "no data rows");
  return out;
}

void print_table(std::ostream& out, const std::vector<Prediction>& predictions) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-10s %-8s %-9s %7s %8s %10s %11s %11s %11s %7s %7s\n",
                "bandwidth", "latency", "algo", "iters", "rounds", "MB moved", "compute s",
                "comm s", "total s", "comm %", "vs GD");
  out << buf;
  const Link* previous = nullptr;
  for (const Prediction& p : predictions) {
    if (previous && (previous->bandwidth_bps != p.link.bandwidth_bps ||
                     previous->latency_s != p.link.latency_s))
      out << "\n";
    previous = &p.link;
    char speedup[32] = "-";
    if (p.speedup_vs_gd) std::snprintf(speedup, sizeof speedup, "%.2fx", *p.speedup_vs_gd);
    std::snprintf(buf, sizeof buf,
                  "%-10s %-8s %-9s %7lld %8llu %10.3f %11.4g %11.4g %11.4g %6.1f%% %7s\n",
                  format_bandwidth(p.link.bandwidth_bps).c_str(),
                  format_duration(p.link.latency_s).c_str(), p.algo.c_str(),
                  static_cast<long long>(p.iterations), static_cast<unsigned long long>(p.rounds),
                  static_cast<double>(p.bytes) / 1e6, p.compute_seconds, p.communication_seconds,
                  p.seconds(), 100.0 * p.communication_share(), speedup);
    out << buf;
  }
  // Break-even per latency: one line per algorithm other than GD.
  std::vector<double> latencies;
  for (const Prediction& p : predictions)
    if (std::find(latencies.begin(), latencies.end(), p.link.latency_s) == latencies.end())
      latencies.push_back(p.link.latency_s);
  for (double lat : latencies) {
    const Prediction* gd = nullptr;
    for (const Prediction& p : predictions)
      if (p.algo == "gd" && p.link.latency_s == lat) gd = &p;
    if (!gd) return;  // no GD run: nothing to compare with
    out << "\nagainst GD at latency " << format_duration(lat)
        << " (bandwidth where the predicted times cross):\n";
    std::vector<std::string> done;
    for (const Prediction& p : predictions) {
      if (p.link.latency_s != lat || p.algo == "gd") continue;
      if (std::find(done.begin(), done.end(), p.algo) != done.end()) continue;
      done.push_back(p.algo);
      const BreakEven b = break_even(p, *gd);
      std::string verdict;
      switch (b.kind) {
        case BreakEven::Always:
          verdict = "faster at every bandwidth";
          break;
        case BreakEven::Below:
          verdict = "faster below " + format_bandwidth(b.bandwidth_bps);
          break;
        case BreakEven::Above:
          verdict = "faster above " + format_bandwidth(b.bandwidth_bps);
          break;
        case BreakEven::Never:
          verdict = "not faster at any bandwidth";
          break;
      }
      std::snprintf(buf, sizeof buf, "  %-9s %s\n", p.algo.c_str(), verdict.c_str());
      out << buf;
    }
  }
}

void write_csv(std::ostream& out, const std::vector<Prediction>& predictions) {
  out << "algo,bandwidth_bps,latency_s,iterations,rounds,bytes,compute_s,communication_s,"
         "predicted_s,communication_share,speedup_vs_gd\n";
  for (const Prediction& p : predictions) {
    out << p.algo << ',' << real(p.link.bandwidth_bps) << ',' << real(p.link.latency_s) << ','
        << p.iterations << ',' << p.rounds << ',' << p.bytes << ',' << real(p.compute_seconds)
        << ',' << real(p.communication_seconds) << ',' << real(p.seconds()) << ','
        << real(p.communication_share()) << ','
        << (p.speedup_vs_gd ? real(*p.speedup_vs_gd) : std::string()) << '\n';
  }
}

}  // namespace lag::whatif
