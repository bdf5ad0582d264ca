// A thread that listens on one Redis pub/sub channel and hands each message to a callback,
// reconnecting with backoff; and the announcement that goes with it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "redis/client.hpp"
#include "redis/url.hpp"

namespace mp::redis {

/// Publishes `message` on `channel` (PUBLISH); throws RedisError.
void announce(Client& client, std::string_view channel, std::string_view message);

/// Subscribes to one channel on its own connection and thread. `onMessage` gets every message's
/// payload; `onSubscribed` runs each time a (new) subscription is confirmed, the first time
/// included: messages published while there was none are lost, so the owner resynchronises
/// there. Both run on the subscriber's thread and must not throw (what they throw is logged).
class Subscriber {
 public:
  Subscriber(Url url, std::string channel, std::function<void(std::string_view)> onMessage,
             std::function<void()> onSubscribed);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  /// Starts the thread (which connects, and retries with backoff while Redis is away).
  void start();
  /// Stops the thread within a fraction of a second. Idempotent.
  void stop();
  /// True while subscribed.
  bool subscribed() const noexcept { return subscribed_.load(); }

 private:
  void run();
  bool listen();  // one connection's life; false when stopping

  Url url_;
  std::string channel_;
  std::function<void(std::string_view)> onMessage_;
  std::function<void()> onSubscribed_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::mutex mutex_;
  std::thread thread_;
};

}  // namespace mp::redis
