// Incremental UTF-8 validation for text messages that arrive in pieces.
#pragma once

#include <cstdint>
#include <string_view>

namespace mp::ws {

/// Checks UTF-8 piece by piece (a sequence may straddle pieces) with the rules of
/// util::isValidUtf8: no overlongs, surrogates or code points past U+10FFFF.
class Utf8Validator {
 public:
  /// Checks the next bytes; false from the first byte that no valid text could contain, and
  /// from then on until reset(). Never throws.
  bool feed(std::string_view bytes) noexcept;
  /// True when everything fed is valid and no multi-byte sequence is left unfinished.
  bool complete() const noexcept { return ok_ && needed_ == 0; }
  /// True while nothing fed so far is invalid (an unfinished sequence may still complete).
  bool ok() const noexcept { return ok_; }
  /// Starts over for the next text.
  void reset() noexcept { *this = Utf8Validator(); }

 private:
  std::uint8_t needed_ = 0;  // continuation bytes still expected
  std::uint8_t lo_ = 0x80;   // range of the next continuation byte, narrower right after
  std::uint8_t hi_ = 0xBF;   // E0, ED, F0 and F4 (RFC 3629 table)
  bool ok_ = true;
};

}  // namespace mp::ws
