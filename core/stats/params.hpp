// The parameters of the stats answers (date range, limit, interval): parsing and the
// rules they must follow, shared by GET /stats/... and mpctl stats.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mp::stats {

/// The bucket of a timeseries.
enum class Interval { kHour, kDay };

/// Days (of the website's time zone) from `from` to `to`, both included.
struct DateRange {
  std::chrono::sys_days from;
  std::chrono::sys_days to;
  /// Number of days in the range.
  int days() const { return static_cast<int>((to - from).count()) + 1; }
  friend bool operator==(const DateRange&, const DateRange&) = default;
};

/// Rows answered when no limit is given, and the most a request may ask for.
inline constexpr int kDefaultLimit = 10;
inline constexpr int kMaxLimit = 100;
/// Days of the default range: the last 7 days including today.
inline constexpr int kDefaultRangeDays = 7;
/// The longest range answered (about ten years); an hourly timeseries covers at most 31 days
/// (744 points).
inline constexpr int kMaxRangeDays = 3660;
inline constexpr int kMaxHourRangeDays = 31;
/// The earliest and latest dates accepted.
inline constexpr std::chrono::sys_days kFirstDate{std::chrono::year{1970} / 1 / 1};
inline constexpr std::chrono::sys_days kLastDate{std::chrono::year{9999} / 12 / 31};

/// The range of `from` and `to` ("YYYY-MM-DD", std::nullopt when not given): `to` defaults to
/// `today`, `from` to six days before `to`. Throws InvalidInput naming "from" or "to" for a
/// malformed date or one outside 1970-01-01…9999-12-31, and "from" for a reversed range or one
/// longer than kMaxRangeDays.
DateRange parseRange(const std::optional<std::string>& from, const std::optional<std::string>& to,
                     std::chrono::sys_days today);

/// Checks `from` and `to` as parseRange() does, before the website's "today" is known: their form
/// and, when both are given, their order and the range's length. Throws InvalidInput.
void checkDates(const std::optional<std::string>& from, const std::optional<std::string>& to);

/// The limit (kDefaultLimit when not given); throws InvalidInput("limit") unless it is a whole
/// number from 1 to kMaxLimit.
int parseLimit(const std::optional<std::string>& text);

/// The interval (day when not given); throws InvalidInput("interval") unless hour or day.
Interval parseInterval(const std::optional<std::string>& text);

/// Throws InvalidInput("from") when an hourly timeseries would cover more than kMaxHourRangeDays.
void checkInterval(const DateRange& range, Interval interval);

/// The API name of an interval ("hour").
std::string_view name(Interval interval);

}  // namespace mp::stats
