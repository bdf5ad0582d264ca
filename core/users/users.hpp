// User accounts: validation, creation, lookup, password checks. Shared by the HTTP API and mpctl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"

namespace mp::users {

struct User {
  std::string id;         ///< UUID
  std::string email;      ///< as entered (trimmed); compared case-insensitively
  std::string createdAt;  ///< RFC 3339, UTC
  /// Tokens carry it (the "ver" claim) and are refused once it changed (password change).
  std::int64_t tokenVersion = 1;
  /// Email reports of its websites: off, daily, weekly or monthly (0016_email_reports.sql).
  std::string reportFrequency = "off";
};

/// The values of User::reportFrequency.
inline constexpr std::string_view kReportFrequencies[] = {"off", "daily", "weekly", "monthly"};

/// What remove() deleted.
struct Removed {
  std::string userId;
  std::vector<std::string> websiteIds;
};

/// The one form of an email that login throttling and lookup share: trimmed and lower-cased as
/// PostgreSQL's lower() does under a UTF-8 locale, so every spelling that finds an account
/// ("  Ann@X.org", "ann@x.org") also meets the same login counter.
std::string normaliseEmail(std::string_view email);

/// Trims and checks an email address; throws InvalidInput("email").
std::string checkEmail(std::string_view email);
/// Checks the password length (8–72 bytes, no NUL); throws InvalidInput("password").
void checkPassword(std::string_view password);

/// Creates an account; throws InvalidInput, Conflict("email_taken") when the email exists
/// in any letter case.
User create(db::Connection& conn, std::string_view email, std::string_view password,
            int bcryptCost);

/// The account whose password matches, or nullopt (unknown email and wrong password alike, in
/// about the same time).
std::optional<User> authenticate(db::Connection& conn, std::string_view email,
                                 std::string_view password, int bcryptCost);

std::optional<User> findById(db::Connection& conn, std::string_view id);
std::optional<User> findByEmail(db::Connection& conn, std::string_view email);
/// Every account, oldest first.
std::vector<User> list(db::Connection& conn);

/// Replaces the password and ends the account's earlier tokens (a new token version); returns
/// the account's id. Throws InvalidInput, NotFound.
std::string setPassword(db::Connection& conn, std::string_view email, std::string_view password,
                        int bcryptCost);
/// Returns `frequency` when it is one of kReportFrequencies; throws InvalidInput("report").
std::string checkReportFrequency(std::string_view frequency);
/// Sets the account's report frequency and returns the account; throws InvalidInput, NotFound.
User setReportFrequency(db::Connection& conn, std::string_view id, std::string_view frequency);

/// Deletes the account with its websites and their data; throws NotFound.
Removed remove(db::Connection& conn, std::string_view email);

}  // namespace mp::users
