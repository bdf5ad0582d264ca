// Folding raw events into the rollup tables (0002_rollups.sql, 0003), one UTC day at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace mp::aggregation {

/// Session advisory lock key held for a whole fold run, so runs by several daemons, the systemd
/// timer and mpctl take turns (ASCII "MPAGGREG"; other MetricPulse locks use other keys).
inline constexpr std::int64_t kFoldLockKey = 0x4D50414747524547;

/// A day's rollups are final once folded, and not marked dirty since, at least this long after
/// the day's end (0003_day_scoped_visitors.sql). The events writer marks dirty every day before
/// the current UTC day that receives an event; the margin covers a writer that took the day for
/// "today" just before midnight and commits a moment after it.
inline constexpr std::chrono::hours kSettleTime{1};

/// How far back tryFoldRecent() looks for days that are not final: late events are accepted up
/// to 30 days old (server-side tracking), and a few days more cover a queue held back by an outage.
inline constexpr int kRecentDays = 35;

/// How many older (day, time zone) folds one tryFoldRecent() run does at most, newest first:
/// days before the kRecentDays window marked dirty, after an upgrade that rebuilt the rollups or
/// a website's change of time zone.
inline constexpr int kBackfillDays = 14;

/// What a fold run did.
struct FoldResult {
  int days = 0;             ///< UTC days folded
  std::int64_t events = 0;  ///< events read from the events table over those days
};

/// The days of a website whose rollups are final and complete.
struct FoldedSpan {
  std::chrono::sys_days from;     ///< first final day (no earlier day is final)
  std::chrono::sys_days through;  ///< last day such that every day from `from` is final
};

/// Folds every UTC day from `from` to `to` (inclusive) for all websites, or only `websiteId`:
/// per day one REPEATABLE READ transaction replaces the day's rollup rows by a GROUP BY over
/// events (idempotent) and records the fold in aggregation_runs (not dirty); a day whose
/// aggregation_runs row a writer marks meanwhile is redone.
/// Waits for the fold lock (kFoldLockKey) and holds it for the whole run; calls `progress` after
/// each day's commit. Throws InvalidInput (reversed range, malformed website id) or DbError.
FoldResult foldRange(db::Connection& conn, std::chrono::sys_days from, std::chrono::sys_days to,
                     std::optional<std::string> websiteId = {},
                     const std::function<void(std::chrono::sys_days, std::int64_t)>& progress = {});

/// The scheduled fold: unless another run holds the fold lock (then it returns false at once),
/// folds today and every day of the last kRecentDays that is not final for some website (dirty,
/// folded before it had settled, or never folded since the website existed), each day for the
/// websites that need it (today is never final, so it is always folded). Throws DbError.
bool tryFoldRecent(db::Connection& conn);

/// The final days of `websiteId` from `from` to `to` (inclusive; std::nullopt = unbounded), in
/// order: the stats read their rollups, and raw events for every other day. Run it in the same
/// REPEATABLE READ transaction as those reads, so that the rollups read are the ones it judged.
/// A malformed website id has none. Throws DbError.
std::vector<std::chrono::sys_days> finalDays(db::Connection& conn, std::string_view websiteId,
                                             std::optional<std::chrono::sys_days> from = {},
                                             std::optional<std::chrono::sys_days> to = {});

/// A day of a website that has a row in aggregation_runs (folded, or marked by a writer).
struct DayState {
  std::chrono::sys_days day;
  /// Folded, not dirty since, and folded kSettleTime or more after its end: its rollups and
  /// stored visits hold all its events.
  bool final = false;
  /// The snapshot (pg_snapshot text) its stored visits were made in, "" when they are not
  /// usable (never folded, or its website's time zone changed since): events not in it are the
  /// day's changes (stats::visitChanges()).
  std::string seen;
  /// Whether page_breakdown_daily holds its rows (0013).
  bool pageBreakdowns = false;
};

/// The days from `from` to `to` (inclusive) of `websiteId` that have a row, in order. Run it in
/// the REPEATABLE READ transaction that reads their rollups or visits. Throws DbError.
std::vector<DayState> dayStates(db::Connection& conn, std::string_view websiteId,
                                std::chrono::sys_days from, std::chrono::sys_days to);

/// How many (goal or funnel, day) pairs one tryRefreshVisits() run computes at most for goals
/// and funnels created after their days were folded (0011, 0012), and (website, day) pairs for
/// page breakdowns of days folded before 0013.
inline constexpr int kConversionBackfillDays = 31;

/// What a tryRefreshVisits() run did.
struct RefreshResult {
  int days = 0;            ///< (website, day) pairs whose stored visits changed
  int conversionDays = 0;  ///< (goal, funnel or website, day) pairs given their rows
};

/// Keeps the stored visits of days that are not final current between folds: unless another
/// run holds the fold lock (then std::nullopt at once, or with `wait` its turn after it), in one
/// REPEATABLE READ transaction,
/// replaces the visits that events written since each such day's snapshot touched and records
/// the new snapshot; then gives up to kConversionBackfillDays final days folded before a goal or
/// funnel existed its rows. The stats are exact without it; it keeps what they sessionise
/// again or walk per question small. With `websites` (ids), only their days, and no backfill:
/// what a question far behind asks for, quicker than a refresh of every website. Throws DbError.
std::optional<RefreshResult> tryRefreshVisits(db::Connection& conn, bool wait = false,
                                              const std::vector<std::string>& websites = {});

/// The first gap-free run of final days of `websiteId` (see FoldedSpan), std::nullopt when no
/// day is final. Throws DbError.
std::optional<FoldedSpan> foldedSpan(db::Connection& conn, std::string_view websiteId);

/// The last day of foldedSpan(), std::nullopt when no day is final. Throws DbError.
std::optional<std::chrono::sys_days> foldedThrough(db::Connection& conn,
                                                   std::string_view websiteId);

}  // namespace mp::aggregation
