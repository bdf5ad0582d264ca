// Plausible's Stats API v2 shape over the query engine: a request body (site_id, metrics,
// date_range, dimensions, filters, order_by, pagination, include) becomes a stats::Query, and the
// engine's answer becomes {"results","meta","query"}. POST /api/v2/query and mpctl stats query
// both use it; docs/api-v2.md says what is supported and what is refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "stats/params.hpp"
#include "stats/query.hpp"

namespace mp::stats::v2 {

/// The most rows one answer holds (pagination.limit), and its default.
inline constexpr int kMaxLimit = 10000;

/// The date_range as given: a shorthand ("day", "7d", "month", "6mo", "year", "all") or two dates.
struct DateSpec {
  std::string shorthand;           ///< empty when dates are given
  std::optional<DateRange> dates;  ///< ["YYYY-MM-DD","YYYY-MM-DD"], checked
};

/// What `include` asks for besides the rows.
struct Include {
  bool imports = false;     ///< accepted; there is never imported data (meta.imports_included)
  bool timeLabels = false;  ///< meta.time_labels: every bucket of the time dimension
  bool totalRows = false;   ///< meta.total_rows: the rows before pagination
};

/// A request, checked: everything but the website and the days, which need PostgreSQL.
struct Request {
  std::string siteId;  ///< as given: a website id (any case) or a domain
  std::vector<Metric> metrics;
  DateSpec dateRange;
  std::vector<Dim> dimensions;
  std::vector<std::string>
      dimensionNames;           ///< as given ("visit:source", "page"); "time" is "time:day"
  std::vector<Filter> filters;  ///< all but the goals
  /// Names of goals from ["is", "event:goal", [name]] filters; the website's goals resolve them.
  std::vector<std::string> goals;
  nlohmann::json filtersJson = nlohmann::json::array();  ///< as given
  /// As given, each [metric or dimension name, "asc"|"desc"]; empty: the default order.
  std::vector<std::pair<std::string, bool>> orderBy;
  int limit = kMaxLimit;
  int offset = 0;
  Include include;
};

/// The website a request names.
struct Site {
  std::string id;  ///< canonical (lower case)
  std::string domain;
  std::string timeZone = "UTC";
};

/// The request body, every rule checked; throws InvalidInput naming the key at fault: a missing
/// site_id, metrics or date_range, an unknown key, a metric, dimension, filter operator or include
/// that MetricPulse does not answer, a date-time range, a bad order_by or pagination.
Request parseRequest(const nlohmann::json& body);

/// The days of `spec` given today in the website's zone: "day" is today; "Nd" the N days before
/// today; "Nmo" the N whole months before the current one; "month" and "year" the current
/// (calendar) month and year; "all" from `startDay()` (the first day with an event, else the day
/// the website was created) to today, at most kMaxRangeDays. Throws InvalidInput("date_range")
/// for a range of more than kMaxRangeDays.
DateRange resolveRange(const DateSpec& spec, std::chrono::sys_days today,
                       const std::function<std::optional<std::chrono::sys_days>()>& startDay);

/// The first day of the website's stats in its zone: its first event's, else its creation's
/// (nullopt when the website does not exist). Throws DbError.
std::optional<std::chrono::sys_days> startDay(db::Connection& conn, const Site& site);

/// The engine's question for `request` about `site` over `range`; with include.total_rows, every
/// row is asked for (pagination is applied by response()).
Query toQuery(const Request& request, const Site& site, const DateRange& range);

/// The normalised query as the answer echoes it: site_id (the domain, as Plausible answers),
/// metrics, date_range as two dates, filters, dimensions, order_by (the effective order),
/// include (what is on) and pagination.
nlohmann::ordered_json echo(const Request& request, const Site& site, const DateRange& range);

/// What the answer needs beside the engine's rows, worked out with PostgreSQL (the zone's hours).
struct Labels {
  /// Each time:hour value of the rows (a UTC instant) → its hour in the website's zone,
  /// "YYYY-MM-DD HH:MM:SS".
  std::map<std::string, std::string> hours;
  /// Every bucket of the first time dimension over the range, for include.time_labels.
  std::vector<std::string> timeLabels;
  /// The imported aggregate days of the range (Answer::imported), for include.imports.
  std::optional<ImportedDays> imported;
};

/// The answer {"results":[{"metrics":[…],"dimensions":[…]}],"meta":{…},"query":echo()} from the
/// engine's rows for toQuery(): time values as Plausible writes them (time:day "YYYY-MM-DD",
/// time:week the Monday or the range's first day, time:month the 1st, time:hour from `labels`).
nlohmann::ordered_json response(const Request& request, const Site& site, const DateRange& range,
                                const std::vector<Row>& rows, const Labels& labels);

/// Runs toQuery() with stats::run() on `conn` and answers with response(). Throws InvalidInput
/// (a question the engine refuses: an invalid RE2 pattern, two event dimensions) or DbError.
nlohmann::ordered_json answer(db::Connection& conn, const Request& request, const Site& site,
                              const DateRange& range);

}  // namespace mp::stats::v2
