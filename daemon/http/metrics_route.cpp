// GET /metrics: counters kept by the daemon's parts, and gauges read from Redis at scrape time.
#include "http/metrics_route.hpp"

#include <fmt/format.h>

#include "ingest/direct_writer.hpp"
#include "ingest/queue_writer.hpp"
#include "ingest/tracker.hpp"
#include "services.hpp"

namespace mp::http {
namespace Http = Pistache::Http;

namespace {

void help(std::string& out, const char* name, const char* type, const char* text) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
}

// One counter family with a series per writer: every series of a family goes under its one
// HELP/TYPE, never interleaved with another family.
void writerCounter(std::string& out, const char* name, const char* text,
                   std::atomic<std::uint64_t> ingest::WriterStats::*field,
                   const ingest::WriterStats& queue, const ingest::WriterStats& direct) {
  help(out, name, "counter", text);
  out += fmt::format("{}{{writer=\"queue\"}} {}\n", name, (queue.*field).load());
  out += fmt::format("{}{{writer=\"direct\"}} {}\n", name, (direct.*field).load());
}

void writerMetrics(std::string& out, const ingest::WriterStats& queue,
                   const ingest::WriterStats& direct) {
  using S = ingest::WriterStats;
  writerCounter(out, "mp_writer_batches_total", "Batches committed to PostgreSQL.",
                &S::batchesWritten, queue, direct);
  writerCounter(out, "mp_writer_events_written_total", "Events inserted into PostgreSQL.",
                &S::eventsWritten, queue, direct);
  writerCounter(out, "mp_writer_events_duplicated_total",
                "Events already stored (a redelivered queue entry), skipped.", &S::eventsDuplicated,
                queue, direct);
  writerCounter(out, "mp_writer_events_rejected_total",
                "Events PostgreSQL refused, dropped after isolating them.", &S::rejected, queue,
                direct);
  writerCounter(out, "mp_writer_undecodable_total", "Queue entries that could not be decoded.",
                &S::undecodable, queue, direct);
  writerCounter(out, "mp_writer_errors_total", "Failed batch writes (retried).", &S::writeErrors,
                queue, direct);
  writerCounter(out, "mp_writer_claimed_total",
                "Queue entries taken over from a consumer that went silent.", &S::claimed, queue,
                direct);
  help(out, "mp_writer_batch_duration_seconds", "histogram", "Time to write one batch.");
  util::renderHistogram(out, "mp_writer_batch_duration_seconds", "writer=\"queue\"",
                        queue.batchLatencyMs, 0.001);
  util::renderHistogram(out, "mp_writer_batch_duration_seconds", "writer=\"direct\"",
                        direct.batchLatencyMs, 0.001);
  help(out, "mp_writer_batch_size", "histogram", "Events per written batch.");
  util::renderHistogram(out, "mp_writer_batch_size", "writer=\"queue\"", queue.batchSize);
  util::renderHistogram(out, "mp_writer_batch_size", "writer=\"direct\"", direct.batchSize);
}

std::string render(daemon::Services& services) {
  std::string out;
  services.httpMetrics.render(out);
  services.jobMetrics.render(out);
  services.wsMetrics.render(out);

  const auto& t = services.tracker->stats();
  help(out, "mp_events_accepted_total", "counter", "Events answered 202 and kept, by path.");
  out += fmt::format("mp_events_accepted_total{{path=\"queue\"}} {}\n", t.queued.load());
  out += fmt::format("mp_events_accepted_total{{path=\"direct\"}} {}\n", t.storedDirect.load());
  help(out, "mp_events_dropped_total", "counter", "Events answered 202 and deliberately not kept.");
  out += fmt::format("mp_events_dropped_total{{reason=\"bot\"}} {}\n", t.bots.load());
  out +=
      fmt::format("mp_events_dropped_total{{reason=\"do_not_track\"}} {}\n", t.ignoredDnt.load());
  help(out, "mp_events_rejected_total", "counter", "Tracking requests refused, by reason.");
  const std::pair<const char*, std::uint64_t> rejected[] = {
      {"invalid_request", t.rejectedInvalid.load()},
      {"unknown_website", t.rejectedUnknownWebsite.load()},
      {"domain_mismatch", t.rejectedDomainMismatch.load()},
      {"forbidden", t.rejectedForbidden.load()},
      {"rate_limited", t.rejectedRateLimited.load()},
      {"unavailable", t.rejectedUnavailable.load()}};
  for (const auto& [reason, n] : rejected) {
    out += fmt::format("mp_events_rejected_total{{reason=\"{}\"}} {}\n", reason, n);
  }

  writerMetrics(out, services.writer->stats(), services.direct->stats());
  help(out, "mp_redis_unreplicated_batches_total", "counter",
       "Batches of tracked events fewer than redis.wait_replicas replicas confirmed in time.");
  out += fmt::format("mp_redis_unreplicated_batches_total {}\n", t.unreplicatedBatches.load());

  const auto& backoff = services.redis.backoff();
  help(out, "mp_redis_timeouts_total", "counter",
       "Redis commands of the HTTP side that timed out (each cost its caller the whole "
       "redis.timeout_ms).");
  out += fmt::format("mp_redis_timeouts_total {}\n", backoff.timeouts());
  help(out, "mp_redis_backoff_failures_total", "counter",
       "Redis commands failed at once, without asking Redis, while backing off after a time-out.");
  out += fmt::format("mp_redis_backoff_failures_total {}\n", backoff.shortCircuited());

  // Queue depth and lag are read from Redis now; -1 says Redis could not be asked.
  std::int64_t length = -1, pending = -1;
  try {
    auto lease = services.redis.acquire();
    try {
      length = ingest::queueLength(*lease);
    } catch (const std::exception&) {
      // Reported as -1 below.
    }
    pending = ingest::consumerLag(*lease);
  } catch (const std::exception&) {
    // Reported as -1 below.
  }
  help(out, "mp_ingest_queue_length", "gauge",
       "Queue entries in Redis not yet in PostgreSQL (an entry holds 1 to 64 events).");
  out += fmt::format("mp_ingest_queue_length {}\n", length);
  help(out, "mp_ingest_consumer_pending", "gauge",
       "Queue entries read by a writer and not yet committed (1 to 64 events each).");
  out += fmt::format("mp_ingest_consumer_pending {}\n", pending);
  help(out, "mp_websites_cached", "gauge", "Websites known to the tracking cache.");
  out += fmt::format("mp_websites_cached {}\n", services.sites.size());
  help(out, "mp_website_lookups_total", "counter",
       "Queries of the website cache: lookups of ids it did not hold, and full reloads.");
  out += fmt::format("mp_website_lookups_total {}\n", services.sites.queries());
  help(out, "mp_account_lookups_total", "counter",
       "Queries of the account cache (token versions of accounts it did not hold).");
  out += fmt::format("mp_account_lookups_total {}\n", services.accounts.queries());
  return out;
}

}  // namespace

void addMetricsRoute(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(Http::Method::Get, "/metrics",
             [services](const Http::Request&, const RouteParams&, Http::ResponseWriter& response) {
               response.send(
                   Http::Code::Ok, render(*services),
                   Http::Mime::MediaType::fromString("text/plain; version=0.0.4; charset=utf-8"));
             });
}

}  // namespace mp::http
