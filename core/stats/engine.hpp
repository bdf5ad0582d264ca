// The query engine: answers any stats::Query exactly, from the rollups and visits of folded days
// and from visits computed from raw events for the others (docs/query-engine.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "db/connection.hpp"
#include "stats/query.hpp"

namespace mp::stats {

/// A question that finds at least this many events written since a day's stored visits were
/// last brought up to date sessionises them all again, and so would every question after it:
/// it calls the backlog hook, which asks for a refresh of that website's stored visits now (the
/// daemon's scheduler) rather than at the next refresh_interval.
inline constexpr std::int64_t kLiveBacklogEvents = 1000;

/// Called on the questioning thread with the website asked about and the events of its live
/// days the question found (at least kLiveBacklogEvents); must be quick and must not throw. An
/// empty function clears it. Thread-safe: a question sees the hook before or after the change.
void setLiveBacklogHook(
    std::function<void(const std::string& websiteId, std::int64_t events)> hook);

/// Answers `query` (website, range, metrics, dimensions, filters, order, paging, compare) in one
/// read-only REPEATABLE READ snapshot on `conn`, which must not be in a transaction. The website
/// is not looked up: its id and time zone are the query's. Throws InvalidInput for a query the
/// engine cannot answer (an invalid RE2 pattern, two event dimensions, a filter on time), and
/// DbError.
Answer run(db::Connection& conn, const Query& query);

/// The days of `query`'s range (and of its comparison) imported as daily aggregates, whether
/// run() counts them for it and which of its metrics they lack; nullopt when there are none.
/// Throws DbError.
std::optional<ImportedDays> importedDays(db::Connection& conn, const Query& query);

/// One step of a funnel: an event name, or a regular expression (goals::pageRegex()) matched
/// against the page of a page view.
struct FunnelStep {
  bool page = false;
  std::string target;  ///< event name, or regular expression
};

/// Per step of a funnel, the visitors and visits that reached it: each visit of the query's range
/// that passes its filters reaches step k when its events hold steps 1…k in that order
/// (docs/metrics.md "Funnels"). Visitors are distinct per day and summed. The query's metrics,
/// dimensions, order and paging are ignored. `funnelId`, when the steps are those of a stored
/// funnel, lets final days be read from its daily rows (0011) when nothing is filtered. Throws as
/// run().
std::vector<Totals> funnel(db::Connection& conn, const Query& query,
                           const std::vector<FunnelStep>& steps,
                           const std::optional<std::string>& funnelId = std::nullopt);

/// A goal as the engine asks about it: its id (for its daily rows, 0012) and its filters
/// (conversions::goalFilters()).
struct GoalQuestion {
  std::string goalId;
  std::vector<Filter> filters;
};

/// Per goal, the visitors (distinct per day, summed) and events of the query's range that reached
/// it: the totals of the query with the goal's filters added. Final days are read from the goals'
/// daily rows when the query has no filters of its own. Throws as run().
std::vector<Totals> goalTotals(db::Connection& conn, const Query& query,
                               const std::vector<GoalQuestion>& goals);

}  // namespace mp::stats
