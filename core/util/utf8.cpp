// A strict UTF-8 validator (RFC 3629 table of well-formed byte sequences).
#include "util/utf8.hpp"

namespace mp::util {

namespace {

template <bool kRefuseNul>
bool validUtf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (kRefuseNul && c == 0) return false;
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlongs
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
      return false;
    }
    if (i + len > n) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      const auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

bool isValidUtf8(std::string_view s) noexcept {
  return validUtf8<false>(s);
}

bool isValidUtf8WithoutNul(std::string_view s) noexcept {
  return validUtf8<true>(s);
}

std::size_t utf8Length(std::string_view s) noexcept {
  std::size_t count = 0;
  for (char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::size_t utf8LengthUnlessNul(std::string_view s) noexcept {
  // No early exit: a loop without one is vectorised, and tracked strings are short.
  std::size_t count = 0;
  bool nul = false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    count += (c & 0xC0) != 0x80 ? 1 : 0;
    nul |= c == 0;
  }
  return nul ? kHoldsNul : count;
}

}  // namespace mp::util
