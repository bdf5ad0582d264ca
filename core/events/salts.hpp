// The daily visitor-hash salts of the salts table, created on demand and cached per UTC day.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "db/pool.hpp"

namespace mp::events {

/// Today's and yesterday's salts, shared by every daemon through PostgreSQL; thread-safe.
///
/// How they are used (Plausible's scheme): ingest hashes every event with today's salt only
/// (events::visitorId). Yesterday's salt is kept one more day so that code which must match a
/// visit that began before midnight (UTC) can compute the id it had then; salts older than that
/// are deleted by prune(), after which nothing links a visitor across days.
class SaltStore {
 public:
  /// The raw salt bytes (32 when this store made them).
  struct Salts {
    std::string today;
    std::string yesterday;  ///< empty when none was made yesterday
  };
  /// The time source; the default is the system clock (tests move it across midnight).
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  /// Queries nothing yet.
  explicit SaltStore(db::Pool& pool, Clock clock = {});

  /// The salts of the current UTC day, from memory unless the day changed since the last call;
  /// then today's row is created if missing (race-free across threads and daemons: INSERT … ON
  /// CONFLICT DO NOTHING, then SELECT). Throws DbError (for a second after a failed load the same
  /// error at once, without querying), or mp::Error when OpenSSL has no randomness.
  Salts current();
  /// Deletes salts older than yesterday (UTC) and returns how many rows went; throws DbError.
  int prune();

 private:
  struct Cached {
    std::chrono::sys_days day;
    Salts salts;
  };

  std::shared_ptr<const Cached> load(std::chrono::sys_days day);
  std::chrono::sys_days today() const;

  db::Pool& pool_;
  Clock clock_;
  std::mutex cacheMutex_;    // guards cached_; held only to copy a pointer
  std::mutex refreshMutex_;  // one thread queries at midnight while the others wait for it
  std::shared_ptr<const Cached> cached_;
  // The last failed load, guarded by refreshMutex_.
  std::optional<std::chrono::steady_clock::time_point> failedAt_;
  std::string failure_;
  std::string failureSqlstate_;
};

}  // namespace mp::events
