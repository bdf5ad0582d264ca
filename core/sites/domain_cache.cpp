// DomainCache: one query for every domain waiting to be looked up.
#include "sites/domain_cache.hpp"

#include "db/array.hpp"

namespace mp::sites {

DomainCache::DomainCache(db::Pool& pool, std::chrono::milliseconds absentTtl)
    : db::LookupCache<std::string>(
          pool,
          [](db::Connection& conn, const std::vector<std::string>& domains) {
            std::unordered_map<std::string, std::string> out;
            auto rows = conn.execArgs(
                "SELECT domain, id::text FROM websites WHERE domain = ANY($1::text[])",
                db::arrayLiteral(domains));
            for (int r = 0; r < rows.rows(); ++r) {
              out.emplace(std::string(rows.get(r, 0)), std::string(rows.get(r, 1)));
            }
            return out;
          },
          nullptr,
          Options{.name = "domain cache",
                  .presentTtl = std::chrono::milliseconds(0),
                  .absentTtl = absentTtl}) {}

}  // namespace mp::sites
