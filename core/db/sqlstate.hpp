// SQLSTATE codes the code base names, and what whole classes of them mean to a caller.
#pragma once

#include <string_view>

#include "util/error.hpp"

namespace mp::db {

/// SQLSTATE given to failures to open a connection (libpq reports none itself).
inline constexpr std::string_view kSqlstateUnableToConnect = "08001";
/// SQLSTATE given to a connection lost during a statement (libpq reports none itself).
inline constexpr std::string_view kSqlstateConnectionFailure = "08006";
/// SQLSTATE of a pool with no free connection within the wait (as PostgreSQL's own limit).
inline constexpr std::string_view kSqlstateTooManyConnections = "53300";
/// feature_not_supported, e.g. a COPY where only plain statements are taken.
inline constexpr std::string_view kSqlstateFeatureNotSupported = "0A000";
/// in_failed_sql_transaction: an earlier failure aborted the transaction, so nothing was kept.
inline constexpr std::string_view kSqlstateInFailedTransaction = "25P02";
/// active_sql_transaction: a transaction is open where none may be.
inline constexpr std::string_view kSqlstateActiveTransaction = "25001";
/// unique_violation: a row with the key of one already stored.
inline constexpr std::string_view kSqlstateUniqueViolation = "23505";

/// The class of a SQLSTATE, its first two characters ("23" for 23505); "" when there is none.
constexpr std::string_view sqlstateClass(std::string_view sqlstate) noexcept {
  return sqlstate.size() >= 2 ? sqlstate.substr(0, 2) : std::string_view();
}

/// True when `e` means PostgreSQL is out of reach or dropped the connection (retrying later may
/// succeed), false when the statement itself was refused.
bool isUnavailable(const DbError& e) noexcept;

/// True when `e` is PostgreSQL refusing a value (SQLSTATE classes 22, data exception, and 23,
/// integrity constraint violation, and 54000, e.g. a row too big): the data is at fault, and
/// writing it again can never succeed.
bool isDataError(const DbError& e) noexcept;

}  // namespace mp::db
