// A thread-safe pool of PostgreSQL connections, opened lazily and lent out as move-only leases.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "db/connection.hpp"

namespace mp::db {

/// Holds up to `size` connections to one database; any thread may acquire one.
class Pool {
  struct Shared;

 public:
  /// A borrowed connection, given back to the pool when the lease ends (dropped when it broke,
  /// rolled back first when a transaction was left open).
  class Lease {
   public:
    Lease() = default;
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    Connection* operator->() const noexcept { return conn_.get(); }
    Connection& operator*() const noexcept { return *conn_; }
    /// True while the lease holds a connection.
    explicit operator bool() const noexcept { return conn_ != nullptr; }
    /// Gives the connection back now; the lease is empty afterwards.
    void release() noexcept;

   private:
    friend class Pool;
    Lease(std::shared_ptr<Shared> shared, std::unique_ptr<Connection> conn) noexcept;

    std::shared_ptr<Shared> shared_;
    std::unique_ptr<Connection> conn_;
  };

  /// Counters for /metrics.
  struct Stats {
    std::size_t size = 0;     ///< most connections the pool opens
    std::size_t open = 0;     ///< connections open (idle and lent out)
    std::size_t idle = 0;     ///< open connections waiting in the pool
    std::size_t waiting = 0;  ///< threads waiting in acquire()
  };

  /// Opens nothing yet; throws std::invalid_argument when size is 0.
  Pool(std::string url, std::size_t size, std::chrono::seconds connectTimeout);
  /// Closes idle connections; leases still out close theirs when they end.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Lends a connection, opening one when none is idle and fewer than size are open; waits up
  /// to `wait` for one to come back. Throws DbError (SQLSTATE 53300) when none came back in time,
  /// or the connection error when opening one failed.
  Lease acquire(std::chrono::milliseconds wait = std::chrono::seconds(5));
  /// True when a pooled connection answers SELECT 1 (for /readyz); never throws.
  bool ping(std::chrono::milliseconds wait = std::chrono::seconds(1)) noexcept;
  /// A snapshot of the counters.
  Stats stats() const;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace mp::db
