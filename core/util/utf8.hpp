// UTF-8 validation and length.
#pragma once

#include <cstddef>
#include <string_view>

namespace mp::util {

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool isValidUtf8(std::string_view s) noexcept;
/// Number of code points in valid UTF-8.
std::size_t utf8Length(std::string_view s) noexcept;

}  // namespace mp::util
