// SiteCache: the queries behind the generic lookup cache. Websites are few (one row each) and
// never change owner or domain, so a full reload is cheap and an entry never goes stale except
// by deletion, which is announced.
#include "sites/site_cache.hpp"

#include "util/uuid.hpp"

namespace mp::sites {
namespace {

using Map = std::unordered_map<std::string, CachedSite>;

Map rowsOf(const db::Result& rows) {
  Map out;
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    out.emplace(std::string(rows.get(r, 0)),
                CachedSite{std::string(rows.get(r, 1)), std::string(rows.get(r, 2)),
                           std::string(rows.get(r, 3))});
  }
  return out;
}

// A PostgreSQL array literal of ids, passed as one parameter. Only UUIDs get here (callers check
// them), and they hold no character the literal would need to quote.
std::string uuidArray(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) {
    if (!util::isUuid(id)) continue;
    if (out.size() > 1) out.push_back(',');
    out.append(id);
  }
  out.push_back('}');
  return out;
}

}  // namespace

SiteCache::SiteCache(db::Pool& pool, std::chrono::milliseconds reloadInterval,
                     std::chrono::milliseconds absentTtl)
    : db::LookupCache<CachedSite>(
          pool,
          [](db::Connection& conn, const std::vector<std::string>& ids) {
            return rowsOf(
                conn.execArgs("SELECT id::text, user_id::text, domain, time_zone FROM websites"
                              " WHERE id = ANY($1::uuid[])",
                              uuidArray(ids)));
          },
          [](db::Connection& conn) {
            return rowsOf(
                conn.exec("SELECT id::text, user_id::text, domain, time_zone FROM websites"));
          },
          Options{.name = "website cache",
                  .presentTtl = std::chrono::milliseconds(0),
                  .absentTtl = absentTtl,
                  .reloadInterval = reloadInterval}) {}

std::optional<CachedSite> SiteCache::find(const std::string& websiteId) {
  if (!util::isUuid(websiteId)) return std::nullopt;
  auto found = get(websiteId);
  if (found.state != db::Known::kPresent) return std::nullopt;
  return found.value;
}

}  // namespace mp::sites
