// The visits of a folded day that is not final, kept exact between folds (docs/query-engine.md,
// "Days that are not final"): the stored visits are those of a snapshot (aggregation_runs.seen),
// and events written since are found by their transaction id (events.xid, 0010). Only the visits
// those events touch are sessionised again from raw events; every other stored visit stands.
//
// Why that is exact: the stored visits of a session key are its events of the day as of the
// snapshot, cut where more than kVisitGapMinutes pass without one. A new event can only join or
// split the stored visits that end no earlier than kVisitGapMinutes before the key's first new
// event and start no later than that long after its last one; every other stored visit keeps its
// gaps to its neighbours. Those visits and the new events all lie in one window of time per key,
// so sessionising the key's events of that window gives the visits a fold would give now.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace mp::stats {

/// What changed in one website's stored visits of one day since the snapshot they were made in.
struct VisitChanges {
  /// Stored visits that new events touch, to be replaced: (session_id, started_at) pairs,
  /// timestamps as text of this session.
  std::vector<std::string> replacedKeys;
  std::vector<std::string> replacedStarts;
  /// Per session key with new events, the window of its events to sessionise again.
  std::vector<std::string> keys;
  std::vector<std::string> windowFrom;
  std::vector<std::string> windowTo;
  /// The windows merged where they overlap (index ranges of the events to read).
  std::vector<std::pair<std::string, std::string>> spans;
  /// The website's events of the day written since the snapshot.
  std::int64_t newEvents = 0;

  bool empty() const { return keys.empty(); }
};

/// The changes of `websiteId`'s visits of `day` (a day of `zone`) since the snapshot `seen` (the
/// text of a pg_snapshot). Run it in the REPEATABLE READ transaction that then reads or
/// replaces the visits. Throws DbError.
VisitChanges visitChanges(db::Connection& conn, std::string_view websiteId,
                          std::chrono::sys_days day, std::string_view zone, std::string_view seen);

/// Names a statement parameter holding `value` ("$3") and returns its placeholder.
using ParamFn = std::function<std::string(std::string value)>;

/// A SELECT of the day's visit rows as they are now (kVisitColumns): the stored visits `changes`
/// leaves standing and, when there are changes, the touched ones sessionised again. `website`,
/// `day` and `zone` are SQL expressions (e.g. "$1::uuid", "$2::date", "$3::text").
std::string currentVisitRowsSql(const VisitChanges& changes, const std::string& website,
                                const std::string& day, const std::string& zone,
                                const ParamFn& param);

/// The SELECT of the touched visits alone, sessionised again (kVisitColumns); none when
/// `changes` is empty.
std::string changedVisitRowsSql(const VisitChanges& changes, const std::string& website,
                                const std::string& zone, const ParamFn& param);

/// The condition "the stored visit v is one `changes` replaces", over the visits alias `alias`.
std::string replacedVisitSql(const VisitChanges& changes, const std::string& alias,
                             const ParamFn& param);

}  // namespace mp::stats
