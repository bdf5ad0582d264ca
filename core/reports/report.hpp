// One website's email report: its numbers for a period from the stats engine (the same as
// GET /stats answers), compared with the period before, rendered as plain text and as HTML that
// common mail clients show (tables and inline styles, no scripts, no images).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"
#include "reports/period.hpp"
#include "sites/sites.hpp"
#include "stats/query.hpp"

namespace mp::reports {

/// A row of a top list: a page or a source, and its number.
struct Item {
  std::string label;
  std::int64_t value = 0;
};

/// A goal and its conversions (visitors who reached it) in the period.
struct GoalLine {
  std::string name;
  std::int64_t conversions = 0;
  double conversionRate = 0;  ///< percent of the period's visitors, two decimals
};

struct WebsiteReport {
  sites::Website website;
  PeriodRange period;
  stats::Totals current;
  stats::Totals previous;
  std::vector<Item> pages;    ///< the most viewed pages, by page views
  std::vector<Item> sources;  ///< the sources with the most visitors ("Direct / None" for none)
  std::vector<GoalLine> goals;
};

/// The rows of each top list in a report.
inline constexpr int kTopRows = 5;

/// The report of `website` for `period`, from the stats engine. Throws DbError.
WebsiteReport build(db::Connection& conn, const sites::Website& website, const PeriodRange& period);

/// A report as an email's subject and its two bodies.
struct Rendered {
  std::string subject;
  std::string text;
  std::string html;
};

/// The report in words; `dashboardUrl` (may be empty) adds a link to the website's dashboard.
Rendered render(const WebsiteReport& report, std::string_view dashboardUrl);

/// "1,234,567".
std::string groupDigits(std::int64_t value);
/// The change from `before` to `now` as the report shows it: "+12%", "−3%", "±0%", "new" (from
/// 0), "–" (both 0).
std::string percentChange(std::int64_t now, std::int64_t before);
/// "1m 05s", "45s", "1h 02m".
std::string duration(std::int64_t seconds);

}  // namespace mp::reports
