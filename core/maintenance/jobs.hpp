// The short periodic maintenance steps shared by the daemon's scheduler and mpctl: a fold of the
// recent days that reports what it did, and the monthly events partitions ahead of time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "maintenance/advisory_lock.hpp"

namespace mp::maintenance {

/// Runs aggregation::tryFoldRecent() (the days that are not final yet) under the fold lock and
/// counts what it folded: days = distinct UTC days, events = events of those days, from the
/// aggregation_runs rows the run wrote. With LockWait::kSkip returns std::nullopt at once when
/// another run holds the lock; kWait takes turns with it. Throws DbError.
std::optional<aggregation::FoldResult> foldRecent(db::Connection& conn, LockWait wait);

/// One monthly partition of events and whether this call created it.
struct PartitionState {
  std::string name;  ///< events_yYYYYmMM
  bool created = false;
};

/// Ensures the events partitions of this UTC month and the `monthsAhead` following ones exist
/// (mp_ensure_event_partitions(): rows of those months waiting in the default partition move into
/// them); safe to run concurrently. Throws InvalidInput (monthsAhead outside 0..120) or DbError.
std::vector<PartitionState> ensurePartitions(db::Connection& conn, int monthsAhead);

}  // namespace mp::maintenance
