// The HTTP server of metricpulsed: Pistache endpoint, routes and the services they share.
#pragma once

#include <pistache/endpoint.h>

#include <memory>

#include "config/config.hpp"
#include "db/pool.hpp"
#include "http/router.hpp"
#include "redis/pool.hpp"
#include "util/thread_pool.hpp"

namespace mp::daemon {

/// Connections and settings shared by every request handler.
struct Services {
  /// Opens the pools (lazily connecting) and loads the token secret; throws ConfigError.
  explicit Services(const config::Config& cfg);
  config::Config config;
  std::string jwtSecret;
  db::Pool db;
  redis::Pool redis;
  /// Threads for CPU-heavy work (bcrypt) so HTTP workers keep serving other requests.
  util::ThreadPool blocking;
};

class Server {
 public:
  explicit Server(std::shared_ptr<Services> services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds http.listen and serves on background threads; throws mp::Error when it cannot bind.
  void start();
  /// Stops accepting, lets in-flight requests finish, joins the threads.
  void shutdown();
  /// The port actually bound (useful when listen asked for port 0).
  int port() const;

 private:
  std::shared_ptr<Services> services_;
  std::shared_ptr<http::Router> router_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
};

}  // namespace mp::daemon
