// Retention: raw events older than a cutoff day pruned by dropping whole monthly partitions and
// deleting the rest, together with the rollups of the pruned days.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "maintenance/advisory_lock.hpp"

namespace mp::maintenance {

/// Session advisory lock key held by a prune run, so daemons and mpctl never prune at once
/// (ASCII "MPRETAIN"; the fold lock is aggregation::kFoldLockKey).
inline constexpr std::int64_t kRetentionLockKey = 0x4D5052455441494E;

/// How long a partition drop waits for its lock on the events table before the run gives up
/// (every reader and writer of events queues behind a waiting drop).
inline constexpr std::chrono::seconds kDropLockTimeout{5};

/// The first UTC day kept when events older than `days` days are pruned: `today` - `days`, so
/// events before its 00:00 UTC go. Throws InvalidInput when days < 1.
std::chrono::sys_days retentionCutoff(int days, std::chrono::sys_days today);

/// One change of a prune run.
struct PruneStep {
  enum class Kind {
    kDropPartition,  ///< a monthly partition lying wholly before the cutoff, dropped
    kDeleteEvents,   ///< events before the cutoff deleted from a partition covering the cutoff
                     ///< or from the default partition
    kDeleteRollups,  ///< rollup or aggregation_runs rows of the pruned days deleted
  };
  Kind kind;
  std::string table;  ///< the partition or table
  std::int64_t rows;  ///< rows dropped or deleted
};

/// What a prune run did, or with dryRun would do.
struct PruneReport {
  std::chrono::sys_days cutoff;  ///< first day kept
  bool dryRun = false;
  bool skipped = false;          ///< another run held a lock (LockWait::kSkip); nothing was done
  std::vector<PruneStep> steps;  ///< in the order they run; only steps that change something

  int partitionsDropped() const;
  /// Events gone, in dropped partitions and deleted rows.
  std::int64_t eventsRemoved() const;
  std::int64_t rollupRowsDeleted() const;
};

/// Prunes events before 00:00 UTC of `cutoff`: deletes the visits and rollup rows (visits,
/// event_summary, breakdown_daily, hourly_summary) and aggregation_runs rows of the days before
/// it, drops the partitions that end at or before it, and deletes the older rows of the partition
/// covering it and of the default partition. Holds kRetentionLockKey and the fold lock throughout
/// (waiting for them, or with LockWait::kSkip reporting `skipped`). With dryRun changes nothing
/// and takes no lock: it counts the same figures in one snapshot. Each step commits on its own,
/// and a run repeated after a failure finishes the work. Throws DbError (SQLSTATE 55P03 when a
/// partition drop could not lock events within kDropLockTimeout).
PruneReport pruneEvents(db::Connection& conn, std::chrono::sys_days cutoff, bool dryRun,
                        LockWait wait = LockWait::kWait);

}  // namespace mp::maintenance
