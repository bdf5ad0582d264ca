// Connection pool: a mutex-guarded idle list, connections opened outside the lock.
#include "db/pool.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "log/log.hpp"

namespace mp::db {

// Lives as long as the pool or any lease, so a lease that outlives its pool can still end safely.
struct Pool::Shared {
  Shared(std::string u, std::size_t s, std::chrono::seconds t)
      : url(std::move(u)), size(s), connectTimeout(t) {}

  const std::string url;
  const std::size_t size;
  const std::chrono::seconds connectTimeout;

  mutable std::mutex mutex;
  std::condition_variable available;
  std::vector<std::unique_ptr<Connection>> idle;  // most recently returned last
  std::size_t open = 0;                           // idle + lent out + being opened
  std::size_t waiting = 0;
  bool closed = false;

  // Opens a connection for a slot already counted in `open`; gives the slot back on failure.
  std::unique_ptr<Connection> connect() {
    try {
      auto conn = std::make_unique<Connection>(url, connectTimeout);
      log::get("db")->debug("opened pooled connection pid={}", conn->backendPid());
      return conn;
    } catch (...) {
      {
        std::lock_guard lock(mutex);
        --open;
      }
      available.notify_one();
      throw;
    }
  }

  void giveBack(std::unique_ptr<Connection> conn) noexcept {
    bool keep = conn->healthy();
    if (keep && conn->inTransaction()) {
      // The holder left a transaction open (an exception skipped its Transaction?). The next
      // borrower must start clean.
      try {
        conn->exec("ROLLBACK");
      } catch (...) {
        keep = false;
      }
      keep = keep && !conn->inTransaction();
    }
    {
      std::lock_guard lock(mutex);
      if (keep && !closed) {
        idle.push_back(std::move(conn));
      } else {
        --open;
      }
    }
    available.notify_one();
    // A dropped connection is closed here, outside the lock (PQfinish writes to the socket).
  }
};

Pool::Lease::Lease(std::shared_ptr<Shared> shared, std::unique_ptr<Connection> conn) noexcept
    : shared_(std::move(shared)), conn_(std::move(conn)) {}

Pool::Lease::~Lease() {
  release();
}

Pool::Lease& Pool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    shared_ = std::move(other.shared_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

void Pool::Lease::release() noexcept {
  if (conn_ && shared_) shared_->giveBack(std::move(conn_));
  conn_.reset();
  shared_.reset();
}

Pool::Pool(std::string url, std::size_t size, std::chrono::seconds connectTimeout) {
  if (size == 0) throw std::invalid_argument("a connection pool needs a size of at least 1");
  shared_ = std::make_shared<Shared>(std::move(url), size, connectTimeout);
}

Pool::~Pool() {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->closed = true;
    idle.swap(shared_->idle);
    shared_->open -= idle.size();
  }
}

Pool::Lease Pool::acquire(std::chrono::milliseconds wait) {
  Shared& s = *shared_;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock lock(s.mutex);
  for (;;) {
    if (!s.idle.empty()) {
      auto conn = std::move(s.idle.back());
      s.idle.pop_back();
      lock.unlock();
      if (conn->probe()) return Lease(shared_, std::move(conn));
      // The server closed it while it sat idle: open a fresh one in the same slot rather than
      // hand out a connection whose first statement would fail.
      log::get("db")->info("replacing a pooled connection the server closed (pid={})",
                           conn->backendPid());
      conn.reset();
      return Lease(shared_, s.connect());
    }
    if (s.open < s.size) {
      ++s.open;
      // Never connect under the mutex: a slow or unreachable server would stall every thread
      // that only wants to return or borrow an idle connection.
      lock.unlock();
      return Lease(shared_, s.connect());
    }
    ++s.waiting;
    const bool ready =
        s.available.wait_until(lock, deadline, [&s] { return !s.idle.empty() || s.open < s.size; });
    --s.waiting;
    if (!ready) {
      throw DbError("no database connection available within " + std::to_string(wait.count()) +
                        " ms (all " + std::to_string(s.size) + " pooled connections are in use)",
                    std::string(kSqlstateTooManyConnections));
    }
  }
}

bool Pool::ping(std::chrono::milliseconds wait) noexcept {
  try {
    auto lease = acquire(wait);
    return lease->ping();
  } catch (...) {
    return false;
  }
}

Pool::Stats Pool::stats() const {
  std::lock_guard lock(shared_->mutex);
  return {shared_->size, shared_->open, shared_->idle.size(), shared_->waiting};
}

}  // namespace mp::db
