// A fixed pool of threads running index-parallel loops. Each index writes its own output, so
// results never depend on the number of threads or on scheduling.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lag {

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread. The calling thread takes part in every loop, so a
  // pool of n threads starts n - 1 of its own.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()) + 1; }

  // Index in [0, size()) of the calling thread within the pool that runs it (0 for the thread
  // that calls parallel_for), so that bodies can use per-thread scratch without locks.
  static int slot();

  // Loops whose whole work is below this many elements touched run on the calling thread:
  // waking the pool costs more (measured: ~45 us per loop with 16 threads on a VM, against a few
  // us of arithmetic for a paper-size round).
  static constexpr std::size_t kDefaultInlineWork = std::size_t{1} << 16;
  static constexpr std::size_t kUnknownWork = ~std::size_t{0};
  // 0 sends every loop of more than one index to the pool (tests of thread-count independence).
  void set_inline_work(std::size_t elements) { inline_work_ = elements; }

  // Run body(i) for i in [0, n); returns when all are done. The first exception thrown by a
  // body is rethrown here. `work` estimates the loop's total cost in elements touched (see
  // kDefaultInlineWork); only as many threads as there are indices are woken.
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& body,
                    std::size_t work = kUnknownWork);

 private:
  void worker_loop();
  void run_indices();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(std::size_t)>* body_ = nullptr;
  std::size_t n_ = 0;
  std::size_t next_ = 0;
  std::size_t active_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::size_t inline_work_ = kDefaultInlineWork;
};

}  // namespace lag
