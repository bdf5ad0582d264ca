// Client address handling for privacy: parsing, what privacy.ip_storage keeps, and visitor ids.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mp::events {

/// What is kept of a client address (config privacy.ip_storage).
enum class IpStorage { kFull, kTruncated, kNone };

/// Reads "full", "truncated" or "none"; throws mp::ConfigError naming privacy.ip_storage otherwise.
IpStorage parseIpStorage(std::string_view text);
/// The config word for `storage`: "full", "truncated" or "none".
std::string_view toString(IpStorage storage);

/// A parsed client address in network byte order. IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4:
/// a dual-stack socket reports IPv4 clients that way, and they must hash and store as IPv4.
struct IpAddress {
  bool v6 = false;  ///< false: IPv4 in bytes[0..3]; true: IPv6 in bytes[0..15]
  std::array<unsigned char, 16> bytes{};
};

/// Parses a numeric IPv4 (dotted quad) or IPv6 address as inet_pton does; std::nullopt when it is
/// anything else (names, brackets, zone ids "%eth0", ports, embedded NULs, surrounding spaces).
std::optional<IpAddress> parseIp(std::string_view text);
/// The canonical text of an address (inet_ntop: "::1" for "0:0::1", "1.2.3.4" for
/// "::ffff:1.2.3.4"); "" when it is malformed.
std::string canonicalIp(std::string_view text);

/// What a per-address limit counts an address as: IPv4 as it is, IPv6 by its /64 network
/// ("2001:db8:1:2::/64": one subscriber is commonly given a whole /64 and picks addresses in it
/// at will), IPv4-mapped IPv6 as the IPv4 address; anything else as given.
std::string limitedAddress(std::string_view ip);

/// The address as `storage` keeps it: kFull the canonical form, kTruncated the IPv4 /24
/// ("1.2.3.0") or the IPv6 /48 ("2001:db8:1::"), kNone ""; "" for a malformed address.
std::string storedIp(std::string_view ip, IpStorage storage);

/// The visitor id of API.md: HMAC-SHA256 keyed with the daily salt over an unambiguous
/// (length-prefixed) encoding of website id, canonical client address, user agent and the event's
/// UTC day; its first 8 bytes read as a big-endian signed integer (the BIGINT events.visitor_id).
/// The day in the hash means no id is shared by two days, so unique visitors over several days are
/// the sum of each day's. A malformed address is hashed as given, so equal input still gives equal
/// ids. Ingest hashes with today's salt only (SaltStore::Salts::today). Throws mp::Error when the
/// salt is empty.
std::int64_t visitorId(std::string_view dailySalt, std::string_view websiteId, std::string_view ip,
                       std::string_view userAgent, std::chrono::sys_days day);

/// The session id given to an event that carries none: the visitor id's 64 bits as 16 lowercase
/// hex digits. As the salt rotates daily, such a session is one visitor's day on one website
/// (Plausible's default); a tracker that sends sessionId itself gets finer sessions.
std::string sessionIdFromVisitor(std::int64_t visitorId);

}  // namespace mp::events
