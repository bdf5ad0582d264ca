// Website storage. Owner scoping lives in each query's WHERE clause, never in a later check.
#include "sites/sites.hpp"

#include <algorithm>
#include <cctype>

#include "util/error.hpp"
#include "util/strings.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::sites {
namespace {

constexpr std::string_view kColumns =
    "id::text, user_id::text, name, domain, time_zone, to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

Website rowToWebsite(const db::Result& r, int row) {
  return Website{std::string(r.get(row, 0)), std::string(r.get(row, 1)),
                 std::string(r.get(row, 2)), std::string(r.get(row, 3)),
                 std::string(r.get(row, 4)), std::string(r.get(row, 5))};
}

using util::trim;

bool validLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

constexpr std::string_view kUniqueViolation = "23505";

// Events and summaries have no foreign key to websites (bulk COPY into partitions), so a
// website's data is deleted explicitly, in the same transaction as the website.
void deleteData(db::Connection& conn, const std::string& id) {
  conn.execArgs("DELETE FROM events WHERE website_id = $1", id);
  conn.execArgs("DELETE FROM event_summary WHERE website_id = $1", id);
}

// Deletes the website `id`, whose row the caller has locked FOR UPDATE (which waits for writers
// holding it FOR KEY SHARE, see EventStore, and for a fold holding it FOR SHARE), with all its
// data. Its funnels go first: the website's foreign keys delete its goals before its funnels,
// and a goal that a funnel step holds may not go (ON DELETE RESTRICT), so deleting the website
// row alone fails once it has a funnel.
void deleteLocked(db::Connection& conn, const std::string& id) {
  conn.execArgs("DELETE FROM funnels WHERE website_id = $1", id);
  conn.execArgs("DELETE FROM websites WHERE id = $1", id);
  deleteData(conn, id);
}

// Every table the aggregation job fills for a website from its days (0008).
constexpr const char* kRollupDeletes[] = {
    "DELETE FROM visits WHERE website_id = $1",
    "DELETE FROM event_summary WHERE website_id = $1",
    "DELETE FROM hourly_summary WHERE website_id = $1",
    "DELETE FROM breakdown_daily WHERE website_id = $1",
    "DELETE FROM page_breakdown_daily WHERE website_id = $1",
    "DELETE FROM goal_daily WHERE website_id = $1",
    "DELETE FROM funnel_daily WHERE website_id = $1",
    // Not deleted: marked dirty, so the scheduled fold finds every day again, older ones too;
    // without stored visits (seen), read from raw events until then.
    "UPDATE aggregation_runs SET dirty = true, seen = NULL, page_breakdowns = false"
    " WHERE website_id = $1",
};

// Days, hours and weeks are counted in the website's time zone (docs/metrics.md), so every
// rollup made in the old zone counts the wrong span of time. They go in the transaction that
// changes the zone, and every aggregation_runs row is marked dirty: a stats read (one REPEATABLE
// READ snapshot) sees either the old zone with its rollups or the new zone with none final, and
// reads the raw events of each day until a fold makes it final again (the scheduled fold refolds
// the last aggregation::kRecentDays days at once, older ones a batch per run). A fold holds the
// website row FOR SHARE, so it never writes rows of a zone that is no longer the website's.
void deleteRollups(db::Connection& conn, const std::string& id) {
  for (const char* sql : kRollupDeletes) conn.execArgs(sql, id);
}

constexpr std::string_view kTimeZoneRule =
    "timeZone must be an IANA time zone name such as Europe/Berlin";

// The shared body of updateOwned() and update() (owner: any when nullopt).
std::optional<UpdatedWebsite> updateWhere(db::Connection& conn,
                                          const std::optional<std::string>& owner,
                                          std::string_view id, const WebsiteChanges& changes) {
  // The values first, the website after: a bad value is 400 whether or not the id is the
  // caller's, which tells nothing about other people's websites.
  std::optional<std::string> name, zone;
  if (changes.name) name = checkName(*changes.name);
  if (changes.timeZone) zone = checkTimeZone(conn, *changes.timeZone);
  if (!util::isUuid(id)) return std::nullopt;
  db::Transaction tx(conn);
  // FOR UPDATE: concurrent changes of one website take turns, so the zone compared below is the
  // one this statement replaces.
  auto current = conn.execArgs(
      "SELECT time_zone FROM websites WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2::uuid) "
      "FOR UPDATE",
      std::string(id), owner);
  if (current.rows() == 0) return std::nullopt;
  const bool zoneChanged = zone && *zone != current.get(0, 0);
  auto r = conn.execArgs(
      "UPDATE websites SET name = coalesce($2, name), time_zone = coalesce($3, time_zone),"
      " updated_at = CASE WHEN (coalesce($2, name), coalesce($3, time_zone))"
      " IS DISTINCT FROM (name, time_zone) THEN now() ELSE updated_at END"
      " WHERE id = $1 RETURNING " +
          std::string(kColumns),
      std::string(id), name, zone);
  UpdatedWebsite out{rowToWebsite(r, 0), zoneChanged};
  if (zoneChanged) deleteRollups(conn, out.website.id);
  tx.commit();
  return out;
}

}  // namespace

