// The ingest fallback while Redis is unreachable: events from many HTTP threads written to
// PostgreSQL in shared transactions (group commit), each caller told whether its event is stored.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "db/pool.hpp"
#include "events/event.hpp"
#include "ingest/event_store.hpp"

namespace mp::ingest {

/// Timings of a DirectWriter that are not configuration keys.
struct DirectWriterOptions {
  /// How long the first event of a batch waits for others to join it.
  std::chrono::milliseconds gather{5};
  /// Longest wait for a pooled PostgreSQL connection before the batch counts as failed.
  std::chrono::milliseconds acquireWait{1000};
};

/// WriterStats plus what only the direct path has.
struct DirectWriterStats : WriterStats {
  std::atomic<std::uint64_t> timeouts{0};  ///< write() calls that gave up waiting
  std::atomic<std::uint64_t> failed{0};    ///< write() calls answered false for a failed batch
};

/// Collects the events that arrive within `gather` (or `ingest.batch_size` of them) and stores
/// them with EventStore in one transaction on a background thread, then wakes every caller.
class DirectWriter {
 public:
  /// Starts the batching thread; connects nothing until the first write. The pool must outlive
  /// the writer. Throws std::system_error when the thread cannot be created.
  DirectWriter(const config::Config& config, db::Pool& pool, DirectWriterOptions options = {});
  /// Calls stop().
  ~DirectWriter();
  DirectWriter(const DirectWriter&) = delete;
  DirectWriter& operator=(const DirectWriter&) = delete;

  /// Stores one event; true only once it is committed (a redelivered event already stored counts
  /// too). False when PostgreSQL failed or refused the event, when `timeout` passed first, or
  /// after stop(); the caller then answers 503. An event whose batch was already being written
  /// when the caller gave up may still be stored. Thread-safe; never throws.
  bool write(events::Event event, std::chrono::milliseconds timeout) noexcept;

  /// Queues one event and returns at once; `done(true)` is called from the writer's thread once
  /// it is committed, `done(false)` when it cannot be (PostgreSQL failed, refused it, or stop()).
  /// `done` must not throw or block for long.
  void writeAsync(events::Event event, std::function<void(bool)> done) noexcept;

  /// Finishes the batch being written, answers false to every caller still waiting and joins the
  /// thread. Safe to call twice; never throws.
  void stop() noexcept;

  /// The writer's counters for /metrics.
  const DirectWriterStats& stats() const noexcept { return stats_; }

 private:
  struct Waiter;
  void run() noexcept;
  void writeBatch(std::vector<std::shared_ptr<Waiter>>& batch) noexcept;

  const std::size_t batchSize_;
  const DirectWriterOptions options_;
  db::Pool& pool_;
  DirectWriterStats stats_;

  std::mutex mutex_;
  std::condition_variable wake_;  ///< the batching thread: work arrived, or stop
  std::condition_variable done_;  ///< callers: a batch finished
  std::deque<std::shared_ptr<Waiter>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mp::ingest
