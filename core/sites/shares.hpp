// Read-only share links: a secret token that lets anyone holding it read one website's stats.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace mp::sites {

/// A website has at most this many share links.
inline constexpr int kMaxShares = 50;

struct Share {
  std::string id;
  std::string websiteId;
  std::string token;  ///< the secret of the link /share/{token}
  std::string label;  ///< the owner's note of whom it was given to; may be empty
  std::string createdAt;
};

/// Whether `token` has the form of a share token (base64url, 20–100 characters); anything else
/// names no share and is never looked up.
bool isShareToken(std::string_view token) noexcept;

/// Makes a share link of the website (which the caller checked is the user's): a new random
/// token. Throws InvalidInput("label") for a label over 200 characters or not UTF-8,
/// Conflict("too_many_shares") past kMaxShares, DbError.
Share createShare(db::Connection& conn, std::string_view websiteId, std::string_view label);

/// The website's share links, oldest first.
std::vector<Share> listShares(db::Connection& conn, std::string_view websiteId);

/// Revokes a link: false when the website has no such share. Throws DbError.
bool revokeShare(db::Connection& conn, std::string_view websiteId, std::string_view shareId);

/// The share of a token, or nullopt (unknown, revoked or malformed). Throws DbError.
std::optional<Share> findShare(db::Connection& conn, std::string_view token);

}  // namespace mp::sites