std::string normalizeDomain(std::string_view input) {
  std::string d = trim(input);
  if (auto scheme = d.find("://"); scheme != std::string::npos) d = d.substr(scheme + 3);
  if (auto end = d.find_first_of("/?#"); end != std::string::npos) d = d.substr(0, end);
  if (auto at = d.rfind('@'); at != std::string::npos) d = d.substr(at + 1);
  if (auto colon = d.rfind(':'); colon != std::string::npos) {
    const std::string port = d.substr(colon + 1);
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw InvalidInput("domain", "domain must be a host name such as example.com");
    }
    d = d.substr(0, colon);
  }
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) {
    return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c);
  });
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.rfind("www.", 0) == 0) d = d.substr(4);
  if (std::any_of(d.begin(), d.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    throw InvalidInput("domain",
                       "domain must be written in ASCII; use the xn-- (punycode) form of an "
                       "international name");
  }
  bool ok = !d.empty() && d.size() <= 253;
  std::size_t pos = 0;
  while (ok && pos <= d.size()) {
    auto dot = d.find('.', pos);
    if (dot == std::string::npos) dot = d.size();
    ok = validLabel(std::string_view(d).substr(pos, dot - pos));
    pos = dot + 1;
  }
  if (!ok) throw InvalidInput("domain", "domain must be a host name such as example.com");
  return d;
}

std::string checkName(std::string_view name) {
  std::string n = trim(name);
  if (n.empty()) throw InvalidInput("name", "name must not be empty");
  if (!util::isValidUtf8(n)) throw InvalidInput("name", "name must be valid UTF-8");
  if (util::utf8Length(n) > 200) throw InvalidInput("name", "name must be at most 200 characters");
  return n;
}

std::string checkTimeZone(db::Connection& conn, std::string_view timeZone) {
  if (timeZone.empty()) throw InvalidInput("timeZone", "timeZone must not be empty");
  if (timeZone.size() > kMaxTimeZoneLength) {
    throw InvalidInput("timeZone", std::string(kTimeZoneRule) + " (at most " +
                                       std::to_string(kMaxTimeZoneLength) + " characters)");
  }
  // Every name PostgreSQL knows is printable ASCII; anything else (a NUL, which a text parameter
  // cannot carry, or bytes that are not UTF-8, which it would refuse) is not sent at all.
  if (!std::all_of(timeZone.begin(), timeZone.end(), [](char c) { return c > 0x20 && c < 0x7F; })) {
    throw InvalidInput("timeZone", std::string(kTimeZoneRule));
  }
  // By name only: pg_timezone_abbrevs (EST, CEST…) and POSIX or offset specifications, which
  // AT TIME ZONE would also take, are refused. The view reads the zone directory (~30 ms): fine
  // for a website's creation or change.
  const std::string zone(timeZone);
  if (conn.execArgs("SELECT 1 FROM pg_timezone_names WHERE name = $1", zone).rows() == 0) {
    throw InvalidInput("timeZone", std::string(kTimeZoneRule));
  }
  return zone;
}

