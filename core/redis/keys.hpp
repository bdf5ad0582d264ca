// The one place Redis key names, channel names and their TTLs are defined.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/net.hpp"

namespace mp::redis {

/// The stream every accepted event is appended to (XADD) and the writers drain (XREADGROUP).
/// Its entries' format is in ingest/queue_entry.hpp.
inline constexpr std::string_view kIngestStream = "mp:ingest";
/// The consumer group of the writer threads of every daemon on kIngestStream.
inline constexpr std::string_view kIngestGroup = "mp:writers";

/// How long a per-minute rate-limit counter lives: its own minute plus one more, so a daemon
/// whose clock runs a little behind another's still finds the counter, and nothing is left over.
inline constexpr std::chrono::seconds kRateLimitTtl{120};

// The login-failure counters below take their TTL from configuration (auth.login_window): the
// key expires when its window ends, so it has no constant here.

/// Pub/sub channel of one website's live events: "events:{websiteId}". The id leads so Redis
/// Cluster can shard channels by website (sharded pub/sub).
inline std::string eventsChannel(std::string_view websiteId) {
  std::string key("events:");
  key.append(websiteId);
  return key;
}

/// Pub/sub channel on which whoever creates, deletes or changes the time zone of a website,
/// deletes an account or changes a password (a daemon, mpctl) announces it before answering, so
/// that every daemon drops what it cached of that id at once. Messages: websiteChangedMessage(),
/// accountChangedMessage().
inline constexpr std::string_view kInvalidateChannel = "mp:invalidate";
/// The announcement that a website was created, deleted or its time zone changed:
/// "website:{id}".
inline std::string websiteChangedMessage(std::string_view websiteId) {
  std::string message("website:");
  message.append(websiteId);
  return message;
}
/// The announcement that an account was deleted or its password changed: "account:{id}".
inline std::string accountChangedMessage(std::string_view userId) {
  std::string message("account:");
  message.append(userId);
  return message;
}

/// Counter of failed logins for one email: "mp:login:email:{email}". The email is lower-cased
/// (ASCII), as users.email is unique case-insensitively, so "A@x" and "a@x" share one counter.
inline std::string loginFailEmailKey(std::string_view email) {
  std::string key("mp:login:email:");
  key.reserve(key.size() + email.size());
  for (const char c : email) {
    key.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return key;
}

/// Counter of login attempts from one client address: "mp:login:ip:{address}", the address as
/// util::addressBucket() counts it (IPv6 by its /64).
inline std::string loginFailIpKey(std::string_view ip) {
  std::string key("mp:login:ip:");
  key.append(util::addressBucket(ip));
  return key;
}

/// Fixed-window tracking rate-limit counter of one client address for one minute:
/// "mp:rl:{address}:{minute}", the address as util::addressBucket() counts it (IPv6 by its
/// /64), `minute` being Unix time divided by 60; lives kRateLimitTtl.
inline std::string rateLimitKey(std::string_view ip, std::int64_t minute) {
  std::string key("mp:rl:");
  key.append(util::addressBucket(ip));
  key.push_back(':');
  key.append(std::to_string(minute));
  return key;
}

/// Sessions count as active this long after their last event (GET /stats/{id}/realtime).
inline constexpr std::chrono::seconds kRealtimeWindow{300};
/// A session with no event for this long is over; its realtime entry is dropped.
inline constexpr std::chrono::seconds kSessionTimeout{1800};
/// How often a daemon trims a website's realtime set and renews its expiry at most.
inline constexpr std::chrono::seconds kRealtimeTrimInterval{10};

/// Sorted set of one website's sessions scored by their last event time (Unix seconds):
/// "mp:rt:{websiteId}". Active sessions = ZCOUNT over the last kRealtimeWindow; members older
/// than kSessionTimeout are trimmed every kRealtimeTrimInterval at most, and the key expires
/// with its last session.
inline std::string realtimeKey(std::string_view websiteId) {
  std::string key("mp:rt:");
  key.append(websiteId);
  return key;
}

/// The longest a realtime answer is cached, whatever cache.ttl_seconds says: it is a count of
/// the last few minutes, and a dashboard polls it.
inline constexpr std::chrono::seconds kRealtimeCacheMaxTtl{5};

/// Cached stats answer (the JSON body) of one endpoint of one website for one set of parameters:
/// "mp:stats:{websiteId}:{endpoint}:{params}". `params` is the normalised query, every default
/// resolved (e.g. "from=2026-11-21&to=2026-11-27&limit=10"), so equal questions share one key;
/// lives cache.ttl_seconds (kRealtimeCacheMaxTtl at most for "realtime").
inline std::string statsCacheKey(std::string_view websiteId, std::string_view endpoint,
                                 std::string_view params) {
  std::string key("mp:stats:");
  key.append(websiteId);
  key.push_back(':');
  key.append(endpoint);
  key.push_back(':');
  key.append(params);
  return key;
}

/// SCAN pattern of every cached stats answer of one website ("mp:stats:{websiteId}:*"), dropped
/// when the website is deleted or its time zone changes. A website id (a UUID) holds no glob
/// character.
inline std::string statsCachePattern(std::string_view websiteId) {
  std::string pattern("mp:stats:");
  pattern.append(websiteId);
  pattern.append(":*");
  return pattern;
}

}  // namespace mp::redis
