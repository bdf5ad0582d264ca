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
    "id::text, user_id::text, name, domain, to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

Website rowToWebsite(const db::Result& r, int row) {
  return Website{std::string(r.get(row, 0)), std::string(r.get(row, 1)), std::string(r.get(row, 2)),
                 std::string(r.get(row, 3)), std::string(r.get(row, 4))};
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

Website create(db::Connection& conn, std::string_view userId, std::string_view name,
               std::string_view domain) {
  const std::string n = checkName(name);
  const std::string d = normalizeDomain(domain);
  try {
    auto r = conn.execArgs(
        "INSERT INTO websites (id, user_id, name, domain) VALUES ($1, $2, $3, $4) "
        "RETURNING " +
            std::string(kColumns),
        util::uuidV7(), std::string(userId), n, d);
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

bool removeOwned(db::Connection& conn, std::string_view userId, std::string_view id) {
  if (!util::isUuid(id)) return false;
  db::Transaction tx(conn);
  auto r = conn.execArgs("DELETE FROM websites WHERE id = $1 AND user_id = $2 RETURNING id::text",
                         std::string(id), std::string(userId));
  if (r.rows() == 0) return false;
  deleteData(conn, std::string(r.get(0, 0)));
  tx.commit();
  return true;
}

bool remove(db::Connection& conn, std::string_view id) {
  if (!util::isUuid(id)) return false;
  db::Transaction tx(conn);
  auto r = conn.execArgs("DELETE FROM websites WHERE id = $1 RETURNING id::text", std::string(id));
  if (r.rows() == 0) return false;
  deleteData(conn, std::string(r.get(0, 0)));
  tx.commit();
  return true;
}

}  // namespace mp::sites
