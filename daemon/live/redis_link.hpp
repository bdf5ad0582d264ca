// One hiredis asynchronous connection on a libevent loop that reconnects with backoff after
// Redis goes away, for the live feed's subscriber and its realtime queries.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "redis/url.hpp"

struct event;
struct event_base;
struct redisAsyncContext;

namespace mp::ws {

/// An asynchronous Redis connection owned by one loop thread. Every method runs on that thread.
class RedisLink {
 public:
  /// Not connected until connect(); `onContext` runs on the loop each time a new connection is
  /// started, after AUTH and SELECT were queued, so the owner can queue the commands that
  /// restore its state (hiredis sends them once connected).
  RedisLink(event_base* base, redis::Url url, std::string name, std::function<void()> onContext);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  /// Starts connecting; failures are retried with backoff until close(). Never throws.
  void connect() noexcept;
  /// Frees the connection (pending callbacks get a null reply) and stops reconnecting.
  void close() noexcept;
  /// The context to send commands on, or null while Redis is away. Commands sent while the
  /// connection is still being made are queued by hiredis.
  redisAsyncContext* context() const noexcept { return ctx_; }
  /// True once the TCP connection is up (and until it drops).
  bool connected() const noexcept { return connected_; }

 private:
  static void onConnect(const redisAsyncContext* ctx, int status);
  static void onDisconnect(const redisAsyncContext* ctx, int status);
  static void onRetry(int fd, short what, void* arg);
  void lost(const char* why) noexcept;

  event_base* base_;
  redis::Url url_;
  std::string name_;
  std::function<void()> onContext_;
  redisAsyncContext* ctx_ = nullptr;
  event* retry_ = nullptr;
  bool connected_ = false;
  bool closed_ = false;
  std::chrono::milliseconds backoff_;
};

}  // namespace mp::ws
