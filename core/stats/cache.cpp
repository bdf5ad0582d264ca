// The stats cache: GET before computing, SET EX after, Redis failures costing the cache only.
#include "stats/cache.hpp"

#include <algorithm>

#include "log/log.hpp"
#include "redis/keys.hpp"
#include "redis/pool.hpp"
#include "util/error.hpp"

namespace mp::stats {

Cache::Cache(redis::Pool& redis, long ttlSeconds, Observer observe)
    : redis_(redis), ttl_(ttlSeconds), observe_(std::move(observe)) {}

long Cache::ttlFor(const std::string& endpoint) const {
  if (endpoint == "realtime") return std::min<long>(ttl_, redis::kRealtimeCacheMaxTtl.count());
  return ttl_;
}

CachedAnswer Cache::answer(const CacheQuery& query, const std::function<std::string()>& compute) {
  const long ttl = ttlFor(query.endpoint);
  const std::string key = redis::statsCacheKey(query.websiteId, query.endpoint, query.params);
  const auto observe = [&](CacheResult result) {
    if (observe_) observe_(query.endpoint, result);
  };

  bool redisUp = ttl > 0;
  if (redisUp) {
    try {
      auto cached = redis_.acquire()->command({"GET", key});
      if (cached.isString()) {
        observe(CacheResult::kHit);
        return {cached.str(), true};
      }
    } catch (const RedisError& e) {
      redisUp = false;
      observe(CacheResult::kError);
      log::get("redis")->debug("stats cache unavailable: {}", e.what());
    }
  }

  std::string body = compute();

  if (redisUp) {
    observe(CacheResult::kMiss);
    try {
      redis_.acquire()->command({"SET", key, body, "EX", std::to_string(ttl)});
    } catch (const RedisError& e) {
      log::get("redis")->debug("stats cache not written: {}", e.what());
    }
  }
  return {std::move(body), false};
}

}  // namespace mp::stats
