// The HTTP listener: Pistache's, with a transport of our own on each worker thread.
#pragma once

#include <pistache/endpoint.h>
#include <pistache/listener.h>
#include <pistache/transport.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "http/outbox.hpp"

namespace mp::daemon {

/// How long a connection may take over a request, and stay idle between requests
/// (Pistache's defaults, as its own endpoint has them).
struct HttpTimeouts {
  std::chrono::milliseconds header = Pistache::Const::DefaultHeaderTimeout;
  std::chrono::milliseconds body = Pistache::Const::DefaultBodyTimeout;
  std::chrono::milliseconds keepalive = Pistache::Const::DefaultKeepaliveTimeout;
};

/// One worker thread's transport: Pistache's, plus
/// - its own reads of the connections: one read per request where Pistache makes two;
/// - an outbox (http::Outbox): answers finished on other threads are sent from this thread,
///   straight to the socket, once the outbox wakes it;
/// - what Pistache's endpoint does every half second: connections past their timeouts are
///   answered 408 (mid-request) or closed (idle).
class HttpTransport : public Pistache::Tcp::Transport {
 public:
  HttpTransport(const std::shared_ptr<Pistache::Tcp::Handler>& handler, HttpTimeouts timeouts);
  ~HttpTransport() override;

  void registerPoller(Pistache::Polling::Epoll& poller) override;
  void onReady(const Pistache::Aio::FdSet& fds) override;
  std::shared_ptr<Pistache::Aio::Handler> clone() const override;

  http::Outbox& outbox() { return *outbox_; }

 private:
  static constexpr std::size_t kReadBuffer = 16 * 1024;

  /// The connection of an event's tag; null for another descriptor (Pistache's own).
  std::shared_ptr<Pistache::Tcp::Peer> peerOf(Pistache::Polling::Tag tag) const;
  void receive(std::shared_ptr<Pistache::Tcp::Peer> peer, bool closing);
  void sendPosted();
  void closeTimedOut();

  std::shared_ptr<Pistache::Tcp::Handler> handler_;
  HttpTimeouts timeouts_;
  std::shared_ptr<http::Outbox> outbox_;
  std::vector<http::Outbox::Item> posted_;  // reused between wake-ups
  int timerFd_ = -1;
};

/// What Pistache's Http::Endpoint::Options would say.
struct HttpListenerOptions {
  int threads = 1;
  std::string threadsName;
  Pistache::Flags<Pistache::Tcp::Options> flags;
  int backlog = static_cast<int>(Pistache::Const::MaxBacklog);
  std::size_t maxRequestSize = Pistache::Const::DefaultMaxRequestSize;
  std::size_t maxResponseSize = Pistache::Const::DefaultMaxResponseSize;
  HttpTimeouts timeouts;
};

/// Pistache's Http::Endpoint with HttpTransport instead of its own transport.
class HttpListener {
 public:
  explicit HttpListener(const Pistache::Address& address);
  ~HttpListener() = default;
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  /// As Http::Endpoint::init() and setHandler().
  void init(const HttpListenerOptions& options,
            const std::shared_ptr<Pistache::Http::Handler>& handler);
  /// Binds and starts the worker threads; throws when the address cannot be bound.
  void serveThreaded();
  void shutdown();
  Pistache::Port getPort() const { return listener_.getPort(); }

 private:
  Pistache::Tcp::Listener listener_;
  std::shared_ptr<Pistache::Http::Handler> handler_;
};

}  // namespace mp::daemon
