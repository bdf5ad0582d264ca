// The stats answers cached in Redis: one JSON text per website, endpoint and normalised
// parameters, living cache.ttl_seconds (kRealtimeCacheMaxTtl at most for "realtime").
#pragma once

#include <functional>
#include <string>

namespace mp::redis {
class Pool;
}

namespace mp::stats {

/// What one lookup of the cache found.
enum class CacheResult {
  kHit,    ///< the answer came from Redis
  kMiss,   ///< computed, then stored
  kError,  ///< Redis could not be asked: computed, not stored
};

/// One answer to cache: its key parts ("top-pages", a lower-case website id, the parameters).
struct CacheQuery {
  std::string endpoint;
  std::string websiteId;
  std::string params;
};

/// The answer's JSON text and whether it came from the cache.
struct CachedAnswer {
  std::string body;
  bool hit = false;
};

class Cache {
 public:
  /// Counts each lookup of `endpoint` (called as it happens, before the answer is computed
  /// when Redis cannot be asked).
  using Observer = std::function<void(const std::string& endpoint, CacheResult result)>;

  /// `ttlSeconds` is cache.ttl_seconds; 0 turns the cache off (nothing read, stored or observed).
  Cache(redis::Pool& redis, long ttlSeconds, Observer observe = {});

  /// The seconds an answer of `endpoint` lives (0: not cached).
  long ttlFor(const std::string& endpoint) const;

  /// The cached answer of `query`, or `compute()`'s, then stored for ttlFor(). Redis being down
  /// costs the cache only (observed as kError, logged at debug level); what compute throws
  /// passes through.
  CachedAnswer answer(const CacheQuery& query, const std::function<std::string()>& compute);

 private:
  redis::Pool& redis_;
  long ttl_;
  Observer observe_;
};

}  // namespace mp::stats
