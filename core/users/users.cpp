// Account storage. Emails are unique by lower(email) (see 0001_initial.sql).
#include "users/users.hpp"

#include <locale.h>
#include <wctype.h>

#include <algorithm>

#include "auth/password.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::users {
namespace {

constexpr std::string_view kColumns =
    "id::text, email, to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), token_version, report_frequency";

User rowToUser(const db::Result& r, int row) {
  return User{std::string(r.get(row, 0)), std::string(r.get(row, 1)), std::string(r.get(row, 2)),
              r.getInt(row, 3), std::string(r.get(row, 4))};
}

using util::trim;

constexpr std::string_view kUniqueViolation = "23505";

}  // namespace

std::string normaliseEmail(std::string_view email) {
  std::string e = trim(email);
  // towlower_l is what PostgreSQL's lower() calls for a UTF-8 database under a libc locale.
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (utf8 == static_cast<locale_t>(nullptr) || !util::isValidUtf8(e)) {
    for (char& c : e) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return e;
  }
  std::string out;
  out.reserve(e.size());
  for (std::size_t i = 0; i < e.size();) {
    const auto c = static_cast<unsigned char>(e[i]);
    const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    std::uint32_t cp = len == 1 ? c : c & (0xFFu >> (len + 1));
    for (std::size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(e[i + k]) & 0x3F);
    i += len;
    auto lower = static_cast<std::uint32_t>(towlower_l(static_cast<wint_t>(cp), utf8));
    if (lower < 0x80) {
      out.push_back(static_cast<char>(lower));
    } else if (lower < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (lower >> 6)));
      out.push_back(static_cast<char>(0x80 | (lower & 0x3F)));
    } else if (lower < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (lower >> 12)));
      out.push_back(static_cast<char>(0x80 | ((lower >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (lower & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (lower >> 18)));
      out.push_back(static_cast<char>(0x80 | ((lower >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((lower >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (lower & 0x3F)));
    }
  }
  return out;
}

std::string checkEmail(std::string_view email) {
  std::string e = trim(email);
  const auto at = e.find('@');
  const bool shapeOk = !e.empty() && e.size() <= 254 && at != std::string::npos && at > 0 &&
                       at <= 64 && e.find('@', at + 1) == std::string::npos &&
                       e.find('.', at + 2) != std::string::npos && e.back() != '.';
  const bool charsOk = std::none_of(e.begin(), e.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F || c == ',' || c == ';' || c == '<' || c == '>' || c == '"';
  });
  if (!shapeOk || !charsOk) {
    throw InvalidInput("email", "email must be an address such as name@example.com");
  }
  return e;
}

void checkPassword(std::string_view password) {
  if (password.size() < auth::kMinPasswordBytes || password.size() > auth::kMaxPasswordBytes) {
    throw InvalidInput("password", "password must be 8 to 72 bytes long");
  }
  if (password.find('\0') != std::string_view::npos) {
    throw InvalidInput("password", "password must not contain NUL bytes");
  }
}

User create(db::Connection& conn, std::string_view email, std::string_view password,
            int bcryptCost) {
  const std::string e = checkEmail(email);
  checkPassword(password);
  const std::string hash = auth::hashPassword(password, bcryptCost);
  try {
    auto r = conn.execArgs(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) "
        "RETURNING " +
            std::string(kColumns),
        util::uuidV7(), e, hash);
    return rowToUser(r, 0);
  } catch (const DbError& err) {
    if (err.sqlstate() == kUniqueViolation) {
      throw Conflict("email_taken", "an account with this email already exists");
    }
    throw;
  }
}

std::optional<User> authenticate(db::Connection& conn, std::string_view email,
                                 std::string_view password, int bcryptCost) {
  auto r = conn.execArgs("SELECT " + std::string(kColumns) +
                             ", password_hash FROM users WHERE lower(email) = lower($1)",
                         trim(email));
  if (r.rows() == 0) {
    // Spend the time of a real check so response times do not reveal which emails exist.
    auth::verifyPassword(password, auth::dummyHash(bcryptCost));
    return std::nullopt;
  }
  if (!auth::verifyPassword(password, std::string(r.get(0, r.column("password_hash"))))) {
    return std::nullopt;
  }
  return rowToUser(r, 0);
}

std::optional<User> findById(db::Connection& conn, std::string_view id) {
  auto r = conn.execArgs("SELECT " + std::string(kColumns) + " FROM users WHERE id::text = $1",
                         std::string(id));
  if (r.rows() == 0) return std::nullopt;
  return rowToUser(r, 0);
}

std::optional<User> findByEmail(db::Connection& conn, std::string_view email) {
  auto r = conn.execArgs(
      "SELECT " + std::string(kColumns) + " FROM users WHERE lower(email) = lower($1)",
      trim(email));
  if (r.rows() == 0) return std::nullopt;
  return rowToUser(r, 0);
}

std::vector<User> list(db::Connection& conn) {
  auto r = conn.exec("SELECT " + std::string(kColumns) + " FROM users ORDER BY created_at, id");
  std::vector<User> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(rowToUser(r, i));
  return out;
}

std::string setPassword(db::Connection& conn, std::string_view email, std::string_view password,
                        int bcryptCost) {
  checkPassword(password);
  const std::string hash = auth::hashPassword(password, bcryptCost);
  // A new token version ends every token issued before (0006_token_version.sql).
  auto r = conn.execArgs(
      "UPDATE users SET password_hash = $2, token_version = token_version + 1, "
      "updated_at = now() WHERE lower(email) = lower($1) RETURNING id::text",
      trim(email), hash);
  if (r.rows() == 0) throw NotFound("no account with email " + trim(email));
  return std::string(r.get(0, 0));
}

std::string checkReportFrequency(std::string_view frequency) {
  for (const auto& allowed : kReportFrequencies) {
    if (frequency == allowed) return std::string(frequency);
  }
  throw InvalidInput("report", "must be one of off, daily, weekly, monthly");
}

User setReportFrequency(db::Connection& conn, std::string_view id, std::string_view frequency) {
  const std::string checked = checkReportFrequency(frequency);
  auto r = conn.execArgs(
      "UPDATE users SET report_frequency = $2, updated_at = now() "
      "WHERE id::text = $1 RETURNING " +
          std::string(kColumns),
      std::string(id), checked);
  if (r.rows() == 0) throw NotFound("no account with id " + std::string(id));
  return rowToUser(r, 0);
}

Removed remove(db::Connection& conn, std::string_view email) {
  db::Transaction tx(conn);
  auto user = findByEmail(conn, email);
  if (!user) throw NotFound("no account with email " + trim(email));
  Removed out{user->id, {}};
  // The websites first: locking their rows waits for writers that hold them (FOR KEY SHARE, see
  // EventStore), so no event of theirs can be committed after the events are deleted below.
  // Their funnels go before them, as in sites::remove(): the websites' foreign keys delete their
  // goals first, which the funnels' steps hold (ON DELETE RESTRICT).
  auto sites = conn.execArgs(
      "SELECT id::text FROM websites WHERE user_id = $1 ORDER BY id FOR UPDATE", user->id);
  conn.execArgs(
      "DELETE FROM funnels WHERE website_id IN (SELECT id FROM websites WHERE user_id = $1)",
      user->id);
  conn.execArgs("DELETE FROM websites WHERE user_id = $1", user->id);
  for (int i = 0; i < sites.rows(); ++i) out.websiteIds.emplace_back(sites.get(i, 0));
  // Events and summaries carry no foreign key (bulk COPY into partitions), so go site by site.
  for (const auto& id : out.websiteIds) {
    conn.execArgs("DELETE FROM events WHERE website_id = $1", id);
    conn.execArgs("DELETE FROM event_summary WHERE website_id = $1", id);
  }
  conn.execArgs("DELETE FROM users WHERE id = $1", user->id);
  tx.commit();
  return out;
}

}  // namespace mp::users
