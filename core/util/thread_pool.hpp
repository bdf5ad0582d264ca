// A fixed set of threads for blocking work (bcrypt, later batch writes) kept off event loops.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mp::util {

class ThreadPool {
 public:
  /// Starts `threads` workers, named `name` (util::nameThread); at most `maxQueued` tasks may
  /// wait.
  ThreadPool(std::size_t threads, std::size_t maxQueued, const char* name = "mp-pool");
  /// As stop().
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Queues a task; false (task not queued) when the queue is full or the pool is stopping.
  /// Tasks must not throw; an escaping exception is logged and swallowed.
  bool submit(std::function<void()> task);

  /// Refuses new tasks, runs the queued ones to the end and joins the threads. Idempotent.
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t maxQueued_;
  bool stopping_ = false;
};

}  // namespace mp::util
