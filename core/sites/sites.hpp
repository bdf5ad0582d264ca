// Websites: domain normalisation, creation, owner-scoped lookup and deletion. Shared by HTTP and
// mpctl.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace mp::sites {

struct Website {
  std::string id;
  std::string userId;
  std::string name;
  std::string domain;     ///< normalised: lower-case host, no scheme, port, path or leading www.
  std::string createdAt;  ///< RFC 3339, UTC
};

/// "https://WWW.Example.com:443/x" → "example.com"; throws InvalidInput("domain") when what is
/// left is not a host name.
std::string normalizeDomain(std::string_view input);
/// Trims and checks a display name (1–200 characters of valid UTF-8); throws InvalidInput("name").
std::string checkName(std::string_view name);

/// Creates a website for `userId`; throws InvalidInput, Conflict("domain_taken").
Website create(db::Connection& conn, std::string_view userId, std::string_view name,
               std::string_view domain);
/// The user's websites, oldest first.
std::vector<Website> listForUser(db::Connection& conn, std::string_view userId);
/// Every website, oldest first.
std::vector<Website> listAll(db::Connection& conn);
/// The website if it exists and belongs to `userId`; nullopt otherwise (the two are not told
/// apart).
std::optional<Website> findOwned(db::Connection& conn, std::string_view userId,
                                 std::string_view id);
/// The website by id, whoever owns it.
std::optional<Website> findById(db::Connection& conn, std::string_view id);
/// Deletes the website with its events and summaries when it belongs to `userId`; false otherwise.
bool removeOwned(db::Connection& conn, std::string_view userId, std::string_view id);
/// Deletes a website by id (admin); false when there is none.
bool remove(db::Connection& conn, std::string_view id);

}  // namespace mp::sites
