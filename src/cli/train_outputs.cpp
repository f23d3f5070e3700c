#include "cli/train_outputs.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>

#include "common/atomic_file.hpp"
#include "lag/error.hpp"

namespace lag::cli {

namespace {

std::string io_error(const std::string& what, const std::string& path) {
  return "cannot " + what + " " + path + ": " + std::strerror(errno);
}

// JSON has no NaN: an unknown value is null.
nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

std::uint32_t crc_update(std::uint32_t crc, const char* data, std::size_t n) {
  return static_cast<std::uint32_t>(crc32_z(crc, reinterpret_cast<const Bytef*>(data), n));
}

MetricsWriter::MetricsWriter(const std::string& path, const MetricsMark* resume) : path_(path) {
  written_.crc = crc_update(0, nullptr, 0);
  if (!resume) {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) throw Error(io_error("create", path));
    append(
        "algo,iter,loss,objective_error,grad_norm,uploads,bytes_up,bytes_down,control_bytes,"
        "cum_uploads,cum_bytes_up,cum_bytes_down,cum_control_bytes,wall_seconds,test_loss,"
        "test_accuracy,computes,physical_bytes_up,physical_bytes_down,senders,epoch\n");
    return;
  }
  file_ = std::fopen(path.c_str(), "r+b");
  if (!file_) throw Error(io_error("open", path) + " (the run to resume wrote it)");
  // The rows up to the checkpoint must be the ones it was written after.
  char buffer[1 << 16];
  std::uint64_t left = resume->bytes;
  while (left > 0) {
    const std::size_t n =
        std::fread(buffer, 1, std::min<std::uint64_t>(left, sizeof buffer), file_);
    if (n == 0) break;
    written_.crc = crc_update(written_.crc, buffer, n);
    left -= n;
  }
  if (left > 0 || written_.crc != resume->crc)
    throw Error(path +
                " is not the one the checkpoint was written with (it was changed, cut "
                "or replaced since): cannot resume into it");
  written_.bytes = resume->bytes;
  if (::ftruncate(::fileno(file_), static_cast<off_t>(resume->bytes)) != 0 ||
      std::fseek(file_, 0, SEEK_END) != 0)
    throw Error(io_error("cut back", path));
}

void MetricsWriter::append(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), file_);
  written_.bytes += text.size();
  written_.crc = crc_update(written_.crc, text.data(), text.size());
}

MetricsMark MetricsWriter::mark() {
  if (std::fflush(file_) != 0 || std::ferror(file_) || ::fsync(::fileno(file_)) != 0)
    throw Error(io_error("write", path_));
  return written_;
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(const char* algo, const IterationRow& r) {
  // Unknown values (not evaluated, no L*, no test set) are empty fields.
  auto field = [](char* buf, std::size_t n, bool known, double v) {
    if (known && !std::isnan(v))
      std::snprintf(buf, n, "%.17g", v);
    else
      buf[0] = '\0';
  };
  char loss[32], gap[32], grad[32], test_loss[32], test_acc[32];
  field(loss, sizeof loss, r.evaluated, r.loss);
  field(gap, sizeof gap, r.evaluated, r.objective_error);
  field(grad, sizeof grad, r.evaluated, r.grad_norm);
  field(test_loss, sizeof test_loss, r.evaluated, r.test.loss);
  field(test_acc, sizeof test_acc, r.evaluated, r.test.accuracy);
  const auto& s = r.spent;
  const auto& c = r.cumulative;
  using ull = unsigned long long;
  // Senders as one character per worker in worker order ('1' uploaded), so that a reader can
  // check every byte count against who sent what.
  std::string senders(r.senders.size(), '0');
  for (std::size_t m = 0; m < r.senders.size(); ++m)
    if (r.senders[m]) senders[m] = '1';
  char numbers[512];
  std::snprintf(
      numbers, sizeof numbers,
      "%s,%lld,%s,%s,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.6f,%s,%s,%llu,%llu,%llu,", algo,
      static_cast<long long>(r.iter), loss, gap, grad, static_cast<ull>(s.uploads),
      static_cast<ull>(s.bytes_up), static_cast<ull>(s.bytes_down),
      static_cast<ull>(s.control_bytes), static_cast<ull>(c.uploads), static_cast<ull>(c.bytes_up),
      static_cast<ull>(c.bytes_down), static_cast<ull>(c.control_bytes), r.wall_seconds, test_loss,
      test_acc, static_cast<ull>(s.computes), static_cast<ull>(s.physical_bytes_up),
      static_cast<ull>(s.physical_bytes_down));
  char epoch[32];
  std::snprintf(epoch, sizeof epoch, ",%.6f\n", r.epoch);
  append(numbers + senders + epoch);
  // A full disk shows once the buffer is written out: end the run then, not at the end.
  if (std::ferror(file_)) throw Error(io_error("write", path_));
}

void MetricsWriter::close() {
  if (!file_) return;
  const bool failed = std::ferror(file_) != 0;
  const bool close_failed = std::fclose(file_) != 0;
  file_ = nullptr;
  if (failed || close_failed) throw Error(io_error("write", path_));
}

void write_weights(const std::string& path, const std::vector<double>& theta) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(io_error("create", path));
  for (double v : theta) std::fprintf(f, "%.17g\n", v);
  const bool failed = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || failed) throw Error(io_error("write", path));
}

