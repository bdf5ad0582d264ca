// Websites: domain normalisation, time zones, creation, owner-scoped lookup, change and deletion.
// Shared by HTTP and mpctl.
#pragma once

#include <cstddef>
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
  std::string timeZone;   ///< IANA name in which its stats days are counted (docs/metrics.md)
  std::string createdAt;  ///< RFC 3339, UTC
};

/// The time zone of a website whose owner chose none.
inline constexpr std::string_view kDefaultTimeZone = "UTC";
/// The longest time zone name accepted (the longest PostgreSQL knows has 38 characters).
inline constexpr std::size_t kMaxTimeZoneLength = 64;

/// What to change of a website; an empty optional leaves that attribute as it is.
struct WebsiteChanges {
  std::optional<std::string> name;
  std::optional<std::string> timeZone;
};

/// A website after a change, and whether its time zone was actually changed (its rollups were
/// then deleted, and its cached stats answers are to be dropped).
struct UpdatedWebsite {
  Website website;
  bool timeZoneChanged = false;
};

/// "https://WWW.Example.com:443/x" → "example.com"; throws InvalidInput("domain") when what is
/// left is not a host name.
std::string normalizeDomain(std::string_view input);
/// Trims and checks a display name (1–200 characters of valid UTF-8); throws InvalidInput("name").
std::string checkName(std::string_view name);

/// The time zone name as given when PostgreSQL lists it in pg_timezone_names (IANA names, and the
/// legacy ones tzdata keeps, such as "EST5EDT" or "Etc/GMT+3"), compared exactly; throws
/// InvalidInput("timeZone") for any other text (empty, over kMaxTimeZoneLength, not ASCII, an
/// offset such as "+02:00", another letter case). Throws DbError.
std::string checkTimeZone(db::Connection& conn, std::string_view timeZone);

/// Creates a website for `userId` in `timeZone`; throws InvalidInput, Conflict("domain_taken").
Website create(db::Connection& conn, std::string_view userId, std::string_view name,
               std::string_view domain, std::string_view timeZone = kDefaultTimeZone);
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
/// The website of a domain (normalised by normalizeDomain() first), whoever owns it; nullopt when
/// there is none or the text is not a host name.
std::optional<Website> findByDomain(db::Connection& conn, std::string_view domain);
/// Changes the name and/or time zone of the website when it belongs to `userId` (checked as by
/// create(), before the website is looked up); nullopt otherwise (the two are not told apart).
/// When the time zone actually changes, the website's rollups and aggregation runs are deleted in
/// the same transaction: they count days of the old zone. Throws InvalidInput, DbError.
std::optional<UpdatedWebsite> updateOwned(db::Connection& conn, std::string_view userId,
                                          std::string_view id, const WebsiteChanges& changes);
/// The same for a website by id, whoever owns it (admin); nullopt when there is none.
std::optional<UpdatedWebsite> update(db::Connection& conn, std::string_view id,
                                     const WebsiteChanges& changes);
/// Deletes the website with its events and summaries when it belongs to `userId`; false otherwise.
bool removeOwned(db::Connection& conn, std::string_view userId, std::string_view id);
/// Deletes a website by id (admin); false when there is none.
bool remove(db::Connection& conn, std::string_view id);

}  // namespace mp::sites
