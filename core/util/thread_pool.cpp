// ThreadPool: one mutex-guarded queue; bounded so a flood is refused rather than buffered.
#include "util/thread_pool.hpp"

#include "log/log.hpp"
#include "util/sched.hpp"

namespace mp::util {

ThreadPool::ThreadPool(std::size_t threads, std::size_t maxQueued, const char* name)
    : maxQueued_(maxQueued) {
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, name] {
      nameThread(name);
      run();
    });
  }
}

ThreadPool::~ThreadPool() {
  stop();
}

void ThreadPool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= maxQueued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void ThreadPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      log::get("main")->error("background task failed: {}", e.what());
    } catch (...) {
      log::get("main")->error("background task failed with an unknown exception");
    }
  }
}

}  // namespace mp::util
