// The writer threads that drain the Redis ingest stream into PostgreSQL, acknowledging each
// entry only once its event is committed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "db/pool.hpp"
#include "ingest/event_store.hpp"
#include "redis/client.hpp"
#include "redis/url.hpp"

namespace mp::ingest {

/// Timings of a QueueWriter that are not configuration keys; tests shorten them.
struct QueueWriterOptions {
  /// Entries pending this long on another consumer are taken over (XAUTOCLAIM min-idle-time);
  /// 0 takes `ingest.claim_idle` (30 s by default).
  std::chrono::milliseconds claimIdle{0};
  /// How often the first writer thread looks for such entries.
  std::chrono::milliseconds claimInterval{10000};
  /// First pause after a failure; it doubles with each further failure up to backoffMax.
  std::chrono::milliseconds backoffMin{200};
  /// Longest pause between retries.
  std::chrono::milliseconds backoffMax{5000};
  /// Consumers with nothing pending and no activity for this long are removed from the group
  /// (daemons that are gone; each start adds new consumer names).
  std::chrono::milliseconds forgetIdle{std::chrono::hours(1)};
  /// Longest wait for a pooled PostgreSQL connection before counting it as a failed write.
  std::chrono::milliseconds acquireWait{1000};
};

/// Drains redis::kIngestStream through the consumer group redis::kIngestGroup with
/// `ingest.writers` threads, writing batches of up to `ingest.batch_size` events with
/// EventStore and acknowledging (XACK + XDEL) an entry only after its event is committed, so
/// XLEN is the number of events not yet in PostgreSQL.
///
/// Each thread is the consumer "<prefix>-<hostname>-<pid>-<n>" with its own Redis connection
/// (XREADGROUP blocks) and a pooled PostgreSQL connection held while it runs. While PostgreSQL
/// fails nothing is acknowledged: the thread backs off and writes its own pending entries again
/// before reading new ones. Entries left pending by a daemon that crashed are claimed after
/// `ingest.claim_idle` (30 s) by a live daemon (any one sharing the Redis) and written like any
/// batch; redelivery is harmless since ON CONFLICT DO NOTHING skips stored events.
class QueueWriter {
 public:
  /// Prepares the writer; connects nothing and starts no thread yet. The pool must outlive it.
  QueueWriter(const config::Config& config, db::Pool& pool, redis::Url redisUrl,
              std::string consumerPrefix = "metricpulsed", QueueWriterOptions options = {});
  /// Calls stop().
  ~QueueWriter();
  QueueWriter(const QueueWriter&) = delete;
  QueueWriter& operator=(const QueueWriter&) = delete;

  /// Starts the writer threads (once; later calls do nothing). Throws std::system_error when a
  /// thread cannot be created.
  void start();
  /// Lets each thread finish the batch it is writing, then joins them; returns within about a
  /// second plus one batch write (longer only while a PostgreSQL connect or statement hangs).
  /// Safe to call twice; never throws.
  void stop() noexcept;

  /// The writer's counters for /metrics.
  const WriterStats& stats() const noexcept { return stats_; }
  /// The consumer name of writer thread `n` (0-based).
  std::string consumerName(int n) const;

 private:
  class Worker;
  friend class Worker;

  /// Waits up to `pause`; false when stop() was called (at once, or during the wait).
  bool pause(std::chrono::milliseconds pause);
  bool stopping() const noexcept;

  const int batchSize_;
  const std::chrono::milliseconds flushInterval_;
  const int writers_;
  const std::chrono::milliseconds redisTimeout_;
  db::Pool& pool_;
  const redis::Url redisUrl_;
  const std::string consumerBase_;  ///< "<prefix>-<hostname>-<pid>"
  const QueueWriterOptions options_;
  WriterStats stats_;

  std::mutex mutex_;  ///< guards started_ and threads_, and pairs with wake_
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::vector<std::thread> threads_;
};

/// Events waiting in the ingest stream (XLEN): queued and not yet committed to PostgreSQL.
/// Throws RedisError.
std::int64_t queueLength(redis::Client& client);
/// Entries delivered to a writer and not yet acknowledged (the XPENDING count of the group); 0
/// when the group does not exist yet. Throws RedisError.
std::int64_t consumerLag(redis::Client& client);

}  // namespace mp::ingest
