// The REST reports (API.md "Stats") over the query engine: each builds a stats::Query, runs it
// and shapes the answer. GET /stats/... and mpctl stats both call these; docs/metrics.md defines
// the numbers. Every answer is exact: it equals SQL over the raw events for the same range and
// filters.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/connection.hpp"
#include "redis/client.hpp"
#include "stats/params.hpp"
#include "stats/query.hpp"

namespace mp::stats {

/// What every report is asked besides its own parameters.
struct Scope {
  std::string websiteId;
  std::string timeZone = "UTC";  ///< the website's: days and hours are counted in it
  DateRange range;               ///< days of timeZone
  std::vector<Filter> filters;
  std::optional<Compare> compare;
};

/// Today in the IANA zone `zone` at `nowMillis` (asked of PostgreSQL, which knows the zones).
/// Throws DbError.
std::chrono::sys_days todayIn(db::Connection& conn, std::string_view zone, std::int64_t nowMillis);

/// Today in each zone, asked of PostgreSQL once per zone and day and remembered until the zone's
/// next midnight, so a cached stats answer costs no query. Thread-safe.
class LocalDays {
 public:
  /// Today in `zone` (an IANA name PostgreSQL knows). Throws DbError.
  std::chrono::sys_days today(db::Connection& conn, const std::string& zone);
  /// Today in `zone` when remembered and still today; nullopt otherwise.
  std::optional<std::chrono::sys_days> known(const std::string& zone);

 private:
  struct Day {
    std::chrono::sys_days date;
    std::int64_t untilMillis;  ///< the zone's next midnight, epoch milliseconds
  };
  std::mutex mutex_;
  std::map<std::string, Day, std::less<>> days_;
};

/// {"websiteId","totalViews","uniqueVisitors","today":{…},"last7Days":{…},"range":{…},
/// ["comparison":{…}],"generatedAt"}: each block holds views, visitors, visits, pageviews,
/// events, bounceRate, visitDuration and viewsPerVisit; totals over every stored event, today
/// and the 7 days up to today in the website's zone, and the scope's range (and the compared
/// one), all under the scope's filters. Throws InvalidInput or DbError.
nlohmann::json overview(db::Connection& conn, const Scope& scope, std::int64_t nowMillis);

/// {"websiteId","from","to","pages":[{"page","views","visitors",…}]}: the `limit` pages with the
/// most page views, ties in byte order. Throws InvalidInput or DbError.
nlohmann::json topPages(db::Connection& conn, const Scope& scope, int limit);

/// {"websiteId","interval","points":[{"t","views","visitors",…}],["comparison":{…}]}: every hour
/// or day of the range in order, zeros included; `t` is "YYYY-MM-DD" for days and the RFC 3339
/// start of the hour for hours. Throws InvalidInput (checkInterval()) or DbError.
nlohmann::json timeseries(db::Connection& conn, const Scope& scope, Interval interval);

/// {"websiteId","dimension","rows":[{"value","views","visitors",…}]}: the `limit` values of the
/// dimension with the most views (page views; events for eventType), ties in byte order.
/// Throws InvalidInput or DbError.
nlohmann::json breakdown(db::Connection& conn, const Scope& scope, const Dim& dimension, int limit);

/// {"websiteId","activeSessions","windowSeconds","asOf"}: sessions whose last event arrived in the
/// kRealtimeWindow up to `nowMillis` (the website's realtime set in Redis). Throws RedisError.
nlohmann::json realtime(redis::Client& redis, std::string_view websiteId, std::int64_t nowMillis);

}  // namespace mp::stats
