// A bounded, thread-safe pool of Redis clients for the HTTP worker threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include "redis/client.hpp"
#include "redis/url.hpp"

namespace mp::redis {

/// A fixed number of Clients shared by many threads; each thread borrows one with acquire().
/// Clients connect lazily, so a pool can be built while Redis is down. The clients share one
/// Backoff: after a time-out, commands on any of them fail at once for a while (see Backoff).
class Pool {
 public:
  /// A borrowed Client, returned to its pool when the lease is destroyed; move-only. A lease may
  /// outlive its Pool (the client is then simply closed).
  class Lease {
   public:
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    Client& operator*() const noexcept { return *client_; }
    Client* operator->() const noexcept { return client_.get(); }
    /// The borrowed client.
    Client& client() const noexcept { return *client_; }

   private:
    friend class Pool;
    struct State;
    Lease(std::shared_ptr<State> state, std::unique_ptr<Client> client) noexcept;
    void release() noexcept;

    std::shared_ptr<State> state_;
    std::unique_ptr<Client> client_;
  };

  /// Creates `size` clients of `url` (none connected yet); throws std::invalid_argument when
  /// size is 0. `timeout` is each client's time-out and how long acquire() waits for a free one.
  Pool(const Url& url, std::size_t size, std::chrono::milliseconds timeout,
       Retry retry = Retry::kNever);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Borrows a client, waiting up to the pool's time-out (forever when it is 0) for one to come
  /// back; throws RedisError when none does (all busy: the pool is too small or a lease leaked).
  Lease acquire();
  /// Borrows a client if one is free within `wait`, std::nullopt otherwise.
  std::optional<Lease> tryAcquire(std::chrono::milliseconds wait = std::chrono::milliseconds(0));

  /// Client::ping() on a free client (readiness checks); false, never an exception, when Redis
  /// does not answer PONG or no client comes free within the time-out.
  bool ping() noexcept;

  /// How many clients the pool holds.
  std::size_t size() const noexcept { return size_; }
  /// How many clients are free right now.
  std::size_t available() const;
  /// The back-off the clients share (its counters are metrics).
  const Backoff& backoff() const noexcept { return *backoff_; }

 private:
  std::shared_ptr<Lease::State> state_;
  std::size_t size_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<Backoff> backoff_;
};

}  // namespace mp::redis
