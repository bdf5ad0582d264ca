// The services of metricpulsed: pools, caches, the tracker, the queue writers, the background
// jobs and the metrics, shared by the HTTP handlers and the live feed.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "db/pool.hpp"
#include "events/salts.hpp"
#include "metrics.hpp"
#include "redis/pool.hpp"
#include "redis/subscriber.hpp"
#include "sites/domain_cache.hpp"
#include "sites/site_cache.hpp"
#include "stats/cache.hpp"
#include "stats/stats.hpp"
#include "users/account_cache.hpp"
#include "util/thread_pool.hpp"

namespace mp::events {
class UserAgentParser;
class GeoIp;
}  // namespace mp::events
namespace mp::ingest {
class DirectWriter;
class QueueWriter;
class Tracker;
}  // namespace mp::ingest
namespace mp::daemon {

class Scheduler;

/// Connections, caches and workers shared by every request handler and the live feed.
struct Services {
  /// Opens the pools (lazily connecting), loads the token secret, the user-agent regexes and the
  /// GeoIP database; throws ConfigError.
  explicit Services(const config::Config& cfg);
  ~Services();
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  /// Loads the website cache and today's salt, starts the queue writers and the background jobs;
  /// throws DbError.
  void start();
  /// Stops the background jobs, the writers (finishing their batch) and background reloads.
  void stop();
  /// Applies one message of redis::kInvalidateChannel ("website:{id}", "account:{id}").
  void invalidate(std::string_view message);

  config::Config config;
  std::string jwtSecret;
  db::Pool db;
  /// The pool of database.read_url (a replica), or null when stats read from `db`.
  std::unique_ptr<db::Pool> readDb;
  /// Where stats answers are read from: the replica's pool, or `db`.
  db::Pool& reader() { return readDb ? *readDb : db; }
  redis::Pool redis;
  /// Threads for CPU-heavy work (bcrypt) so HTTP workers keep serving other requests.
  util::ThreadPool blocking;
  HttpMetrics httpMetrics;
  /// The stats answers cached in Redis (cache.ttl_seconds), counted in httpMetrics.
  stats::Cache statsCache;
  /// Today in each website's time zone, for the stats' default ranges and cache keys.
  stats::LocalDays localDays;
  /// Websites by id (tracking, live feed, stats ownership), kept coherent across daemons.
  sites::SiteCache sites;
  /// Website ids by domain (Plausible's payloads name the website by domain).
  sites::DomainCache domains;
  /// Token versions by account id (every authenticated route and the live-feed handshake).
  users::AccountCache accounts;
  /// Listens on redis::kInvalidateChannel and drops what `sites` and `accounts` hold of what
  /// another process changed.
  redis::Subscriber invalidations;
  events::SaltStore salts;
  std::unique_ptr<events::UserAgentParser> userAgents;
  std::unique_ptr<events::GeoIp> geoip;  ///< null when geoip.database is empty
  std::unique_ptr<ingest::DirectWriter> direct;
  std::unique_ptr<ingest::QueueWriter> writer;
  std::unique_ptr<ingest::Tracker> tracker;
  JobMetrics jobMetrics;
  /// Aggregation, partitions, retention and salt pruning on their schedule.
  std::unique_ptr<Scheduler> scheduler;
  WsMetrics wsMetrics;
};

}  // namespace mp::daemon
