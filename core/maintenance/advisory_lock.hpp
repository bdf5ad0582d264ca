// A PostgreSQL session advisory lock held for the life of an object (maintenance jobs take turns).
#pragma once

#include <cstdint>
#include <optional>

#include "db/connection.hpp"

namespace mp::maintenance {

/// Whether a job waits for a lock another session holds, or gives up at once.
enum class LockWait { kWait, kSkip };

/// Holds the session advisory lock `key` on `conn` from acquire() until destruction; session
/// locks are re-entrant, so a holder may call code that takes the same lock again.
class AdvisoryLock {
 public:
  /// Takes the lock (waiting for it with LockWait::kWait); std::nullopt when it is held elsewhere
  /// and `wait` is kSkip. Throws DbError.
  static std::optional<AdvisoryLock> acquire(db::Connection& conn, std::int64_t key,
                                             LockWait wait) {
    if (wait == LockWait::kWait) {
      conn.execArgs("SELECT pg_advisory_lock($1::bigint)", key);
    } else if (!conn.execArgs("SELECT pg_try_advisory_lock($1::bigint)", key).getBool(0, 0)) {
      return std::nullopt;
    }
    return AdvisoryLock(conn, key);
  }

  ~AdvisoryLock() {
    if (conn_ == nullptr) return;
    try {
      conn_->execArgs("SELECT pg_advisory_unlock($1::bigint)", key_);
    } catch (...) {
      // A broken connection has lost the lock with the session.
    }
  }
  AdvisoryLock(AdvisoryLock&& other) noexcept : conn_(other.conn_), key_(other.key_) {
    other.conn_ = nullptr;
  }
  AdvisoryLock& operator=(AdvisoryLock&&) = delete;
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  AdvisoryLock(db::Connection& conn, std::int64_t key) : conn_(&conn), key_(key) {}

  db::Connection* conn_;
  std::int64_t key_;
};

}  // namespace mp::maintenance
