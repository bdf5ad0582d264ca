// Website ids by domain, for tracking payloads that name their website by domain (Plausible's).
#pragma once

#include <chrono>
#include <string>

#include "db/lookup_cache.hpp"
#include "db/pool.hpp"

namespace mp::sites {

/// Normalised domain → website id. A domain is looked up on first use (resolveAsync() off the
/// caller's thread); answers are kept until forgetAll(), which every announcement of a created or
/// deleted website calls, and unknown domains for `absentTtl`.
class DomainCache : public db::LookupCache<std::string> {
 public:
  explicit DomainCache(db::Pool& pool,
                       std::chrono::milliseconds absentTtl = std::chrono::seconds(30));
};

}  // namespace mp::sites
