// POST /track without HTTP: validate, enrich and queue one event (or store it directly).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "events/event.hpp"

namespace mp::db {
class Pool;
}
namespace mp::redis {
class Pool;
}
namespace mp::sites {
class SiteCache;
}
namespace mp::events {
class UserAgentParser;
class GeoIp;
class SaltStore;
}  // namespace mp::events

namespace mp::ingest {

class DirectWriter;

/// What the HTTP layer knows of one tracking request.
struct TrackRequest {
  std::string body;
  std::string userAgent;                   ///< User-Agent header
  std::string clientIp;                    ///< socket peer, or X-Forwarded-For from a trusted proxy
  std::optional<std::string> origin;       ///< Origin header
  std::optional<std::string> tokenUserId;  ///< user id of a valid bearer token, when one was sent
  bool doNotTrack = false;                 ///< DNT: 1
  std::int64_t nowMillis = 0;
};

enum class TrackOutcome {
  kQueued,   ///< appended to the Redis stream (and published)
  kStored,   ///< Redis was down: written to PostgreSQL directly, committed
  kBot,      ///< a known bot: answered 202, not stored
  kIgnored,  ///< Do-Not-Track honoured: answered 202, not stored
};

/// Counters for /metrics.
struct TrackStats {
  std::atomic<std::uint64_t> queued{0};
  std::atomic<std::uint64_t> storedDirect{0};
  std::atomic<std::uint64_t> bots{0};
  std::atomic<std::uint64_t> ignoredDnt{0};
  std::atomic<std::uint64_t> rejectedInvalid{0};
  std::atomic<std::uint64_t> rejectedUnknownWebsite{0};
  std::atomic<std::uint64_t> rejectedDomainMismatch{0};
  std::atomic<std::uint64_t> rejectedForbidden{0};
  std::atomic<std::uint64_t> rejectedRateLimited{0};
  std::atomic<std::uint64_t> rejectedUnavailable{0};
};

/// The services one tracked event touches; the Tracker owns none of them.
struct TrackerDeps {
  const config::Config& config;
  sites::SiteCache& sites;
  const events::UserAgentParser& userAgents;
  const events::GeoIp* geoip;  ///< null when geoip.database is not set
  events::SaltStore& salts;
  redis::Pool& redis;
  DirectWriter& direct;
};

class Tracker {
 public:
  explicit Tracker(TrackerDeps deps);

  /// Validates and enriches the event, then queues it durably; throws InvalidInput (400),
  /// Rejected (404 unknown_website, 403 domain_mismatch/forbidden, 429 rate_limited,
  /// 503 unavailable). Returns only once the event cannot be lost (or is deliberately dropped).
  TrackOutcome track(const TrackRequest& request);

  /// Parses and enriches without queueing (used by track(); public for tests).
  events::Event buildEvent(const TrackRequest& request);

  const TrackStats& stats() const { return stats_; }

 private:
  TrackOutcome enqueue(const events::Event& event, const std::string& clientIp,
                       std::int64_t nowMillis);

  TrackerDeps deps_;
  std::string scriptSha_;
  TrackStats stats_;
  std::atomic<bool> redisDown_{false};  // to log an outage once, and its end
};

}  // namespace mp::ingest
