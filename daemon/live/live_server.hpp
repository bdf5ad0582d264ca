// The WebSocket live feed of metricpulsed: a libevent loop in its own thread serving /ws and
// relaying each website's events from Redis pub/sub to the dashboards subscribed to it.
#pragma once

#include <chrono>
#include <memory>

namespace mp::daemon {
struct Services;
}

namespace mp::ws {

/// Listens on websocket.listen; authenticates at the handshake, checks ownership of subscribed
/// websites against the website cache, fans events and realtime counts out to rooms, keeps
/// clients alive with pings and drops the idle and the slow.
class LiveServer {
 public:
  /// Holds `services` (which must outlive it); nothing runs before start(). Never throws but
  /// std::bad_alloc.
  explicit LiveServer(daemon::Services& services);
  /// Stops the loop when it still runs.
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  /// Binds websocket.listen and starts the loop thread; throws ConfigError for a bad address
  /// and mp::Error when it cannot bind.
  void start();
  /// Sends close 1001 "going away" to every client, waits briefly for those frames to leave,
  /// then joins the loop thread. Idempotent; never throws.
  void stop() noexcept;
  /// The port actually bound (useful when listen asked for port 0); 0 before start().
  int port() const noexcept;
  /// Time since the loop last ran its once-a-second keep-alive sweep: a few seconds at most
  /// while the loop turns (zero before start()).
  std::chrono::steady_clock::duration sinceLastSweep() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp::ws
