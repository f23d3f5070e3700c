// R processes played by R threads of the test: a ProcessGroup (lag/process_group.hpp) whose
// messages go through in-memory mailboxes, one FIFO per ordered pair of ranks, so that the
// collective steps (loading, labels, constants) can be run over several "ranks" inside one test
// and compared with the single-process result bit for bit, and so that a test can see which
// rank did what (current_rank()).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lag/process_group.hpp"

namespace lag::test {

class ThreadRanks {
 public:
  // The rank of the calling thread inside run(); -1 elsewhere.
  static int current_rank() { return rank_of_thread(); }

  // Runs body(group) on `ranks` threads, one per rank, waits for all and returns each rank's
  // exception (null where the body returned). A receive that waits more than 30 s throws, so a
  // test whose ranks disagree fails instead of hanging.
  static std::vector<std::exception_ptr> run(int ranks,
                                             const std::function<void(ProcessGroup&)>& body) {
    Mailboxes boxes;
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
      threads.emplace_back([&, r] {
        rank_of_thread() = r;
        Member group(r, ranks, boxes);
        try {
          body(group);
        } catch (...) {
          errors[static_cast<std::size_t>(r)] = std::current_exception();
        }
        rank_of_thread() = -1;
      });
    for (auto& t : threads) t.join();
    return errors;
  }

 private:
  static int& rank_of_thread() {
    thread_local int rank = -1;
    return rank;
  }

  struct Mailboxes {
    std::mutex mutex;
    std::condition_variable arrived;
    std::map<std::pair<int, int>, std::deque<std::string>> queue;  // (from, to)
  };

  class Member final : public ProcessGroup {
   public:
    Member(int rank, int size, Mailboxes& boxes) : rank_(rank), size_(size), boxes_(boxes) {}
    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void send(const void* data, std::size_t bytes, int to) override {
      {
        const std::lock_guard<std::mutex> lock(boxes_.mutex);
        boxes_.queue[{rank_, to}].emplace_back(static_cast<const char*>(data), bytes);
      }
      boxes_.arrived.notify_all();
    }
    void receive(void* data, std::size_t bytes, int from) override {
      std::unique_lock<std::mutex> lock(boxes_.mutex);
      auto& q = boxes_.queue[{from, rank_}];
      if (!boxes_.arrived.wait_for(lock, std::chrono::seconds(30), [&] { return !q.empty(); }))
        throw std::runtime_error("rank " + std::to_string(rank_) + ": nothing from rank " +
                                 std::to_string(from) + " within 30 s");
      const std::string message = std::move(q.front());
      q.pop_front();
      if (message.size() != bytes)
        throw std::runtime_error("rank " + std::to_string(rank_) + " expected " +
                                 std::to_string(bytes) + " bytes from rank " +
                                 std::to_string(from) + ", got " + std::to_string(message.size()));
      std::memcpy(data, message.data(), bytes);
    }
    void broadcast(void* data, std::size_t bytes, int from) override {
      if (rank_ != from) return receive(data, bytes, from);
      for (int r = 0; r < size_; ++r)
        if (r != from) send(data, bytes, r);
    }
    int lowest_failing(bool failed) override {
      int lowest = failed ? rank_ : size_;
      if (rank_ == 0) {
        for (int r = 1; r < size_; ++r) {
          int v = 0;
          receive(&v, sizeof v, r);
          lowest = std::min(lowest, v);
        }
        for (int r = 1; r < size_; ++r) send(&lowest, sizeof lowest, r);
      } else {
        send(&lowest, sizeof lowest, 0);
        receive(&lowest, sizeof lowest, 0);
      }
      return lowest < size_ ? lowest : -1;
    }

   private:
    int rank_, size_;
    Mailboxes& boxes_;
  };
};

// The message of an exception_ptr's exception, or "" for null.
inline std::string message_of(const std::exception_ptr& e) {
  if (!e) return "";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
  return "?";
}

}  // namespace lag::test