Website create(db::Connection& conn, std::string_view userId, std::string_view name,
               std::string_view domain, std::string_view timeZone) {
  const std::string n = checkName(name);
  const std::string d = normalizeDomain(domain);
  const std::string z = checkTimeZone(conn, timeZone);
  try {
    auto r = conn.execArgs(
        "INSERT INTO websites (id, user_id, name, domain, time_zone) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING " +
            std::string(kColumns),
        util::uuidV7(), std::string(userId), n, d, z);
    return rowToWebsite(r, 0);
  } catch (const DbError& err) {
    if (err.sqlstate() == kUniqueViolation) {
      throw Conflict("domain_taken", "the domain " + d + " is already registered");
    }
    throw;
  }
}

std::vector<Website> listForUser(db::Connection& conn, std::string_view userId) {
  auto r = conn.execArgs("SELECT " + std::string(kColumns) +
                             " FROM websites WHERE user_id = $1 ORDER BY created_at, id",
                         std::string(userId));
  std::vector<Website> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(rowToWebsite(r, i));
  return out;
}

std::vector<Website> listAll(db::Connection& conn) {
  auto r = conn.exec("SELECT " + std::string(kColumns) + " FROM websites ORDER BY created_at, id");
  std::vector<Website> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(rowToWebsite(r, i));
  return out;
}

std::optional<Website> findOwned(db::Connection& conn, std::string_view userId,
                                 std::string_view id) {
  if (!util::isUuid(id)) return std::nullopt;
  auto r = conn.execArgs(
      "SELECT " + std::string(kColumns) + " FROM websites WHERE id = $1 AND user_id = $2",
      std::string(id), std::string(userId));
  if (r.rows() == 0) return std::nullopt;
  return rowToWebsite(r, 0);
}

std::optional<Website> findById(db::Connection& conn, std::string_view id) {
  if (!util::isUuid(id)) return std::nullopt;
  auto r = conn.execArgs("SELECT " + std::string(kColumns) + " FROM websites WHERE id = $1",
                         std::string(id));
  if (r.rows() == 0) return std::nullopt;
  return rowToWebsite(r, 0);
}

std::optional<Website> findByDomain(db::Connection& conn, std::string_view domain) {
  std::string normalized;
  try {
    normalized = normalizeDomain(domain);
  } catch (const InvalidInput&) {
    return std::nullopt;
  }
  auto r = conn.execArgs("SELECT " + std::string(kColumns) + " FROM websites WHERE domain = $1",
                         normalized);
  if (r.rows() == 0) return std::nullopt;
  return rowToWebsite(r, 0);
}

std::optional<UpdatedWebsite> updateOwned(db::Connection& conn, std::string_view userId,
                                          std::string_view id, const WebsiteChanges& changes) {
  return updateWhere(conn, std::string(userId), id, changes);
}

std::optional<UpdatedWebsite> update(db::Connection& conn, std::string_view id,
                                     const WebsiteChanges& changes) {
  return updateWhere(conn, std::nullopt, id, changes);
}

bool removeOwned(db::Connection& conn, std::string_view userId, std::string_view id) {
  if (!util::isUuid(id)) return false;
  db::Transaction tx(conn);
  auto r = conn.execArgs("SELECT id::text FROM websites WHERE id = $1 AND user_id = $2 FOR UPDATE",
                         std::string(id), std::string(userId));
  if (r.rows() == 0) return false;
  deleteLocked(conn, std::string(r.get(0, 0)));
  tx.commit();
  return true;
}

bool remove(db::Connection& conn, std::string_view id) {
  if (!util::isUuid(id)) return false;
  db::Transaction tx(conn);
  auto r = conn.execArgs("SELECT id::text FROM websites WHERE id = $1 FOR UPDATE", std::string(id));
  if (r.rows() == 0) return false;
  deleteLocked(conn, std::string(r.get(0, 0)));
  tx.commit();
  return true;
}

}  // namespace mp::sites
