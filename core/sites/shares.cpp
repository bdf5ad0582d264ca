// Share links in PostgreSQL.
#include "sites/shares.hpp"

#include <openssl/rand.h>

#include <algorithm>

#include "util/error.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::sites {
namespace {

constexpr const char* kColumns =
    "id::text, website_id::text, token, label,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

Share shareAt(const db::Result& r, int i) {
  return Share{std::string(r.get(i, 0)), std::string(r.get(i, 1)), std::string(r.get(i, 2)),
               std::string(r.get(i, 3)), std::string(r.get(i, 4))};
}

// 24 random bytes in base64url: 32 characters, 192 bits no one guesses.
std::string newToken() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error("RAND_bytes failed");
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < sizeof bytes; i += 3) {
    const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

std::string checkLabel(std::string_view label) {
  std::string l(label);
  l.erase(0, l.find_first_not_of(" \t\r\n"));
  l.erase(l.find_last_not_of(" \t\r\n") + 1);
  if (!util::isValidUtf8WithoutNul(l)) {
    throw InvalidInput("label", "label must be UTF-8 text without NUL characters");
  }
  if (util::utf8Length(l) > 200)
    throw InvalidInput("label", "label must be at most 200 characters");
  return l;
}

}  // namespace

bool isShareToken(std::string_view token) noexcept {
  return token.size() >= 20 && token.size() <= 100 &&
         std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

Share createShare(db::Connection& conn, std::string_view websiteId, std::string_view label) {
  const std::string checked = checkLabel(label);
  db::Transaction tx(conn);
  // Creations for one website take turns, so the count below holds until the insert.
  conn.execArgs("SELECT 1 FROM websites WHERE id = $1::uuid FOR UPDATE", std::string(websiteId));
  if (conn.execArgs("SELECT count(*) FROM shares WHERE website_id = $1::uuid",
                    std::string(websiteId))
          .getInt(0, 0) >= kMaxShares) {
    throw Conflict("too_many_shares", "a website has at most " + std::to_string(kMaxShares) +
                                          " share links; revoke one first");
  }
  auto r = conn.execArgs(std::string("INSERT INTO shares (website_id, id, token, label)"
                                     " VALUES ($1::uuid, $2::uuid, $3, $4) RETURNING ") +
                             kColumns,
                         std::string(websiteId), util::uuidV7(), newToken(), checked);
  Share share = shareAt(r, 0);
  tx.commit();
  return share;
}

std::vector<Share> listShares(db::Connection& conn, std::string_view websiteId) {
  auto r = conn.execArgs(std::string("SELECT ") + kColumns +
                             " FROM shares WHERE website_id = $1::uuid ORDER BY created_at, id",
                         std::string(websiteId));
  std::vector<Share> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(shareAt(r, i));
  return out;
}

bool revokeShare(db::Connection& conn, std::string_view websiteId, std::string_view shareId) {
  if (!util::isUuid(shareId)) return false;
  auto r = conn.execArgs("DELETE FROM shares WHERE website_id = $1::uuid AND id = $2::uuid",
                         std::string(websiteId), std::string(shareId));
  return r.affected() > 0;
}

std::optional<Share> findShare(db::Connection& conn, std::string_view token) {
  if (!isShareToken(token)) return std::nullopt;
  auto r = conn.execArgs(std::string("SELECT ") + kColumns + " FROM shares WHERE token = $1",
                         std::string(token));
  if (r.rows() == 0) return std::nullopt;
  return shareAt(r, 0);
}

}  // namespace mp::sites
