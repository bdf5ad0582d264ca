// UUIDv7 from the clock and OpenSSL's RAND_bytes.
#include "util/uuid.hpp"

#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "util/error.hpp"

namespace mp::util {

bool isUuid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> canonicalUuid(std::string_view text) {
  if (!isUuid(text)) return std::nullopt;
  std::string id(text);
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return id;
}

namespace {

// Random bytes drawn from OpenSSL a few KiB at a time per thread: one RAND_bytes call per id
// cost more than the rest of making it.
void randomBytes(unsigned char* out, std::size_t n) {
  thread_local std::array<unsigned char, 4096> pool{};
  thread_local std::size_t used = pool.size();
  if (pool.size() - used < n) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
      throw Error("no randomness available for an id");
    }
    used = 0;
  }
  std::memcpy(out, pool.data() + used, n);
  // Bytes handed out are wiped, so a copy of the pool never holds ids' randomness.
  std::memset(pool.data() + used, 0, n);
  used += n;
}

}  // namespace

std::string uuidV7() {
  std::array<unsigned char, 16> b{};
  randomBytes(b.data() + 6, 10);
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (int i = 0; i < 6; ++i)
    b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0F));
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3F));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0F];
  }
  return out;
}

}  // namespace mp::util
