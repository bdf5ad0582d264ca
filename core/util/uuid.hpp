// UUID checks and generation (lowercase, hyphenated, as the API speaks them).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp::util {

/// True for a canonical UUID, 8-4-4-4-12 hex digits (either case).
bool isUuid(std::string_view text) noexcept;

/// The canonical (lower-case) form of a UUID, the form website ids are stored, cached and keyed
/// by; std::nullopt when `text` is not a UUID (see isUuid).
std::optional<std::string> canonicalUuid(std::string_view text);

/// A new UUIDv7 (RFC 9562): millisecond time prefix, then randomness; sorts by creation time.
std::string uuidV7();

}  // namespace mp::util
