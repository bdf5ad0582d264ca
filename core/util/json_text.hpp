// Writing JSON text by hand for the few fixed shapes on the tracking hot path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mp::util {

/// Appends `s` as a JSON string literal (quotes included) to `out`: '"', '\\' and control
/// characters escaped (RFC 8259), every invalid UTF-8 sequence replaced by U+FFFD, so the result is
/// always valid JSON in valid UTF-8. Never throws except std::bad_alloc.
void appendJsonString(std::string& out, std::string_view s);

/// Appends `"key":` to `out` (the key is written as given: callers pass fixed ASCII names).
inline void appendJsonKey(std::string& out, std::string_view key) {
  out.push_back('"');
  out.append(key);
  out.append("\":", 2);
}

/// Appends a signed integer in decimal.
void appendJsonInt(std::string& out, std::int64_t value);

/// True when two JSON number texts denote the same decimal value ("1e2" and "100.0", "-0" and
/// "0"); false when they differ or either is not a JSON number.
bool sameJsonNumber(std::string_view a, std::string_view b) noexcept;

}  // namespace mp::util
