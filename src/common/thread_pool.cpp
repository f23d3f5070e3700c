#include "lag/thread_pool.hpp"

namespace lag {

namespace {
thread_local int t_slot = 0;
}  // namespace

int ThreadPool::slot() { return t_slot; }

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  for (int i = 1; i < threads; ++i)
    threads_.emplace_back([this, i] {
      t_slot = i;
      worker_loop();
    });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run_indices() {
  for (;;) {
    std::size_t i;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_ >= n_) return;
      i = next_++;
    }
    try {
      (*body_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      next_ = n_;  // stop handing out work
    }
  }
}

void ThreadPool::worker_loop() {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++active_;
    }
    run_indices();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_cv_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& body,
                              std::size_t work) {
  if (n == 0) return;
  if (threads_.empty() || n == 1 || work < inline_work_) {
    for (std::size_t i = 0; i < n; ++i) body(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    n_ = n;
    next_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  // The calling thread takes indices too, so n - 1 helpers at most are useful.
  if (n - 1 >= threads_.size()) {
    start_cv_.notify_all();
  } else {
    for (std::size_t i = 0; i + 1 < n; ++i) start_cv_.notify_one();
  }
  run_indices();
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Every index has been handed out; wait for the threads still inside a body.
    done_cv_.wait(lock, [&] { return active_ == 0; });
    body_ = nullptr;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace lag
