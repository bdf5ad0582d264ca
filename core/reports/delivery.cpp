// The accounts and websites are read once, then each report is claimed, built, sent and
// committed on its own, so one failing recipient does not hold back the others.
#include "reports/delivery.hpp"

#include "reports/mail.hpp"
#include "reports/report.hpp"
#include "sites/sites.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::reports {
namespace {

struct Account {
  std::string id;
  std::string email;
  std::string frequency;
};

std::vector<Account> accounts(db::Connection& conn, const SendOptions& options) {
  std::vector<Account> out;
  if (options.user) {
    auto r = conn.execArgs(
        "SELECT id::text, email, report_frequency FROM users WHERE lower(email) = lower($1)",
        *options.user);
    if (r.rows() == 0) throw NotFound("no account with email " + *options.user);
    out.push_back({std::string(r.get(0, 0)), std::string(r.get(0, 1)), std::string(r.get(0, 2))});
    if (out.front().frequency == "off" && !options.dryRun) {
      throw InvalidInput("user", out.front().email + " has email reports off (mpctl user set " +
                                     out.front().email + " --report weekly)");
    }
    return out;
  }
  auto r = conn.exec(
      "SELECT id::text, email, report_frequency FROM users WHERE report_frequency <> 'off' "
      "ORDER BY created_at, id");
  for (int i = 0; i < r.rows(); ++i) {
    Account a{std::string(r.get(i, 0)), std::string(r.get(i, 1)), std::string(r.get(i, 2))};
    if (options.period && periodOfFrequency(a.frequency) != options.period) continue;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::vector<Outcome> sendReports(db::Connection& claims, db::Connection& stats,
                                 const SendOptions& options, const Deliver& deliver,
                                 std::ostream& out,
                                 const std::function<void(const Outcome&)>& progress) {
  std::vector<Outcome> outcomes;
  for (const auto& account : accounts(claims, options)) {
    const Period period =
        options.period.value_or(periodOfFrequency(account.frequency).value_or(Period::kWeek));
    const PeriodRange range = lastComplete(period, options.today);
    for (const auto& website : sites::listForUser(claims, account.id)) {
      Outcome o;
      o.recipient = account.email;
      o.domain = website.domain;
      o.period = range;
      const auto message = [&] {
        const auto rendered = render(build(stats, website, range), options.dashboardUrl);
        return compose(
            MailParts{options.from, account.email, rendered.subject, rendered.text, rendered.html},
            options.nowMillis);
      };
      if (options.dryRun) {
        const auto rendered = render(build(stats, website, range), options.dashboardUrl);
        out << "To: " << account.email << "\nSubject: " << rendered.subject << "\n\n"
            << (options.dryRunHtml ? rendered.html : rendered.text) << "\n";
        o.status = Outcome::Status::kPrinted;
      } else {
        db::Transaction tx(claims);
        auto claimed = claims.execArgs(
            "INSERT INTO report_deliveries (website_id, period, period_start, user_id, recipient) "
            "VALUES ($1, $2, $3::date, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
            website.id, std::string(periodName(period)), util::formatDate(range.range.from),
            account.id, account.email);
        if (claimed.rows() == 0) {
          o.status = Outcome::Status::kAlreadySent;
        } else {
          try {
            deliver(account.email, message());
            tx.commit();
            o.status = Outcome::Status::kSent;
          } catch (const DbError&) {
            throw;
          } catch (const std::exception& e) {
            o.status = Outcome::Status::kFailed;
            o.error = e.what();
          }
        }
      }
      if (progress) progress(o);
      outcomes.push_back(std::move(o));
    }
  }
  return outcomes;
}

}  // namespace mp::reports
