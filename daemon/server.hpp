// The servers of metricpulsed: the Pistache endpoints with their routes, and the live feed.
#pragma once

#include <pistache/endpoint.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "services.hpp"
#include "transport.hpp"

namespace mp::ws {
class LiveServer;
}  // namespace mp::ws

namespace mp::daemon {

/// The HTTP API (its router and endpoints), the metrics listener and the live feed, over the
/// services they share.
class Server {
 public:
  explicit Server(std::shared_ptr<Services> services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds http.listen (and metrics.listen unless it is empty) and serves on background threads;
  /// throws mp::Error when it cannot bind.
  void start();
  /// Stops accepting, lets in-flight requests finish, joins the threads. Stop the services
  /// (Services::stop) before destroying the Server: answers still being made on their threads
  /// use the listeners' objects, which live until then.
  void shutdown();
  /// The port actually bound (useful when listen asked for port 0).
  int port() const;
  /// The port of the metrics listener, 0 when there is none.
  int metricsPort() const;
  /// The port of the live feed, 0 before start().
  int wsPort() const;
  /// What of the serving does not answer, for the watchdog: empty when the HTTP API answers
  /// GET /healthz within `timeout` and the live feed's loop has turned within the last 5
  /// seconds, otherwise which of them does not. Blocks for `timeout` at most; never throws.
  std::string unresponsive(std::chrono::milliseconds timeout) const;

  /// Adds the routes of the public API (http.listen) to `router`; `services` is only captured,
  /// so a null one gives the route table alone.
  static void addApiRoutes(http::Router& router, const std::shared_ptr<Services>& services);
  /// Adds the routes of the metrics listener (metrics.listen), as addApiRoutes does.
  static void addMetricsRoutes(http::Router& router, const std::shared_ptr<Services>& services);

 private:
  void startMetrics();

  std::shared_ptr<Services> services_;
  /// The WebSocket live feed (started once HTTP serves, stopped first).
  std::unique_ptr<ws::LiveServer> live_;
  std::shared_ptr<http::Router> router_;
  std::shared_ptr<http::Router> metricsRouter_;
  std::unique_ptr<HttpListener> endpoint_;
  std::unique_ptr<HttpListener> metricsEndpoint_;
  /// Listeners shut down, kept until the Server goes (see shutdown()).
  std::vector<std::unique_ptr<HttpListener>> retired_;
};

}  // namespace mp::daemon
