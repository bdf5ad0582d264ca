// AccountCache: one query per batch of account ids, by primary key.
#include "users/account_cache.hpp"

#include "util/uuid.hpp"

namespace mp::users {

AccountCache::AccountCache(db::Pool& pool, std::chrono::milliseconds ttl)
    : db::LookupCache<std::int64_t>(
          pool,
          [](db::Connection& conn, const std::vector<std::string>& ids) {
            // One parameter holding an array literal; only UUIDs are put in it.
            std::string array = "{";
            for (const auto& id : ids) {
              if (!util::isUuid(id)) continue;
              if (array.size() > 1) array.push_back(',');
              array.append(id);
            }
            array.push_back('}');
            auto rows = conn.execArgs(
                "SELECT id::text, token_version FROM users WHERE id = ANY($1::uuid[])", array);
            std::unordered_map<std::string, std::int64_t> out;
            for (int r = 0; r < rows.rows(); ++r) {
              out.emplace(std::string(rows.get(r, 0)), rows.getInt(r, 1));
            }
            return out;
          },
          nullptr, Options{.name = "account cache", .presentTtl = ttl, .absentTtl = ttl}) {}

TokenStanding standing(const db::Lookup<std::int64_t>& account, std::int64_t tokenVersion) {
  switch (account.state) {
    case db::Known::kPresent:
      return account.value == tokenVersion ? TokenStanding::kValid : TokenStanding::kRevoked;
    case db::Known::kAbsent:
      return TokenStanding::kRevoked;
    case db::Known::kUnsure:
      break;
  }
  return TokenStanding::kUnsure;
}

}  // namespace mp::users