void write_json(const std::string& path, const nlohmann::json& doc) {
  // A reader (or a crash) never sees half a document.
  write_file_atomically(path, doc.dump(2) + "\n", /*durable=*/true);
}

nlohmann::json run_json(const RunResult& r, const RunContext& c) {
  const Traffic& t = r.total;
  nlohmann::json j;
  j["algo"] = algorithm_name(r.algorithm);
  j["model"] = c.model;
  j["workers"] = c.workers;
  j["dim"] = c.dim;
  j["precision"] = c.precision;
  j["iterations"] = r.iterations;
  j["uploads"] = t.uploads;
  j["computes"] = t.computes;
  j["bytes_up"] = t.bytes_up;
  j["bytes_down"] = t.bytes_down;
  j["control_bytes"] = t.control_bytes;
  j["physical_bytes_up"] = t.physical_bytes_up;
  j["physical_bytes_down"] = t.physical_bytes_down;
  j["gd_equivalent_bytes_up"] = t.gd_equivalent_bytes_up;
  j["bytes_saved_fraction"] = t.bytes_saved_fraction();
  j["bytes_saved_per_iteration"] =
      r.iterations > 0 ? static_cast<double>(t.bytes_saved()) / static_cast<double>(r.iterations)
                       : 0.0;
  j["final_loss"] = number_or_null(r.final_loss);
  j["objective_error"] = number_or_null(r.objective_error);
  j["grad_norm"] = number_or_null(r.grad_norm);
  if (!std::isnan(r.test.loss)) {
    j["test_loss"] = number_or_null(r.test.loss);
    j["test_accuracy"] = number_or_null(r.test.accuracy);
  }
  j["stop_reason"] = stop_reason_name(r.stop_reason);
  if (!r.message.empty()) j["message"] = r.message;
  j["bits_per_upload"] = bits_per_upload(r.total);
  j["wall_seconds"] = r.wall_seconds;
  j["eval_seconds"] = r.eval_seconds;
  j["alpha"] = r.alpha;
  j["xi"] = r.xi;
  j["depth"] = c.depth;
  j["lambda"] = c.lambda;
  j["threads"] = c.threads;
  j["batch_size"] = r.batch_size;
  j["iterations_per_epoch"] = r.iterations_per_epoch;
  j["lr_schedule"] = step_schedule_name(r.schedule);
  if (r.batch_size > 0) {
    // Per epoch: what it spent, and what an every-worker baseline (SGD) would have sent more.
    nlohmann::json epochs = nlohmann::json::array();
    for (const EpochRow& e : r.epochs) {
      nlohmann::json row;
      row["epoch"] = e.epoch;
      row["iteration"] = e.iteration;
      row["uploads"] = e.spent.uploads;
      row["bytes_up"] = e.spent.bytes_up;
      row["bytes_down"] = e.spent.bytes_down;
      row["bytes_saved"] = e.spent.bytes_saved();
      row["cum_uploads"] = e.cumulative.uploads;
      row["cum_bytes_up"] = e.cumulative.bytes_up;
      row["cum_bytes_saved"] = e.cumulative.bytes_saved();
      row["loss"] = number_or_null(e.loss);
      if (!std::isnan(e.test.accuracy)) {
        row["test_loss"] = number_or_null(e.test.loss);
        row["test_accuracy"] = number_or_null(e.test.accuracy);
      }
      row["wall_seconds"] = e.wall_seconds;
      epochs.push_back(row);
    }
    j["epochs"] = epochs;
  }
  return j;
}

