// Pistache endpoint set-up; every request goes through one handler that catches everything.
#include "server.hpp"

#include <pistache/net.h>

#include "auth/jwt.hpp"
#include "events/geoip.hpp"
#include "events/user_agent.hpp"
#include "http/accounts.hpp"
#include "http/common.hpp"
#include "http/health.hpp"
#include "http/metrics_route.hpp"
#include "http/response.hpp"
#include "http/stats.hpp"
#include "http/track.hpp"
#include "ingest/direct_writer.hpp"
#include "ingest/queue_writer.hpp"
#include "ingest/tracker.hpp"
#include "log/log.hpp"
#include "redis/keys.hpp"
#include "scheduler.hpp"
#include "util/error.hpp"
#include "ws/live_server.hpp"

namespace mp::daemon {
namespace {

namespace Http = Pistache::Http;

// How often every website is reloaded although announcements keep the cache coherent.
constexpr std::chrono::seconds kWebsiteReloadInterval{60};

// Room for the request line and headers on top of the configured body limit.
constexpr std::size_t kHeaderAllowance = 16 * 1024;

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  Handler(std::shared_ptr<http::Router> router, std::shared_ptr<Services> services)
      : router_(std::move(router)), services_(std::move(services)) {}

  void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
    const auto started = std::chrono::steady_clock::now();
    handle(request, response);
    // A deferred request is counted by whoever answers it.
    if (!http::takeDeferred()) {
      services_->httpMetrics.record(
          http::Router::currentRoute(), static_cast<int>(response.getResponseCode()),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }

 private:
  void handle(const Http::Request& request, Http::ResponseWriter& response) {
    try {
      router_->dispatch(request, response);
    } catch (...) {
      try {
        http::sendException(
            response, std::current_exception(),
            std::string(Http::methodString(request.method())) + " " + request.resource());
      } catch (...) {
        // The response may already have been sent; nothing more can be said to the client.
      }
    }
  }

  std::shared_ptr<http::Router> router_;
  std::shared_ptr<Services> services_;
};

}  // namespace

Services::Services(const config::Config& cfg)
    : config(cfg),
      jwtSecret(auth::loadSecret(cfg.auth.jwtSecretFile)),
      db(cfg.database.url, static_cast<std::size_t>(cfg.database.poolSize),
         cfg.database.connectTimeout),
      redis(redis::Url::parse(cfg.redis.url), static_cast<std::size_t>(cfg.http.threads) + 2,
            cfg.redis.timeout),
      blocking(2, 512),
      // The full reload is only the safety net for announcements missed while the subscription
      // was down (it reloads at once when it comes back).
      sites(db, kWebsiteReloadInterval),
      accounts(db),
      invalidations(
          redis::Url::parse(cfg.redis.url), std::string(redis::kInvalidateChannel),
          [this](std::string_view message) { invalidate(message); },
          [this] {
            // Announcements may have been missed while there was no subscription.
            sites.forgetAll();
            accounts.forgetAll();
          }),
      salts(db),
      userAgents(std::make_unique<events::UserAgentParser>()),
      geoip(cfg.geoip.database.empty() ? nullptr
                                       : std::make_unique<events::GeoIp>(cfg.geoip.database)),
      direct(std::make_unique<ingest::DirectWriter>(cfg, db)),
      writer(std::make_unique<ingest::QueueWriter>(
          cfg, db, redis::Url::parse(cfg.redis.url), "metricpulsed",
          ingest::QueueWriterOptions{.claimIdle = cfg.ingest.claimIdle})),
      tracker(std::make_unique<ingest::Tracker>(
          ingest::TrackerDeps{config, sites, *userAgents, geoip.get(), salts, redis, *direct})),
      scheduler(std::make_unique<Scheduler>(db, cfg.database.url, salts, jobMetrics,
                                            ScheduleOptions::fromConfig(cfg))),
      live(std::make_unique<ws::LiveServer>(*this)) {}

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
  } else if (kind == "account") {
    accounts.forget(id);
  }
}

void Services::start() {
  sites.start();
  accounts.start();
  invalidations.start();
  salts.current();
  writer->start();
  tracker->start();
  scheduler->start();
}

void Services::stop() {
  // Live-feed clients are told the daemon is going away before anything else stops.
  if (live) live->stop();
  // First, so that a long fold or prune is cancelled rather than waited for.
  if (scheduler) scheduler->stop();
  // The tracker hands its last events to Redis (or the direct writer) before those stop.
  if (tracker) tracker->stop();
  if (writer) writer->stop();
  if (direct) direct->stop();
  invalidations.stop();
  sites.stop();
  accounts.stop();
}

Server::Server(std::shared_ptr<Services> services)
    : services_(std::move(services)), router_(std::make_shared<http::Router>()) {
  http::addHealthRoutes(*router_, services_);
  http::addAccountRoutes(*router_, services_);
  http::addWebsiteRoutes(*router_, services_);
  http::addTrackRoutes(*router_, services_);
  http::addStatsRoutes(*router_, services_);
  http::addMetricsRoute(*router_, services_);
}

Server::~Server() {
  shutdown();
}

void Server::start() {
  std::string host;
  int port = 0;
  if (!config::splitHostPort(services_->config.http.listen, host, port)) {
    throw ConfigError("http.listen: not host:port: " + services_->config.http.listen);
  }
  Pistache::Address addr(host, Pistache::Port(static_cast<std::uint16_t>(port)));
  endpoint_ = std::make_unique<Http::Endpoint>(addr);
  const auto& cfg = services_->config.http;
  auto opts = Http::Endpoint::options()
                  .threads(cfg.threads)
                  .threadsName("mp-http")
                  .flags(Pistache::Tcp::Options::ReuseAddr)
                  .backlog(1024)
                  .maxRequestSize(static_cast<std::size_t>(cfg.maxBodyBytes) + kHeaderAllowance)
                  .maxResponseSize(4 * 1024 * 1024);
  endpoint_->init(opts);
  endpoint_->setHandler(Http::make_handler<Handler>(router_, services_));
  try {
    endpoint_->serveThreaded();
  } catch (const std::exception& e) {
    endpoint_.reset();
    throw Error("cannot listen on " + cfg.listen + ": " + e.what());
  }
  log::get("http")->info("listening on http://{}", cfg.listen);
  try {
    services_->live->start();
  } catch (...) {
    endpoint_->shutdown();
    endpoint_.reset();
    throw;
  }
}

void Server::shutdown() {
  // Live-feed clients first, so they hear "going away" rather than a dropped connection.
  services_->live->stop();
  if (!endpoint_) return;
  endpoint_->shutdown();
  endpoint_.reset();
  log::get("http")->info("HTTP server stopped");
}

int Server::port() const {
  return endpoint_ ? static_cast<int>(static_cast<std::uint16_t>(endpoint_->getPort())) : 0;
}

}  // namespace mp::daemon
