// UUID checks and generation (lowercase, hyphenated, as the API speaks them).
#pragma once

#include <string>
#include <string_view>

namespace mp::util {

/// True for a canonical UUID, 8-4-4-4-12 hex digits (either case).
bool isUuid(std::string_view text) noexcept;

/// A new UUIDv7 (RFC 9562): millisecond time prefix, then randomness; sorts by creation time.
std::string uuidV7();

}  // namespace mp::util
