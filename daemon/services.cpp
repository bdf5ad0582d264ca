// The services' construction, start and orderly stop, and cache invalidation.
#include "services.hpp"

#include <chrono>
#include <string>

#include "auth/jwt.hpp"
#include "events/geoip.hpp"
#include "events/user_agent.hpp"
#include "ingest/direct_writer.hpp"
#include "ingest/queue_writer.hpp"
#include "ingest/tracker.hpp"
#include "redis/keys.hpp"
#include "redis/sentinel.hpp"
#include "scheduler.hpp"
#include "stats/engine.hpp"

namespace mp::daemon {
namespace {

// How often every website is reloaded although announcements keep the cache coherent.
constexpr std::chrono::seconds kWebsiteReloadInterval{60};

HttpMetrics::CacheResult cacheResult(stats::CacheResult result) {
  switch (result) {
    case stats::CacheResult::kHit:
      return HttpMetrics::CacheResult::kHit;
    case stats::CacheResult::kMiss:
      return HttpMetrics::CacheResult::kMiss;
    case stats::CacheResult::kError:
      break;
  }
  return HttpMetrics::CacheResult::kError;
}

}  // namespace

Services::Services(const config::Config& cfg)
    : config(cfg),
      jwtSecret(auth::loadSecret(cfg.auth.jwtSecretFile)),
      db(cfg.database.url, static_cast<std::size_t>(cfg.database.poolSize),
         cfg.database.connectTimeout),
      readDb(cfg.database.readUrl.empty()
                 ? nullptr
                 : std::make_unique<db::Pool>(cfg.database.readUrl,
                                              static_cast<std::size_t>(cfg.database.poolSize),
                                              cfg.database.connectTimeout)),
      redis(redis::configuredUrl(cfg.redis), static_cast<std::size_t>(cfg.http.threads) + 2,
            cfg.redis.timeout),
      blocking(2, 512, "mp-blocking"),
      statsCache(redis, cfg.cache.ttlSeconds,
                 [this](const std::string& endpoint, stats::CacheResult result) {
                   httpMetrics.recordCache(endpoint, cacheResult(result));
                 }),
      // The full reload is only the safety net for announcements missed while the subscription
      // was down (it reloads at once when it comes back).
      sites(db, kWebsiteReloadInterval),
      domains(db),
      accounts(db),
      invalidations(
          redis::configuredUrl(cfg.redis), std::string(redis::kInvalidateChannel),
          [this](std::string_view message) { invalidate(message); },
          [this] {
            // Announcements may have been missed while there was no subscription.
            sites.forgetAll();
            domains.forgetAll();
            accounts.forgetAll();
          }),
      salts(db),
      userAgents(std::make_unique<events::UserAgentParser>()),
      geoip(cfg.geoip.database.empty() ? nullptr
                                       : std::make_unique<events::GeoIp>(cfg.geoip.database)),
      direct(std::make_unique<ingest::DirectWriter>(cfg, db)),
      writer(std::make_unique<ingest::QueueWriter>(
          cfg, db, redis::configuredUrl(cfg.redis), "metricpulsed",
          ingest::QueueWriterOptions{.claimIdle = cfg.ingest.claimIdle})),
      tracker(std::make_unique<ingest::Tracker>(
          ingest::TrackerDeps{config, sites, *userAgents, geoip.get(), salts, redis, *direct})),
      scheduler(std::make_unique<Scheduler>(db, cfg.database.url, salts, jobMetrics,
                                            ScheduleOptions::fromConfig(cfg))) {}

Services::~Services() {
  stop();
}

void Services::invalidate(std::string_view message) {
  const auto colon = message.find(':');
  if (colon == std::string_view::npos) return;
  const std::string id(message.substr(colon + 1));
  const auto kind = message.substr(0, colon);
  if (kind == "website") {
    sites.forget(id);
    // Domains are few and change only by creation and deletion, which is what this announces.
    domains.forgetAll();
  } else if (kind == "account") {
    accounts.forget(id);
  }
}

void Services::start() {
  sites.start();
  domains.start();
  accounts.start();
  invalidations.start();
  salts.current();
  writer->start();
  tracker->start();
  scheduler->start();
  // A question that finds the stored visits far behind has them refreshed now.
  stats::setLiveBacklogHook(scheduler->refreshHook());
}

void Services::stop() {
  stats::setLiveBacklogHook(nullptr);
  // First, so that a long fold or prune is cancelled rather than waited for.
  if (scheduler) scheduler->stop();
  // Requests still being answered there finish now, while their listener's objects still exist
  // (Server::shutdown keeps them): their answers go nowhere, but touch nothing freed.
  blocking.stop();
  // The tracker hands its last events to Redis (or the direct writer) before those stop.
  if (tracker) tracker->stop();
  if (writer) writer->stop();
  if (direct) direct->stop();
  invalidations.stop();
  sites.stop();
  domains.stop();
  accounts.stop();
}

}  // namespace mp::daemon
