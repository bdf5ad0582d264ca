// Finding the Redis master through Sentinel: every connection asks the sentinels for the
// master's address when it connects, so a failover is followed by reconnecting.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "redis/url.hpp"

namespace mp::redis {

/// The URL of the configured Redis: redis.url, with redis.sentinels and redis.master_name when
/// Sentinel is used (then the URL's host and port are only a fallback name in messages).
Url configuredUrl(const config::RedisConfig& config);

/// The URL to connect to now: `url` itself without sentinels; otherwise its credentials and
/// database at the address of the master the first answering sentinel names (each asked with
/// `timeout`). Throws RedisError when no sentinel answers or none knows the master. Blocks.
Url resolveMaster(const Url& url, std::chrono::milliseconds timeout);

/// True for an error reply that means the server is no longer the master (READONLY after a
/// failover, or a Sentinel-demoted master's errors): the connection must be dropped, so the
/// next one asks the sentinels again.
bool isNotMasterError(std::string_view reply);

}  // namespace mp::redis
