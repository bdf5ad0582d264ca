#include "support/seed.hpp"

#include <fmt/format.h>

#include "sites/sites.hpp"
#include "users/users.hpp"

namespace mp::test::seed {
namespace {

// A SQL literal: the text quoted, quotes doubled, or NULL.
std::string literal(const std::optional<std::string>& value) {
  if (!value) return "NULL";
  std::string out = "'";
  for (const char c : *value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string owner(db::Connection& conn, const std::string& email) {
  return users::create(conn, email, kOwnerPassword, 4).id;
}

std::string website(db::Connection& conn, const std::string& owner, const std::string& name,
                    const std::string& domain) {
  return sites::create(conn, owner, name, domain).id;
}

std::vector<std::string> websites(db::Connection& conn, const std::string& owner,
                                  const std::vector<std::pair<std::string, std::string>>& sites) {
  std::vector<std::string> ids;
  ids.reserve(sites.size());
  for (const auto& [name, domain] : sites) ids.push_back(website(conn, owner, name, domain));
  return ids;
}

std::int64_t dayStartMs(std::chrono::sys_days day) {
  return static_cast<std::int64_t>(day.time_since_epoch().count()) * 86'400'000;
}

std::optional<std::string> text(const char* value) {
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

std::size_t insertEvents(db::Connection& conn, const std::vector<Event>& events) {
  if (events.empty()) return 0;
  std::string sql =
      "INSERT INTO events (website_id, ts, event_type, page, session_id, visitor_id,"
      " referrer_host, browser, os, device, country, source, channel, utm_campaign, props,"
      " interactive) VALUES ";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    sql += fmt::format("{}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}::jsonb, {})",
                       i ? "," : "", literal(e.website), literal(e.ts), literal(e.type),
                       literal(e.page), literal(e.session),
                       e.visitor ? std::to_string(*e.visitor) : std::string("NULL"),
                       literal(e.referrer), literal(e.browser), literal(e.os), literal(e.device),
                       literal(e.country), literal(e.source), literal(e.channel),
                       literal(e.utmCampaign), literal(e.props), e.interactive ? "true" : "false");
  }
  conn.exec(sql);
  return events.size();
}

}  // namespace mp::test::seed
