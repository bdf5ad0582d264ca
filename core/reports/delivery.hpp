// mpctl report send: for each opted-in account and each of its websites, the report of the last
// complete period, sent once. The decision to send is a row in report_deliveries, inserted in a
// transaction that commits only after the SMTP server accepted the message: a repeated run finds
// the row and skips it, a concurrent one waits for it, and a failed send leaves nothing behind.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "reports/period.hpp"

namespace mp::reports {

struct SendOptions {
  /// Only this period (without `user`: only the accounts that chose it); none: each account's
  /// own frequency.
  std::optional<Period> period;
  /// Only this account (its email); with `period`, that period whatever the account chose.
  std::optional<std::string> user;
  /// Render and print, send and record nothing (the accounts with reports off included when
  /// `user` names one).
  bool dryRun = false;
  bool dryRunHtml = false;  ///< print the HTML part instead of the text part
  std::chrono::sys_days today;
  std::string from;          ///< email.from
  std::string dashboardUrl;  ///< email.dashboard_url
  std::int64_t nowMillis = 0;
};

struct Outcome {
  enum class Status { kSent, kAlreadySent, kFailed, kPrinted };
  Status status = Status::kSent;
  std::string recipient;
  std::string domain;
  PeriodRange period;
  std::string error;  ///< kFailed: what went wrong
};

/// Sends one composed message to one address; throws on failure (EmailError, …).
using Deliver = std::function<void(const std::string& recipient, const std::string& message)>;

/// Sends (or, dry, prints to `out`) the reports `options` select; `claims` holds the delivery
/// transactions, `stats` answers the numbers (two connections: the stats engine runs its own
/// transactions). Per report, `progress` is told the outcome as it happens. Throws NotFound
/// (an unknown `user`), InvalidInput (`user` has reports off and this is no dry run) or DbError.
std::vector<Outcome> sendReports(db::Connection& claims, db::Connection& stats,
                                 const SendOptions& options, const Deliver& deliver,
                                 std::ostream& out,
                                 const std::function<void(const Outcome&)>& progress);

}  // namespace mp::reports
