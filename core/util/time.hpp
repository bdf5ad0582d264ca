// RFC 3339 timestamps and the clock, in milliseconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mp::util {

/// Milliseconds since the epoch, now.
std::int64_t nowMillis();

/// "2026-11-27T10:15:00.123Z".
std::string formatRfc3339Millis(std::int64_t millis);

/// Parses RFC 3339 ("2026-11-27T10:15:00Z", fractions, "+02:00" offsets, 't'/'z' in any case);
/// nullopt when malformed or out of range.
std::optional<std::int64_t> parseRfc3339(std::string_view text);

}  // namespace mp::util
