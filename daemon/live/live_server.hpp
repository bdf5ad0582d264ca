// The WebSocket live feed of metricpulsed: libevent loops in threads of their own serving /ws
// and relaying each website's events from Redis pub/sub to the dashboards subscribed to it.
#pragma once

#include <chrono>
#include <memory>

namespace mp::daemon {
struct Services;
}

namespace mp::ws {

/// Listens on websocket.listen; authenticates at the handshake, checks ownership of subscribed
/// websites against the website cache, fans events and realtime counts out to rooms, keeps
/// clients alive with pings and drops the idle and the slow. The connections are spread over
/// websocket.threads event loops (shards), each accepting on the same port (SO_REUSEPORT: the
/// kernel spreads new connections) and with its own rooms and Redis subscription, so an event
/// reaches each loop from Redis and no lock is taken per delivery; the limits on clients,
/// handshakes and connections per address are counted across them.
class LiveServer {
 public:
  /// Holds `services` (which must outlive it); nothing runs before start(). Never throws but
  /// std::bad_alloc.
  explicit LiveServer(daemon::Services& services);
  /// Stops the loop when it still runs.
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  /// Binds websocket.listen and starts the loop threads; throws ConfigError for a bad address
  /// and mp::Error when it cannot bind.
  void start();
  /// Sends close 1001 "going away" to every client, waits briefly for those frames to leave,
  /// then joins the loop threads. Idempotent; never throws.
  void stop() noexcept;
  /// The port actually bound (useful when listen asked for port 0); 0 before start().
  int port() const noexcept;
  /// Time since the stalest loop last ran its once-a-second keep-alive sweep: a few seconds at
  /// most while the loops turn (zero before start()).
  std::chrono::steady_clock::duration sinceLastSweep() const noexcept;
  /// The number of event loops websocket.threads asks for on this machine.
  static int loopsFor(int threads) noexcept;

 private:
  struct Impl;    // one loop (shard)
  struct Shared;  // the shards and what they share
  std::unique_ptr<Shared> shared_;
};

}  // namespace mp::ws
