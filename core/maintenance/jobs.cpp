// A counted recent fold and partitions ahead, over the SQL and aggregation functions that do the
// work.
#include "maintenance/jobs.hpp"

#include <string>

#include "util/error.hpp"

namespace mp::maintenance {

std::optional<aggregation::FoldResult> foldRecent(db::Connection& conn, LockWait wait) {
  // Held around tryFoldRecent(), which takes the same (re-entrant) lock: no other run can fold
  // between the end of this one and the count below, so the count is this run's alone.
  auto lock = AdvisoryLock::acquire(conn, aggregation::kFoldLockKey, wait);
  if (!lock) return std::nullopt;
  // The database's clock, as folded_at is: rows folded by this run carry a later time.
  const std::string started(conn.exec("SELECT clock_timestamp()::text").get(0, 0));
  if (!aggregation::tryFoldRecent(conn)) return std::nullopt;
  auto counted = conn.execArgs(
      "SELECT count(DISTINCT date), coalesce(sum(events), 0)::bigint FROM aggregation_runs"
      " WHERE folded_at >= $1::timestamptz",
      started);
  return aggregation::FoldResult{static_cast<int>(counted.getInt(0, 0)), counted.getInt(0, 1)};
}

std::vector<PartitionState> ensurePartitions(db::Connection& conn, int monthsAhead) {
  if (monthsAhead < 0 || monthsAhead > 120) {
    throw InvalidInput("months-ahead",
                       "months ahead must be 0 to 120, not " + std::to_string(monthsAhead));
  }
  auto rows = conn.execArgs("SELECT partition_name, created FROM mp_ensure_event_partitions($1)",
                            monthsAhead);
  std::vector<PartitionState> states;
  states.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    states.push_back({std::string(rows.get(r, 0)), rows.getBool(r, 1)});
  }
  return states;
}

}  // namespace mp::maintenance
