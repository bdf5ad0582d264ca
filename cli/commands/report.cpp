// mpctl report send: the email reports (core/reports), run by metricpulse-report.timer.
#include <ctime>
#include <iostream>

#include "context.hpp"
#include "reports/delivery.hpp"
#include "reports/mail.hpp"
#include "reports/smtp.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::cli {
namespace {

// Today on this machine's clock and zone (TZ, /etc/localtime), as the systemd timer counts.
std::chrono::sys_days localToday() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  return std::chrono::sys_days{std::chrono::year{tm.tm_year + 1900} /
                               std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)} /
                               std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
}

const char* statusWord(reports::Outcome::Status status) {
  switch (status) {
    case reports::Outcome::Status::kSent:
      return "sent";
    case reports::Outcome::Status::kAlreadySent:
      return "already sent";
    case reports::Outcome::Status::kFailed:
      return "FAILED";
    case reports::Outcome::Status::kPrinted:
      return "printed";
  }
  return "";
}

}  // namespace

void registerReportCommands(CLI::App& app, Context& ctx) {
  auto* report = app.add_subcommand("report", "Email reports of the websites' stats");
  report->require_subcommand(1);

  struct SendOptions {
    std::string period;
    std::string user;
    std::string asOf;
    bool dryRun = false;
    bool html = false;
  };
  auto opts = std::make_shared<SendOptions>();
  auto* send = report->add_subcommand(
      "send",
      "Send each opted-in account the report of each of its websites for the last complete "
      "period (yesterday, last Monday-to-Sunday week, last month), once");
  send->add_option("--period", opts->period,
                   "Only this period: day, week or month (default: each account's choice)")
      ->check(CLI::IsMember({"day", "week", "month"}));
  send->add_option("--user", opts->user,
                   "Only this account (its email); with --period, that period whatever it chose");
  send->add_option("--as-of", opts->asOf,
                   "Count periods as if today were this date (YYYY-MM-DD; default: today here)");
  send->add_flag("--dry-run", opts->dryRun,
                 "Print the reports instead of sending them; records nothing");
  send->add_flag("--html", opts->html, "With --dry-run: print the HTML part, not the text part");
  send->callback([&ctx, opts] {
    ctx.action = [&ctx, opts] {
      const auto& config = ctx.config();
      reports::SendOptions o;
      if (!opts->period.empty()) o.period = reports::parsePeriod(opts->period);
      if (!opts->user.empty()) o.user = opts->user;
      o.dryRun = opts->dryRun;
      o.dryRunHtml = opts->html;
      if (opts->html && !opts->dryRun) throw InvalidInput("--html", "goes with --dry-run");
      o.today = localToday();
      if (!opts->asOf.empty()) {
        const auto day = util::parseDate(opts->asOf);
        if (!day) throw InvalidInput("--as-of", "\"" + opts->asOf + "\" is not YYYY-MM-DD");
        o.today = *day;
      }
      o.from = config.email.from.empty() ? "metricpulse@localhost" : config.email.from;
      o.dashboardUrl = config.email.dashboardUrl;
      o.nowMillis = util::nowMillis();

      std::optional<reports::SmtpSender> smtp;
      std::string envelopeFrom;
      if (!o.dryRun) {
        if (config.email.url.empty()) {
          throw ConfigError(
              "email.url is empty: set [email] url and from in the configuration to send "
              "reports (or use --dry-run)");
        }
        smtp.emplace(config.email);
        envelopeFrom = *reports::addressOf(config.email.from);
      }
      auto claims = ctx.connect();
      auto stats = ctx.connect();
      int sent = 0, skipped = 0, failed = 0;
      const auto outcomes = reports::sendReports(
          claims, stats, o,
          [&](const std::string& recipient, const std::string& message) {
            smtp->send(envelopeFrom, recipient, message);
          },
          std::cout,
          [&](const reports::Outcome& r) {
            if (r.status == reports::Outcome::Status::kPrinted) return;
            auto& stream = r.status == reports::Outcome::Status::kFailed ? std::cerr : std::cout;
            stream << (r.status == reports::Outcome::Status::kFailed ? "mpctl: " : "")
                   << reports::periodName(r.period.period) << " report of " << r.domain << " ("
                   << reports::describe(r.period) << ") to " << r.recipient << ": "
                   << statusWord(r.status);
            if (!r.error.empty()) stream << ": " << r.error;
            stream << "\n";
          });
      for (const auto& r : outcomes) {
        sent += r.status == reports::Outcome::Status::kSent;
        skipped += r.status == reports::Outcome::Status::kAlreadySent;
        failed += r.status == reports::Outcome::Status::kFailed;
      }
      if (!o.dryRun) {
        std::cout << sent << " sent, " << skipped << " already sent before, " << failed
                  << " failed\n";
      } else if (outcomes.empty()) {
        std::cerr << "mpctl: no report to print (no account has reports on"
                  << (o.period ? " for this period" : "") << ")\n";
      }
      return failed > 0 ? exit_code::kFailure : exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
