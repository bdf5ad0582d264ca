// Hand-written JSON string escaping: the queue entry and the live frame of every tracked event
// are serialised with it, where building a DOM first costs more than the rest of the request.
#include "util/json_text.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace mp::util {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629 table), 0 when invalid.
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto ck = static_cast<unsigned char>(s[i + k]);
    if (ck < 0x80 || ck > 0xBF) return 0;
  }
  return len;
}

// A JSON number as significant digits (no leading or trailing zeros) and the power of ten of
// the first of them: 120.5e1 is {"1205", 3}, zero is {"", 0}.
struct Decimal {
  bool negative = false;
  std::string digits;
  std::int64_t exponent = 0;
};

std::optional<Decimal> readDecimal(std::string_view s) noexcept {
  Decimal d;
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    d.negative = true;
    ++i;
  }
  const auto isDigit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (!isDigit(i)) return std::nullopt;
  std::int64_t intDigits = 0;  // digits before the point, leading zeros included
  std::string all;
  for (; isDigit(i); ++i, ++intDigits) all.push_back(s[i]);
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!isDigit(i)) return std::nullopt;
    for (; isDigit(i); ++i) all.push_back(s[i]);
  }
  std::int64_t exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negExp = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negExp = s[i++] == '-';
    if (!isDigit(i)) return std::nullopt;
    // Clamped: an exponent this large is outside every double either way.
    for (; isDigit(i); ++i) exp = std::min<std::int64_t>(exp * 10 + (s[i] - '0'), 1'000'000'000);
    if (negExp) exp = -exp;
  }
  if (i != s.size()) return std::nullopt;
  const auto first = all.find_first_not_of('0');
  if (first == std::string::npos) return Decimal{};  // zero, whatever its sign
  const auto last = all.find_last_not_of('0');
  d.digits = all.substr(first, last - first + 1);
  d.exponent = intDigits - 1 - static_cast<std::int64_t>(first) + exp;
  return d;
}

}  // namespace

bool sameJsonNumber(std::string_view a, std::string_view b) noexcept {
  try {
    const auto x = readDecimal(a);
    const auto y = readDecimal(b);
    return x && y && x->negative == y->negative && x->digits == y->digits &&
           x->exponent == y->exponent;
  } catch (...) {  // std::bad_alloc only
    return false;
  }
}

void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  std::size_t run = 0;  // start of the pending stretch of bytes that need no escaping
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t len = utf8SequenceLength(s, i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"", 2);
        break;
      case '\\':
        out.append("\\\\", 2);
        break;
      case '\n':
        out.append("\\n", 2);
        break;
      case '\r':
        out.append("\\r", 2);
        break;
      case '\t':
        out.append("\\t", 2);
        break;
      case '\b':
        out.append("\\b", 2);
        break;
      case '\f':
        out.append("\\f", 2);
        break;
      default:
        if (c < 0x20) {
          out.append("\\u00", 4);
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.append("\xEF\xBF\xBD", 3);  // U+FFFD for a byte that starts no valid sequence
        }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void appendJsonInt(std::string& out, std::int64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<std::size_t>(result.ptr - buf));
}

}  // namespace mp::util
