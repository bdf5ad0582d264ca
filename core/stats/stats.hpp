// The answers of the stats endpoints (API.md "Stats"), exact at every moment: the rollups of final
// days plus the raw events of every other day. GET /stats/... and mpctl stats both call these.
//
// Definitions (those of 0002_rollups.sql, which a direct SQL count over events agrees with):
// views count pageview events; visitors are distinct visitor ids (NULL ids not counted) over
// every event for the overview and timeseries, over pageview events for pages and dimensions,
// and over the events of each type for eventType. Visitor ids are day-scoped (0003), so visitors
// over several days are the sum of each day's. Days and hours are UTC. A NULL page or dimension
// value is "" (referrer "" = direct or none, country "" = unknown).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "db/connection.hpp"
#include "redis/client.hpp"
#include "stats/params.hpp"

namespace mp::stats {

/// {"websiteId","totalViews","uniqueVisitors","today":{"views","visitors"},
/// "last7Days":{"views","visitors"},"generatedAt"}: all-time totals over every stored event, today
/// and the 7 days up to today, today being the UTC day of `nowMillis` (also generatedAt).
/// The website is not looked up (an unknown id has zeros). Throws DbError.
nlohmann::json overview(db::Connection& conn, std::string_view websiteId, std::int64_t nowMillis);

/// {"websiteId","from","to","pages":[{"page","views","visitors"}]}: the `limit` most viewed pages
/// of the range, ties in byte order of the page. Throws DbError.
nlohmann::json topPages(db::Connection& conn, std::string_view websiteId, const DateRange& range,
                        int limit);

/// {"websiteId","interval","points":[{"t","views","visitors"}]}: every hour or day of the range
/// in order, zeros included; `t` is "YYYY-MM-DD" for days and the RFC 3339 start of the hour
/// ("2026-11-27T10:00:00.000Z") for hours. Throws InvalidInput (checkInterval()) or DbError.
nlohmann::json timeseries(db::Connection& conn, std::string_view websiteId, const DateRange& range,
                          Interval interval);

/// {"websiteId","dimension","rows":[{"value","views","visitors"}]}: the `limit` values of the
/// dimension with the most views over the range (events of the type for eventType), ties in byte
/// order of the value. Throws DbError.
nlohmann::json breakdown(db::Connection& conn, std::string_view websiteId, const DateRange& range,
                         Dimension dimension, int limit);

/// {"websiteId","activeSessions","windowSeconds","asOf"}: sessions whose last event arrived in the
/// kRealtimeWindow up to `nowMillis` (the website's realtime set in Redis). Throws RedisError.
nlohmann::json realtime(redis::Client& redis, std::string_view websiteId, std::int64_t nowMillis);

}  // namespace mp::stats
