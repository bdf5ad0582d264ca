// UTF-8 validation and length.
#pragma once

#include <cstddef>
#include <string_view>

namespace mp::util {

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool isValidUtf8(std::string_view s) noexcept;
/// Number of code points in valid UTF-8.
std::size_t utf8Length(std::string_view s) noexcept;

/// What utf8LengthUnlessNul() answers for text holding a NUL character.
inline constexpr std::size_t kHoldsNul = static_cast<std::size_t>(-1);
/// Number of code points in valid UTF-8, or kHoldsNul when it holds a NUL (U+0000), which
/// PostgreSQL can store in neither text nor jsonb: both checks of a tracked string in one pass.
std::size_t utf8LengthUnlessNul(std::string_view s) noexcept;
/// True when `s` is well-formed UTF-8 (as isValidUtf8) without any NUL character.
bool isValidUtf8WithoutNul(std::string_view s) noexcept;

}  // namespace mp::util
