// Folding raw events into the rollup tables of 0002_rollups.sql, one UTC day at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "db/connection.hpp"

namespace mp::aggregation {

/// Session advisory lock key held for a whole fold run, so runs by several daemons, the systemd
/// timer and mpctl take turns (ASCII "MPAGGREG"; other MetricPulse locks use other keys).
inline constexpr std::int64_t kFoldLockKey = 0x4D50414747524547;

/// How late an event may arrive for its day (DESIGN.md "Aggregation"): a day folded more than
/// this long after its end is final.
inline constexpr std::chrono::hours kLateWindow{24};

/// What a fold run did.
struct FoldResult {
  int days = 0;             ///< UTC days folded
  std::int64_t events = 0;  ///< events read from the events table over those days
};

/// The days of a website whose rollups are final and complete.
struct FoldedSpan {
  std::chrono::sys_days from;     ///< first day folded (earlier days were never folded)
  std::chrono::sys_days through;  ///< last day such that every day from `from` is final
};

/// Folds every UTC day from `from` to `to` (inclusive) for all websites, or only `websiteId`:
/// per day one transaction replaces the day's rollup rows by a GROUP BY over events (idempotent).
/// Waits for the fold lock (kFoldLockKey) and holds it for the whole run; calls `progress` after
/// each day's commit. Throws InvalidInput (reversed range, malformed website id) or DbError.
FoldResult foldRange(db::Connection& conn, std::chrono::sys_days from, std::chrono::sys_days to,
                     std::optional<std::string> websiteId = {},
                     const std::function<void(std::chrono::sys_days, std::int64_t)>& progress = {});

/// Folds yesterday and today (UTC) for all websites unless another run holds the fold lock, in
/// which case it returns false at once (the daemon's schedule). Throws DbError.
bool tryFoldRecent(db::Connection& conn);

/// The final, gap-free folded days of `websiteId` (see FoldedSpan), std::nullopt when none:
/// stats read rollups for days in it and raw events for the others. Throws DbError.
std::optional<FoldedSpan> foldedSpan(db::Connection& conn, std::string_view websiteId);

/// The last day of foldedSpan(), std::nullopt when no day is final. Throws DbError.
std::optional<std::chrono::sys_days> foldedThrough(db::Connection& conn,
                                                   std::string_view websiteId);

/// Today's UTC date by the system clock.
std::chrono::sys_days todayUtc();
/// "2026-11-27" for a day.
std::string formatDate(std::chrono::sys_days day);
/// Parses "YYYY-MM-DD" (a real calendar date); std::nullopt when malformed.
std::optional<std::chrono::sys_days> parseDate(std::string_view text);

}  // namespace mp::aggregation
