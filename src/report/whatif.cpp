// The what-if model and its units (the formula is documented in lag/whatif.hpp).
#include "lag/whatif.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "lag/error.hpp"

namespace lag::whatif {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// Splits "12.5 Gbps" into 12.5 and "Gbps"; false when it does not start with a number.
bool split_number(const std::string& text, double& value, std::string& unit) {
  const std::string t = trim(text);
  const char* begin = t.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin) return false;
  unit = trim(std::string(end));
  return true;
}

template <class Parse>
auto parse_list(const std::string& text, Parse parse, const char* what) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty()) throw Error("empty " + std::string(what) + " in the list '" + text + "'");
    out.push_back(parse(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string format_scaled(double value, const char* const* units, const double* scales, int n) {
  int k = n - 1;  // the smallest unit when nothing larger keeps the number >= 1
  for (int i = 0; i < n; ++i)
    if (value >= scales[i]) {
      k = i;
      break;
    }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", value / scales[k], units[k]);
  return buf;
}

}  // namespace

double parse_bandwidth(const std::string& text) {
  double value = 0;
  std::string unit;
  if (!split_number(text, value, unit))
    throw Error("'" + text + "' is not a bandwidth (for example 10Gbps)");
  if (unit.empty())
    throw Error("bandwidth '" + text + "' needs a unit: bps, Kbps, Mbps, Gbps or Tbps");
  double scale = 1;
  std::string rest = unit;
  switch (unit[0]) {
    case 'k':
    case 'K':
      scale = 1e3;
      break;
    case 'm':
    case 'M':  // no one means millibits per second
      scale = 1e6;
      break;
    case 'g':
    case 'G':
      scale = 1e9;
      break;
    case 't':
    case 'T':
      scale = 1e12;
      break;
    default:
      break;
  }
  if (scale != 1) rest = unit.substr(1);
  if (!rest.empty() && rest[0] == 'B')
    throw Error("bandwidth '" + text + "' is in bytes per second; give bits (for example " +
                "80Gbps for 10GB/s)");
  if (rest != "bps" && rest != "b/s" && rest != "bit/s")
    throw Error("bandwidth '" + text + "': unknown unit '" + unit +
                "' (bps, Kbps, Mbps, Gbps or Tbps)");
  const double bps = value * scale;
  if (!std::isfinite(bps) || bps <= 0)
    throw Error("bandwidth '" + text + "' must be a positive number");
  return bps;
}

double parse_duration(const std::string& text) {
  double value = 0;
  std::string unit;
  if (!split_number(text, value, unit))
    throw Error("'" + text + "' is not a duration (for example 50us)");
  // Divide by an exact power of ten, so that "50us" is the double nearest 50e-6 (multiplying
  // by the inexact 1e-6 is not).
  double per_second = 0;
  if (unit == "s")
    per_second = 1;
  else if (unit == "ms")
    per_second = 1e3;
  else if (unit == "us" || unit == "\xC2\xB5s")  // also the micro sign
    per_second = 1e6;
  else if (unit == "ns")
    per_second = 1e9;
  else if (unit.empty())
    throw Error("duration '" + text + "' needs a unit: s, ms, us or ns");
  else
    throw Error("duration '" + text + "': unknown unit '" + unit + "' (s, ms, us or ns)");
  const double s = value / per_second;
  if (!std::isfinite(s) || s < 0) throw Error("duration '" + text + "' must be >= 0");
  return s;
}

std::vector<double> parse_bandwidth_list(const std::string& text) {
  return parse_list(text, parse_bandwidth, "bandwidth");
}

std::vector<double> parse_duration_list(const std::string& text) {
  return parse_list(text, parse_duration, "duration");
}

std::string format_bandwidth(double bps) {
  static const char* const units[] = {"Tbps", "Gbps", "Mbps", "Kbps", "bps"};
  static const double scales[] = {1e12, 1e9, 1e6, 1e3, 1};
  return format_scaled(bps, units, scales, 5);
}

std::string format_duration(double seconds) {
  if (seconds == 0) return "0s";
  static const char* const units[] = {"s", "ms", "us", "ns"};
  static const double scales[] = {1, 1e-3, 1e-6, 1e-9};
  return format_scaled(seconds, units, scales, 4);
}

int rounds_of(std::uint64_t bytes_down, std::uint64_t bytes_up, std::uint64_t control_bytes) {
  const bool control = control_bytes > 0;  // LAG-WK: tau goes down, a flag comes back
  return (bytes_down > 0 || control ? 1 : 0) + (bytes_up > 0 || control ? 1 : 0);
}

Prediction predict(const Workload& w, const Link& link,
                   std::optional<double> compute_per_iteration) {
  Prediction p;
  p.algo = w.algo;
  p.link = link;
  p.iterations = w.iterations;
  p.rounds = w.rounds;
  p.bytes = w.bytes();
  p.compute_seconds = compute_per_iteration
                          ? static_cast<double>(w.iterations) * *compute_per_iteration
                          : w.compute_seconds;
  p.communication_seconds = link.latency_s * static_cast<double>(w.rounds) +
                            8.0 * static_cast<double>(p.bytes) / link.bandwidth_bps;
  return p;
}

std::vector<Prediction> predict_all(const std::vector<Workload>& workloads,
                                    const std::vector<Link>& links,
                                    std::optional<double> compute_per_iteration) {
  const Workload* gd = nullptr;
  for (const auto& w : workloads)
    if (w.algo == "gd") gd = &w;
  std::vector<Prediction> out;
  for (const Link& link : links) {
    const double gd_seconds = gd ? predict(*gd, link, compute_per_iteration).seconds() : 0.0;
    for (const Workload& w : workloads) {
      Prediction p = predict(w, link, compute_per_iteration);
      if (gd && p.seconds() > 0) p.speedup_vs_gd = gd_seconds / p.seconds();
      out.push_back(p);
    }
  }
  return out;
}

BreakEven break_even(const Prediction& a, const Prediction& gd) {
  const double lat = a.link.latency_s;
  const double df = (a.compute_seconds + lat * static_cast<double>(a.rounds)) -
                    (gd.compute_seconds + lat * static_cast<double>(gd.rounds));
  const double dy = static_cast<double>(gd.bytes) - static_cast<double>(a.bytes);
  BreakEven b;
  if (dy > 0) {
    if (df <= 0) {
      b.kind = BreakEven::Always;
    } else {
      b.kind = BreakEven::Below;
      b.bandwidth_bps = 8.0 * dy / df;
    }
  } else if (dy == 0) {
    b.kind = df < 0 ? BreakEven::Always : BreakEven::Never;
  } else if (df < 0) {
    b.kind = BreakEven::Above;
    b.bandwidth_bps = 8.0 * dy / df;
  }
  return b;
}

}  // namespace lag::whatif
