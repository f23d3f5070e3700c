// The thread pool: every index runs exactly once, small loops stay on the calling thread, and a
// body's exception reaches the caller.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lag/thread_pool.hpp"

namespace lag {
namespace {

TEST(ThreadPool, EveryIndexOnceOnAnyThreadCount) {
  for (int threads : {1, 2, 4, 7}) {
    ThreadPool pool(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{64}, std::size_t{1000}}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, [&](std::size_t i) { hits[i].fetch_add(1); });
      for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << threads << " " << n;
    }
  }
}

TEST(ThreadPool, SmallWorkRunsOnTheCallingThread) {
  ThreadPool pool(4);
  std::vector<int> slots(32, -1);
  pool.parallel_for(
      slots.size(), [&](std::size_t i) { slots[i] = ThreadPool::slot(); },
      ThreadPool::kDefaultInlineWork - 1);
  for (int s : slots) EXPECT_EQ(s, 0);
}

TEST(ThreadPool, LargeWorkUsesTheThreads) {
  ThreadPool pool(4);
  std::atomic<int> others{0};
  // Each index waits a little so that the woken threads get some of them.
  pool.parallel_for(64, [&](std::size_t) {
    if (ThreadPool::slot() != 0) others.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  EXPECT_GT(others.load(), 0);
}

TEST(ThreadPool, RethrowsTheFirstException) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(
                   100,
                   [](std::size_t i) {
                     if (i == 50) throw std::runtime_error("index 50");
                   },
                   ThreadPool::kUnknownWork),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int> count{0};
  pool.parallel_for(10, [&](std::size_t) { count.fetch_add(1); });
  EXPECT_EQ(count.load(), 10);
}

}  // namespace
}  // namespace lag
