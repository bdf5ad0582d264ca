// Address parsing, truncation and the keyed visitor hash.
#include "events/privacy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "util/error.hpp"

namespace mp::events {
namespace {

// Longer input cannot be a numeric address (INET6_ADDRSTRLEN is 46 with the NUL); checking first
// keeps a hostile header from being copied.
constexpr std::size_t kMaxIpText = INET6_ADDRSTRLEN;

// Bumped if the encoding below ever changes, so old and new ids can never collide by accident.
constexpr std::string_view kVisitorIdDomain = "metricpulse visitor v2";

constexpr std::array<unsigned char, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string toText(const IpAddress& addr) {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(addr.v6 ? AF_INET6 : AF_INET, addr.bytes.data(), buf, sizeof buf) == nullptr) {
    return {};
  }
  return buf;
}

// Length prefix (8 bytes, big-endian) then the bytes: "ab"+"c" and "a"+"bc" must differ.
void appendField(std::string& out, std::string_view field) {
  auto n = static_cast<std::uint64_t>(field.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out.append(field);
}

// One keyed HMAC context per thread, set up again only when the salt changes (daily): fetching
// the algorithm and expanding the key cost more than hashing the short message itself.
struct MacContext {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  std::string salt;
  MacContext() = default;
  MacContext(const MacContext&) = delete;
  MacContext& operator=(const MacContext&) = delete;
  ~MacContext() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

MacContext& threadMac(std::string_view salt) {
  thread_local MacContext m;
  if (m.ctx == nullptr) {
    m.mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m.mac != nullptr) m.ctx = EVP_MAC_CTX_new(m.mac);
    if (m.ctx == nullptr) throw Error("OpenSSL has no HMAC");
  }
  if (m.salt != salt) {
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    m.salt.clear();
    if (EVP_MAC_init(m.ctx, reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                     params) != 1) {
      throw Error("HMAC-SHA256 key set-up failed");
    }
    m.salt.assign(salt);
  }
  return m;
}

}  // namespace

IpStorage parseIpStorage(std::string_view text) {
  if (text == "full") return IpStorage::kFull;
  if (text == "truncated") return IpStorage::kTruncated;
  if (text == "none") return IpStorage::kNone;
  throw ConfigError("privacy.ip_storage must be \"full\", \"truncated\" or \"none\", not \"" +
                    std::string(text) + "\"");
}

std::string_view toString(IpStorage storage) {
  switch (storage) {
    case IpStorage::kFull:
      return "full";
    case IpStorage::kTruncated:
      return "truncated";
    case IpStorage::kNone:
      return "none";
  }
  return "none";
}

std::optional<IpAddress> parseIp(std::string_view text) {
  // inet_pton needs a NUL-terminated copy; an embedded NUL would silently cut the text short.
  if (text.empty() || text.size() >= kMaxIpText || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string copy(text);
  IpAddress addr;
  if (inet_pton(AF_INET, copy.c_str(), addr.bytes.data()) == 1) return addr;
  if (inet_pton(AF_INET6, copy.c_str(), addr.bytes.data()) != 1) return std::nullopt;
  if (std::memcmp(addr.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0) {
    std::memmove(addr.bytes.data(), addr.bytes.data() + kMappedPrefix.size(), 4);
    std::memset(addr.bytes.data() + 4, 0, addr.bytes.size() - 4);
    return addr;
  }
  addr.v6 = true;
  return addr;
}

std::string canonicalIp(std::string_view text) {
  auto addr = parseIp(text);
  return addr ? toText(*addr) : std::string();
}

std::string limitedAddress(std::string_view ip) {
  // IPv4 without parsing: this runs for every tracked event when the rate limit is on.
  if (ip.find(':') == std::string_view::npos) return std::string(ip);
  auto addr = parseIp(ip);
  if (!addr) return std::string(ip);
  if (!addr->v6) return toText(*addr);
  std::memset(addr->bytes.data() + 8, 0, 8);
  return toText(*addr) + "/64";
}

std::string storedIp(std::string_view ip, IpStorage storage) {
  if (storage == IpStorage::kNone) return {};
  auto addr = parseIp(ip);
  if (!addr) return {};
  if (storage == IpStorage::kTruncated) {
    // /24 and /48: what a typical home or small-office allocation shares, so the stored address
    // no longer identifies one subscriber.
    const std::size_t keep = addr->v6 ? 6 : 3;
    std::memset(addr->bytes.data() + keep, 0, addr->bytes.size() - keep);
  }
  return toText(*addr);
}

std::int64_t visitorId(std::string_view dailySalt, std::string_view websiteId, std::string_view ip,
                       std::string_view userAgent, std::chrono::sys_days day) {
  // Without a key the hash of the small IPv4 space could simply be enumerated.
  if (dailySalt.empty()) throw Error("visitorId: the daily salt is empty");
  std::string message;
  message.reserve(kVisitorIdDomain.size() + websiteId.size() + ip.size() + userAgent.size() + 64);
  message.append(kVisitorIdDomain);
  appendField(message, websiteId);
  // One client written two ways ("::1", "0:0::1", "::ffff:1.2.3.4") must stay one visitor.
  std::string canonical = canonicalIp(ip);
  appendField(message, canonical.empty() ? ip : std::string_view(canonical));
  appendField(message, userAgent);
  // The event's day makes every id belong to one UTC day, even for a back-dated event hashed with
  // today's salt: unique visitors of a range are then the sum of its days' (the rollups rely on
  // it).
  const std::chrono::year_month_day ymd{day};
  char date[16];
  std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  appendField(message, date);

  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t macLen = 0;
  MacContext& ctx = threadMac(dailySalt);
  if (EVP_MAC_init(ctx.ctx, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx.ctx, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      EVP_MAC_final(ctx.ctx, mac, &macLen, sizeof mac) != 1 || macLen < 8) {
    ctx.salt.clear();  // set the key again next time
    throw Error("HMAC-SHA256 failed");
  }
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | mac[i];
  // Two's complement reinterpretation, well-defined since C++20.
  return std::bit_cast<std::int64_t>(bits);
}

std::string sessionIdFromVisitor(std::int64_t visitorId) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto bits = std::bit_cast<std::uint64_t>(visitorId);
  std::string out(16, '0');
  for (std::size_t i = 16; i-- > 0; bits >>= 4) out[i] = kHex[bits & 0xf];
  return out;
}

}  // namespace mp::events
