#include "lag/process_group.hpp"

#include <cstring>
#include <exception>

#include "mpi/worker_blocks.hpp"

namespace lag {

namespace {

class SingleProcess final : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void send(const void*, std::size_t, int) override { alone("send"); }
  void receive(void*, std::size_t, int) override { alone("receive"); }
  void broadcast(void*, std::size_t, int) override {}
  int lowest_failing(bool failed) override { return failed ? 0 : -1; }

 private:
  [[noreturn]] static void alone(const char* what) {
    throw Error(std::string("internal: ") + what + " in a process group of one");
  }
};

}  // namespace

ProcessGroup& single_process() {
  static SingleProcess alone;
  return alone;
}

WorkerRange own_workers(const ProcessGroup& group, int workers) {
  const mpi::WorkerBlock b = mpi::worker_block(workers, group.size(), group.rank());
  return {b.first, b.end()};
}

void agree(ProcessGroup& group, const std::function<void()>& step) {
  if (group.size() == 1) return step();
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  const int first = group.lowest_failing(error != nullptr);
  if (error) std::rethrow_exception(error);
  if (first >= 0) throw PeerFailure(first);
}

std::vector<std::string> all_gather(ProcessGroup& group, const std::string& mine) {
  const int R = group.size();
  if (R == 1) return {mine};
  // Everything to rank 0, in rank order, then rank 0's collection to everyone.
  std::vector<std::uint64_t> lengths(static_cast<std::size_t>(R), 0);
  std::string joined;
  if (group.root()) {
    lengths[0] = mine.size();
    joined = mine;
    for (int r = 1; r < R; ++r) {
      std::uint64_t n = 0;
      group.receive(&n, sizeof n, r);
      std::string part(static_cast<std::size_t>(n), '\0');
      group.receive(part.data(), part.size(), r);
      lengths[static_cast<std::size_t>(r)] = n;
      joined += part;
    }
  } else {
    const std::uint64_t n = mine.size();
    group.send(&n, sizeof n, 0);
    group.send(mine.data(), mine.size(), 0);
  }
  group.broadcast(lengths.data(), lengths.size() * sizeof(std::uint64_t), 0);
  std::uint64_t total = 0;
  for (const std::uint64_t n : lengths) total += n;
  joined.resize(static_cast<std::size_t>(total));
  group.broadcast(joined.data(), joined.size(), 0);
  std::vector<std::string> parts;
  std::size_t at = 0;
  for (const std::uint64_t n : lengths) {
    parts.push_back(joined.substr(at, static_cast<std::size_t>(n)));
    at += static_cast<std::size_t>(n);
  }
  return parts;
}

void broadcast_string(ProcessGroup& group, std::string& bytes, int from) {
  if (group.size() == 1) return;
  std::uint64_t length = bytes.size();
  group.broadcast(&length, sizeof length, from);
  bytes.resize(static_cast<std::size_t>(length));
  group.broadcast(bytes.data(), bytes.size(), from);
}

void broadcast_values(ProcessGroup& group, std::vector<double>& values, int from) {
  if (group.size() > 1) group.broadcast(values.data(), values.size() * sizeof(double), from);
}

std::vector<double> gather_workers(ProcessGroup& group, int workers,
                                   const std::vector<double>& mine, std::size_t per_worker) {
  const auto expected = static_cast<std::size_t>(own_workers(group, workers).count()) * per_worker;
  if (mine.size() != expected)
    throw Error("internal: gather_workers got " + std::to_string(mine.size()) + " values, not " +
                std::to_string(expected));
  if (group.size() == 1) return mine;
  const std::string bytes(reinterpret_cast<const char*>(mine.data()), mine.size() * sizeof(double));
  std::vector<double> all;
  all.reserve(static_cast<std::size_t>(workers) * per_worker);
  // Blocks are contiguous in rank order, so rank order is worker order.
  for (const std::string& part : all_gather(group, bytes)) {
    const std::size_t n = part.size() / sizeof(double);
    all.resize(all.size() + n);
    std::memcpy(all.data() + all.size() - n, part.data(), n * sizeof(double));
  }
  return all;
}

OrderedSum::OrderedSum(ProcessGroup& group, int workers, std::size_t n)
    : group_(group), n_(n), expected_(own_workers(group, workers).count()), total_(n, 0.0) {}

void OrderedSum::add(const double* piece) {
  if (added_ == expected_) throw Error("internal: more pieces than this process's workers");
  ++added_;
  if (group_.rank() == 0) {
    for (std::size_t j = 0; j < n_; ++j) total_[j] += piece[j];
  } else {
    held_.insert(held_.end(), piece, piece + n_);
  }
}

std::vector<double> OrderedSum::finish(Deliver where) {
  if (added_ != expected_) throw Error("internal: a worker's piece is missing from the sum");
  const int R = group_.size(), r = group_.rank();
  const std::size_t bytes = n_ * sizeof(double);
  if (R > 1) {
    if (r > 0) {
      group_.receive(total_.data(), bytes, r - 1);
      for (std::size_t at = 0; at < held_.size(); at += n_)
        for (std::size_t j = 0; j < n_; ++j) total_[j] += held_[at + j];
      held_.clear();
      held_.shrink_to_fit();
    }
    if (r < R - 1) group_.send(total_.data(), bytes, r + 1);
    // The last rank now holds the total.
    if (where == Deliver::Everywhere) {
      group_.broadcast(total_.data(), bytes, R - 1);
    } else if (r == R - 1) {
      group_.send(total_.data(), bytes, 0);
    } else if (r == 0) {
      group_.receive(total_.data(), bytes, R - 1);
    }
  }
  if (where == Deliver::Root && r != 0) return {};
  return std::move(total_);
}

void MessageReader::ends_early() const { throw Error(what_ + " ends early"); }

void MessageReader::raw(void* p, std::size_t n) {
  if (bytes_.size() - pos_ < n) ends_early();
  if (n > 0) std::memcpy(p, bytes_.data() + pos_, n);
  pos_ += n;
}

std::uint64_t MessageReader::u64() {
  std::uint64_t v = 0;
  raw(&v, sizeof v);
  return v;
}

double MessageReader::f64() {
  double v = 0;
  raw(&v, sizeof v);
  return v;
}

std::string MessageReader::str() {
  const std::size_t n = size();
  if (n > bytes_.size() - pos_) ends_early();  // before allocating what a bad length asks for
  std::string s(n, '\0');
  raw(s.data(), s.size());
  return s;
}

}  // namespace lag
