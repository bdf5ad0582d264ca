// RFC 3339 timestamps and the clock, in milliseconds since the Unix epoch (UTC), and calendar
// days in UTC ("YYYY-MM-DD").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mp::util {

/// Milliseconds in a UTC day (Unix time has no leap seconds).
inline constexpr std::int64_t kDayMillis = 86'400'000;

/// Milliseconds since the epoch, now.
std::int64_t nowMillis();

/// "2026-11-27T10:15:00.123Z".
std::string formatRfc3339Millis(std::int64_t millis);

/// Parses RFC 3339 ("2026-11-27T10:15:00Z", fractions, "+02:00" offsets, 't'/'z' in any case);
/// nullopt when malformed or out of range.
std::optional<std::int64_t> parseRfc3339(std::string_view text);

/// Today's UTC date by the system clock.
std::chrono::sys_days todayUtc();
/// "2026-11-27" for a day.
std::string formatDate(std::chrono::sys_days day);
/// Parses "YYYY-MM-DD" (a real calendar date); std::nullopt when malformed.
std::optional<std::chrono::sys_days> parseDate(std::string_view text);

}  // namespace mp::util
