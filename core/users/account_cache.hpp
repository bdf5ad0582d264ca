// In-process cache of each account's token version, so checking that a token's account still
// exists (and its password did not change) costs no query per request.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "db/lookup_cache.hpp"
#include "db/pool.hpp"

namespace mp::users {

/// Account id → token version (users.token_version); absent when the account is gone. Entries
/// live `ttl` (a fallback for missed announcements) and are dropped at once by forget() on the
/// announcements of password changes and deletions (redis::kInvalidateChannel).
class AccountCache : public db::LookupCache<std::int64_t> {
 public:
  explicit AccountCache(db::Pool& pool, std::chrono::milliseconds ttl = std::chrono::seconds(60));
};

/// What a lookup says of a token of version `tokenVersion`.
enum class TokenStanding { kValid, kRevoked, kUnsure };

/// kValid when the account exists with that version, kRevoked when it is gone or its version
/// moved on, kUnsure when the lookup did not answer.
TokenStanding standing(const db::Lookup<std::int64_t>& account, std::int64_t tokenVersion);

}  // namespace mp::users
