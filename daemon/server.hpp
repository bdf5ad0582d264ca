// The HTTP server of metricpulsed: Pistache endpoint, routes and the services they share.
#pragma once

#include <pistache/endpoint.h>

#include <memory>

#include "config/config.hpp"
#include "db/pool.hpp"
#include "events/salts.hpp"
#include "http/router.hpp"
#include "metrics.hpp"
#include "redis/pool.hpp"
#include "redis/subscriber.hpp"
#include "sites/site_cache.hpp"
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
namespace mp::ws {
class LiveServer;
}  // namespace mp::ws

namespace mp::daemon {

class Scheduler;

/// Connections, caches and workers shared by every request handler.
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
  redis::Pool redis;
  /// Threads for CPU-heavy work (bcrypt) so HTTP workers keep serving other requests.
  util::ThreadPool blocking;
  HttpMetrics httpMetrics;
  /// Websites by id (tracking, live feed, stats ownership), kept coherent across daemons.
  sites::SiteCache sites;
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
  /// The WebSocket live feed (started by Server::start once HTTP serves, stopped first).
  std::unique_ptr<ws::LiveServer> live;
};

class Server {
 public:
  explicit Server(std::shared_ptr<Services> services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds http.listen (and metrics.listen unless it is empty) and serves on background threads;
  /// throws mp::Error when it cannot bind.
  void start();
  /// Stops accepting, lets in-flight requests finish, joins the threads.
  void shutdown();
  /// The port actually bound (useful when listen asked for port 0).
  int port() const;
  /// The port of the metrics listener, 0 when there is none.
  int metricsPort() const;

  /// Adds the routes of the public API (http.listen) to `router`; `services` is only captured,
  /// so a null one gives the route table alone.
  static void addApiRoutes(http::Router& router, const std::shared_ptr<Services>& services);
  /// Adds the routes of the metrics listener (metrics.listen), as addApiRoutes does.
  static void addMetricsRoutes(http::Router& router, const std::shared_ptr<Services>& services);

 private:
  void startMetrics();

  std::shared_ptr<Services> services_;
  std::shared_ptr<http::Router> router_;
  std::shared_ptr<http::Router> metricsRouter_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
  std::unique_ptr<Pistache::Http::Endpoint> metricsEndpoint_;
};

}  // namespace mp::daemon
