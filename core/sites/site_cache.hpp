// In-process copy of the websites' owner and domain, so tracking needs no query per event.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "db/lookup_cache.hpp"
#include "db/pool.hpp"

namespace mp::sites {

struct CachedSite {
  std::string userId;
  std::string domain;
  std::string timeZone = "UTC";  ///< the days of its stats (a change is announced like a deletion)
};

/// Every website, loaded at start and reloaded every `reloadInterval` as a safety net; kept
/// coherent in between by forget()/put() on the announcements of creations and deletions
/// (redis::kInvalidateChannel). An id it does not hold is looked up by id (resolveAsync() off the
/// caller's thread, or find() on a thread that may block); unknown ids are remembered as absent
/// for `absentTtl`, so a stream of them costs one query per id and period, not one per request.
class SiteCache : public db::LookupCache<CachedSite> {
 public:
  SiteCache(db::Pool& pool, std::chrono::milliseconds reloadInterval,
            std::chrono::milliseconds absentTtl = std::chrono::seconds(30));

  /// The website, looked up in PostgreSQL when it is not cached (blocks; throws DbError).
  std::optional<CachedSite> find(const std::string& websiteId);
};

}  // namespace mp::sites
