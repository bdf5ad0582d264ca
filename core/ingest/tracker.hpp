// POST /track without HTTP: validate, enrich and queue one event (or store it directly).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "db/lookup_cache.hpp"
#include "events/event.hpp"

namespace mp::db {
class Pool;
}
namespace mp::redis {
class Client;
class Pool;
class Reply;
}  // namespace mp::redis
namespace mp::sites {
class SiteCache;
struct CachedSite;
}  // namespace mp::sites
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
  /// Batches whose events fewer than redis.wait_replicas replicas confirmed in time.
  std::atomic<std::uint64_t> unreplicatedBatches{0};
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

/// Called once per queued event, from the tracker's thread: the outcome, or the error to answer
/// (Rejected 429 or 503). Must not block for long.
using TrackCallback = std::function<void(TrackOutcome, std::exception_ptr)>;

/// Validates events on the caller's thread and queues them from one background thread that
/// sends everything waiting to Redis as one pipeline: a request no longer holds an HTTP worker
/// for a Redis round trip, and Redis sees one read and one write per batch instead of per event.
class Tracker {
 public:
  explicit Tracker(TrackerDeps deps, std::size_t maxWaiting = 20000);
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  void start();
  /// Sends what is waiting, then stops the thread; later events get 503.
  void stop();

  /// Validates and enriches the event; throws InvalidInput (400) or Rejected (404
  /// unknown_website, 403 domain_mismatch/forbidden, 503 when too many events wait). Returns the
  /// outcome at once for events deliberately not kept (bots, Do-Not-Track); otherwise returns
  /// nullopt and calls `done` once the event cannot be lost (or with the error to answer). A
  /// website the cache does not hold is looked up on the cache's thread, which then goes on with
  /// the event: `done` may then also get the outcome of a bot or Do-Not-Track, or any of the
  /// errors above.
  std::optional<TrackOutcome> track(const TrackRequest& request, TrackCallback done);

  /// Parses and enriches without queueing (used by track(); public for tests). `resolved` is the
  /// website's lookup when the cache did not hold it; without one such a website throws
  /// SiteUnresolved.
  events::Event buildEvent(const TrackRequest& request,
                           const db::Lookup<sites::CachedSite>* resolved = nullptr);

  /// Thrown by buildEvent() for a website the cache does not hold.
  struct SiteUnresolved {
    std::string websiteId;
  };

  const TrackStats& stats() const { return stats_; }

 private:
  // What the sending thread needs of one event: everything is serialised on the HTTP worker,
  // and the Event itself is freed there (freeing memory on the thread that allocated it is
  // cheaper, and the sender touches one buffer instead of twenty strings).
  struct Pending {
    /// The event's queue JSON (one line of a queue entry), the PUBLISH of its live frame in RESP
    /// form, its website id and its session id, one after the other: one allocation.
    std::string text;
    std::uint32_t publishAt = 0;
    std::uint32_t websiteAt = 0;
    std::uint32_t sessionAt = 0;
    std::string clientIp;  ///< for the rate limit (empty when it is off)
    std::int64_t nowMillis = 0;
    std::int64_t tsMillis = 0;  ///< the event's own time (its timestamp, or nowMillis)
    TrackCallback done;

    std::string_view queued() const { return std::string_view(text).substr(0, publishAt); }
    std::string_view publish() const {
      return std::string_view(text).substr(publishAt, websiteAt - publishAt);
    }
    std::string_view websiteId() const {
      return std::string_view(text).substr(websiteAt, sessionAt - websiteAt);
    }
    std::string_view sessionId() const { return std::string_view(text).substr(sessionAt); }
  };
  std::optional<TrackOutcome> track(const TrackRequest& request, TrackCallback done,
                                    const db::Lookup<sites::CachedSite>* resolved);
  sites::CachedSite checkSite(const TrackRequest& request, const events::Event& e,
                              const db::Lookup<sites::CachedSite>* resolved);
  void enrich(events::Event& e, const sites::CachedSite& site, const std::string& ip,
              const std::optional<std::string>& sessionId);
  void run();
  void sendBatch(std::vector<Pending>& batch);
  static std::size_t appendQueueEntries(std::string& resp, const std::vector<Pending>& batch,
                                        const std::vector<bool>& allowed,
                                        std::vector<std::size_t>& entryOf);
  std::size_t appendRealtime(std::string& resp, const std::vector<Pending>& batch,
                             const std::vector<bool>& allowed);
  std::size_t appendSessions(std::string& resp, const std::vector<const Pending*>& members);
  void answerBatch(std::vector<Pending>& batch, const std::vector<bool>& allowed,
                   const std::vector<redis::Reply>& replies,
                   const std::vector<std::size_t>& entryOf);
  void onRedisFailure(std::vector<Pending>& batch, const std::vector<bool>& allowed,
                      const std::exception& error);
  void fallBack(Pending& pending);
  void refuseRateLimited(Pending& pending);
  std::vector<bool> admit(redis::Client& client, const std::vector<Pending>& batch);

  TrackerDeps deps_;
  std::size_t maxWaiting_;
  TrackStats stats_;
  std::atomic<bool> redisDown_{false};  // to log an outage once, and its end
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> waiting_;
  bool stopping_ = false;
  std::thread thread_;
  // Sender thread only: when each website's realtime set was last trimmed (seconds).
  std::unordered_map<std::string, std::int64_t> trimmed_;
};

}  // namespace mp::ingest
