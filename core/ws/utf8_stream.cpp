// The RFC 3629 table of well-formed sequences, walked one byte at a time so that the state
// survives between the frames of a fragmented text message.
#include "ws/utf8_stream.hpp"

#include <cstring>

namespace mp::ws {

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (!ok_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    if (needed_ == 0) {
      // Live-feed messages are mostly ASCII JSON: skip it eight bytes at a time.
      while (i + 8 <= n) {
        std::uint64_t word = 0;
        std::memcpy(&word, p + i, sizeof word);
        if ((word & 0x8080808080808080ULL) != 0) break;
        i += 8;
      }
      if (i >= n) break;
      const unsigned char c = p[i++];
      if (c < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        needed_ = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        needed_ = 2;
        if (c == 0xE0) lo_ = 0xA0;  // overlong
        if (c == 0xED) hi_ = 0x9F;  // surrogates
      } else if (c >= 0xF0 && c <= 0xF4) {
        needed_ = 3;
        if (c == 0xF0) lo_ = 0x90;  // overlong
        if (c == 0xF4) hi_ = 0x8F;  // past U+10FFFF
      } else {
        ok_ = false;
        return false;
      }
      continue;
    }
    const unsigned char c = p[i++];
    if (c < lo_ || c > hi_) {
      ok_ = false;
      return false;
    }
    lo_ = 0x80;
    hi_ = 0xBF;
    --needed_;
  }
  return true;
}

}  // namespace mp::ws
