// Bulk writes of events to PostgreSQL (COPY into a staging table, then INSERT … ON CONFLICT DO
// NOTHING in one transaction), and the counters the writers built on it expose for /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "db/sqlstate.hpp"
#include "events/event.hpp"
#include "util/error.hpp"
#include "util/histogram.hpp"

namespace mp::ingest {

/// What EventStore::insertIsolating() did with a batch.
struct IsolatedInsert {
  std::size_t inserted = 0;           ///< rows added; the others were already stored or rejected
  std::vector<std::size_t> rejected;  ///< indexes of the events PostgreSQL refuses to store
  std::string firstRejection;         ///< PostgreSQL's reason for the first rejected event
};

/// Writes batches of events into the events table. Stateless: any thread may call it, each with
/// its own connection.
class EventStore {
 public:
  /// Stores `events` in one transaction and returns how many rows were added: an event whose
  /// (website_id, ts, id) is already stored (a redelivery) is skipped. Empty optional fields
  /// (referrer, referrerHost, country, ip, props) become NULL; NUL bytes, which PostgreSQL text
  /// cannot hold, are dropped. In the same transaction, each website's days before the current
  /// UTC day that receive an event are marked dirty in aggregation_runs, so stats never read
  /// rollups that miss them. Events of a website that does not exist (deleted since they were
  /// queued) are left out, race-free against a concurrent deletion. Throws DbError, after rolling
  /// the transaction back.
  static std::size_t insertBatch(db::Connection& conn, const std::vector<events::Event>& events);
  /// The same for a slice of a batch.
  static std::size_t insertBatch(db::Connection& conn, std::span<const events::Event> events);

  /// insertBatch(), but when PostgreSQL refuses the data of some event (isDataError()) the batch
  /// is split in halves until the refused events stand alone; those are reported, every other
  /// event is stored. Throws DbError for any other failure (some halves may be committed by then;
  /// writing the batch again only adds what is missing).
  static IsolatedInsert insertIsolating(db::Connection& conn,
                                        std::span<const events::Event> events);

  /// The COPY text-format line (tab-separated, escaped, newline-terminated) of one event, in the
  /// column order of kColumns; exposed for tests.
  static std::string copyLine(const events::Event& event);
  /// The events columns a batch writes, in COPY order.
  static constexpr std::string_view kColumns =
      "website_id, ts, id, event_type, page, url, hostname, referrer, referrer_host, session_id, "
      "visitor_id, user_agent, browser, os, device, country, ip, props, source, channel, "
      "utm_source, utm_medium, utm_campaign, utm_term, utm_content, interactive";
};

/// True when `e` is PostgreSQL refusing a value (SQLSTATE classes 22 and 23, and 54000): the
/// event is at fault, and writing it again can never succeed.
using db::isDataError;

/// Upper bounds of the batch write latency histogram, in milliseconds.
inline constexpr std::array<double, 11> kBatchLatencyBucketsMs = {1,   2,   5,   10,   25,  50,
                                                                  100, 250, 500, 1000, 2500};
/// Upper bounds of the batch size histogram, in events.
inline constexpr std::array<double, 9> kBatchSizeBuckets = {1,   10,   50,   100, 250,
                                                            500, 1000, 2000, 5000};

/// Counters of one writer (QueueWriter or DirectWriter) for /metrics; every field may be read
/// from any thread at any time.
struct WriterStats {
  std::atomic<std::uint64_t> batchesWritten{0};    ///< transactions committed
  std::atomic<std::uint64_t> eventsWritten{0};     ///< rows added to events
  std::atomic<std::uint64_t> eventsDuplicated{0};  ///< redelivered, skipped by ON CONFLICT
  std::atomic<std::uint64_t> undecodable{
      0};                                  ///< queue entries, or lines of them, not events: dropped
  std::atomic<std::uint64_t> rejected{0};  ///< events PostgreSQL refused (isDataError)
  std::atomic<std::uint64_t> writeErrors{0};    ///< failed batch writes, each retry counted
  std::atomic<std::uint64_t> claimed{0};        ///< entries taken over from dead consumers
  std::atomic<std::uint64_t> lastBatchSize{0};  ///< events in the latest committed batch
  std::atomic<bool> postgresDown{false};        ///< the latest write failed for want of it
  std::atomic<bool> redisDown{false};           ///< the latest queue command failed
  util::Histogram<kBatchLatencyBucketsMs.size()> batchLatencyMs{kBatchLatencyBucketsMs};
  util::Histogram<kBatchSizeBuckets.size()> batchSize{kBatchSizeBuckets};

  /// Counts one committed batch of `events` events of which `inserted` were new and `rejected`
  /// refused, written in `elapsed`.
  void recordBatch(std::size_t events, const IsolatedInsert& outcome,
                   std::chrono::steady_clock::duration elapsed) noexcept;
};

}  // namespace mp::ingest