void print_epochs(std::ostream& out, const std::vector<RunResult>& runs) {
  for (const auto& r : runs) {
    if (r.batch_size == 0 || r.epochs.empty()) continue;
    const bool accuracy = !std::isnan(r.epochs.front().test.accuracy);
    out << algorithm_name(r.algorithm) << ", minibatches of " << r.batch_size << " rows, "
        << r.iterations_per_epoch << " iterations per epoch:\n";
    out << std::right << std::setw(7) << "epoch" << std::setw(8) << "iter" << std::setw(10)
        << "uploads" << std::setw(11) << "MB up" << std::setw(13) << "MB saved" << std::setw(9)
        << "saved" << std::setw(14) << "loss" << std::setw(10) << "time s"
        << (accuracy ? "  test acc" : "") << "\n";
    // At most about ten rows: every stride-th epoch and the last (all of them in summary.json).
    const std::size_t n = r.epochs.size(), stride = (n + 9) / 10;
    for (std::size_t i = 0; i < n; ++i) {
      if ((i + 1) % stride != 0 && i + 1 != n) continue;
      const EpochRow& e = r.epochs[i];
      const Traffic& t = e.spent;
      out << std::setw(7) << e.epoch << std::setw(8) << e.iteration << std::setw(10) << t.uploads
          << std::fixed << std::setprecision(3) << std::setw(11)
          << static_cast<double>(t.bytes_up) / 1e6 << std::setw(13)
          << static_cast<double>(t.bytes_saved()) / 1e6 << std::setw(8) << std::setprecision(1)
          << 100.0 * t.bytes_saved_fraction() << "%" << std::setw(14) << std::scientific
          << std::setprecision(5) << e.loss << std::setw(10) << std::fixed << std::setprecision(2)
          << e.wall_seconds;
      if (accuracy) out << std::setw(9) << std::setprecision(2) << 100.0 * e.test.accuracy << "%";
      out << "\n";
      out.unsetf(std::ios::floatfield);
    }
    if (stride > 1)
      out << "(every " << stride << "th epoch and the last; every epoch in summary.json)\n";
  }
}

void print_comparison(std::ostream& out, const std::vector<RunResult>& runs) {
  const RunResult *gd = nullptr, *wk = nullptr;
  for (const auto& r : runs) {
    if (r.algorithm == Algorithm::GD) gd = &r;
    if (r.algorithm == Algorithm::LagWK) wk = &r;
  }
  // Without GD, the stochastic runs' every-worker baseline, SGD.
  for (const auto& r : runs)
    if (!gd && r.algorithm == Algorithm::Sgd) gd = &r;
  const bool accuracy = !runs.empty() && !std::isnan(runs.front().test.accuracy);
  // This run's uplink bytes against another's ("-" without it).
  const auto bytes_against = [](const RunResult& r, const RunResult* base) {
    std::ostringstream s;
    if (base && base->total.bytes_up > 0)
      s << std::fixed << std::setprecision(3)
        << static_cast<double>(r.total.bytes_up) / static_cast<double>(base->total.bytes_up);
    else
      s << "-";
    return s.str();
  };
  out << std::left << std::setw(9) << "algo" << std::right << std::setw(8) << "iters"
      << std::setw(10) << "uploads" << std::setw(9) << "bits/up" << std::setw(12) << "MB up"
      << std::setw(8) << "vs GD" << std::setw(8) << "vs WK" << std::setw(9) << "saved"
      << std::setw(12) << "obj.error" << std::setw(12) << "stop" << std::setw(10) << "time s"
      << (accuracy ? "  test acc" : "") << "\n";
  for (const auto& r : runs) {
    out << std::left << std::setw(9) << algorithm_name(r.algorithm) << std::right << std::setw(8)
        << r.iterations << std::setw(10) << r.total.uploads << std::setw(9)
        << static_cast<unsigned long long>(bits_per_upload(r.total)) << std::setw(12) << std::fixed
        << std::setprecision(3) << static_cast<double>(r.total.bytes_up) / 1e6 << std::setw(8)
        << bytes_against(r, gd) << std::setw(8) << bytes_against(r, wk) << std::setw(8)
        << std::setprecision(1) << 100.0 * r.total.bytes_saved_fraction() << "%";
    std::ostringstream err;
    if (std::isnan(r.objective_error))
      err << "-";
    else
      err << std::scientific << std::setprecision(2) << r.objective_error;
    out << std::setw(12) << err.str() << std::setw(12) << stop_reason_name(r.stop_reason)
        << std::setw(10) << std::fixed << std::setprecision(3) << r.wall_seconds;
    if (accuracy) out << std::setw(9) << std::setprecision(2) << 100.0 * r.test.accuracy << "%";
    out << "\n";
    out.unsetf(std::ios::floatfield);
  }
  out << "(bits/up: mean bits per upload; vs GD, vs WK: uplink bytes against the GD (without one, "
         "SGD) and LAG-WK runs; saved: against the GD-equivalent M*d*sizeof(T) per iteration)\n";
}

}  // namespace lag::cli
