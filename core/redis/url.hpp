// The Redis connection URL as the Redis client speaks it; the parser is util/redis_url.hpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/redis_url.hpp"

namespace mp::redis {

inline constexpr int kDefaultPort = util::kDefaultRedisPort;
using Url = util::RedisUrl;

/// Parses a Redis URL; see util::parseRedisUrl().
inline Url parseUrl(std::string_view text) {
  return util::parseRedisUrl(text);
}
/// parseUrl() without the exception; see util::tryParseRedisUrl().
inline std::optional<Url> tryParseUrl(std::string_view text) {
  return util::tryParseRedisUrl(text);
}
/// The reason `text` is not a valid Redis URL; see util::validateRedisUrl().
inline std::optional<std::string> validateUrl(const std::string& text) {
  return util::validateRedisUrl(text);
}

}  // namespace mp::redis
