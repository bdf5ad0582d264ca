// The REST reports as engine questions. Each block of numbers is one stats::run(); the JSON keeps
// the names of the first version ("views", "visitors") beside the newer metrics.
#include "stats/stats.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "redis/keys.hpp"
#include "stats/engine.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::stats {
namespace {

using json = nlohmann::json;
using std::chrono::days;
using std::chrono::sys_days;

const std::vector<Metric> kAll = {
    Metric::kVisitors,      Metric::kVisits,     Metric::kPageviews,    Metric::kEvents,
    Metric::kViewsPerVisit, Metric::kBounceRate, Metric::kVisitDuration};

std::string canonicalId(std::string_view websiteId) {
  return util::canonicalUuid(websiteId).value_or(std::string(websiteId));
}

// The numbers of one block; "views" counts page views, or events for an event type's row.
json metrics(const Totals& t, bool viewsAreEvents = false) {
  return {{"views", viewsAreEvents ? t.events : t.pageviews},
          {"visitors", t.visitors},
          {"visits", t.visits},
          {"pageviews", t.pageviews},
          {"events", t.events},
          {"bounceRate", static_cast<std::int64_t>(value(Metric::kBounceRate, t))},
          {"visitDuration", static_cast<std::int64_t>(value(Metric::kVisitDuration, t))},
          {"viewsPerVisit", value(Metric::kViewsPerVisit, t)}};
}

// The REST name of a metric ("bounceRate").
std::string restName(Metric m) {
  switch (m) {
    case Metric::kBounceRate:
      return "bounceRate";
    case Metric::kVisitDuration:
      return "visitDuration";
    case Metric::kViewsPerVisit:
      return "viewsPerVisit";
    case Metric::kConversionRate:
      return "conversionRate";
    default:
      return std::string(name(m));
  }
}

// Adds "imported" to `out` when the question's range holds days imported as aggregates: how
// many, whether the answer counts them (or why not), and the metrics they lack.
void addImported(json& out, db::Connection& conn, const Query& q) {
  const auto imported = importedDays(conn, q);
  if (!imported) return;
  json j = {{"days", imported->days},
            {"from", util::formatDate(imported->first)},
            {"to", util::formatDate(imported->last)},
            {"included", imported->included}};
  if (!imported->included) j["reason"] = imported->reason;
  json unavailable = json::array();
  for (const auto m : imported->unavailable) unavailable.push_back(restName(m));
  j["unavailable"] = std::move(unavailable);
  out["imported"] = std::move(j);
}

Query baseQuery(const Scope& scope) {
  Query q;
  q.websiteId = canonicalId(scope.websiteId);
  q.timeZone = scope.timeZone;
  q.range = scope.range;
  q.filters = scope.filters;
  q.metrics = kAll;
  return q;
}

Totals totalsOf(db::Connection& conn, Query q, const DateRange& range) {
  q.range = range;
  q.dimensions.clear();
  auto answer = run(conn, q);
  return answer.rows.empty() ? Totals{} : answer.rows.front().totals;
}

json block(const DateRange& range, const Totals& t) {
  json out = metrics(t);
  out["from"] = util::formatDate(range.from);
  out["to"] = util::formatDate(range.to);
  return out;
}

// The first day with an event of the website, in its zone (nullopt: none).
std::optional<sys_days> firstDay(db::Connection& conn, const std::string& id,
                                 const std::string& zone) {
  auto r = conn.execArgs(
      "SELECT ((SELECT min(ts) FROM events WHERE website_id = $1::uuid) AT TIME ZONE $2)::date"
      "::text",
      id, zone);
  if (r.isNull(0, 0)) return std::nullopt;
  return util::parseDate(r.get(0, 0));
}

// Rows keyed by their dimension values, for matching a comparison's rows to the answer's.
std::map<std::vector<std::string>, Totals> byValues(const std::vector<Row>& rows) {
  std::map<std::vector<std::string>, Totals> out;
  for (const auto& r : rows) out[r.dimensions] = r.totals;
  return out;
}

}  // namespace

sys_days todayIn(db::Connection& conn, std::string_view zone, std::int64_t nowMillis) {
  auto r = conn.execArgs("SELECT (to_timestamp($1::bigint / 1000.0) AT TIME ZONE $2)::date::text",
                         nowMillis, std::string(zone));
  auto day = util::parseDate(r.get(0, 0));
  if (!day) throw DbError("PostgreSQL answered no date for today in " + std::string(zone));
  return *day;
}

std::optional<sys_days> LocalDays::known(const std::string& zone) {
  const std::int64_t now = util::nowMillis();
  std::lock_guard lock(mutex_);
  if (auto it = days_.find(zone); it != days_.end() && now < it->second.untilMillis) {
    return it->second.date;
  }
  return std::nullopt;
}

sys_days LocalDays::today(db::Connection& conn, const std::string& zone) {
  if (auto day = known(zone)) return *day;
  auto r = conn.execArgs(
      "SELECT (now() AT TIME ZONE $1)::date::text, (extract(epoch FROM"
      " ((now() AT TIME ZONE $1)::date + 1)::timestamp AT TIME ZONE $1) * 1000)::bigint",
      zone);
  const auto date = util::parseDate(r.get(0, 0));
  if (!date) throw DbError("PostgreSQL answered no date for today in " + zone);
  std::lock_guard lock(mutex_);
  days_[zone] = Day{*date, r.getInt(0, 1)};
  return *date;
}

json overview(db::Connection& conn, const Scope& scope, std::int64_t nowMillis) {
  Query q = baseQuery(scope);
  const sys_days today = todayIn(conn, q.timeZone, nowMillis);
  const DateRange week{today - days{kDefaultRangeDays - 1}, today};
  // One question per day over everything the blocks cover, summed here: days add up exactly
  // (visitors are distinct per day), and today's raw events are read once, not per block.
  // Tomorrow too: ingest takes timestamps a few minutes ahead, which may fall past midnight.
  sys_days from = std::min(week.from, scope.range.from);
  const sys_days to = std::max(today + days{1}, scope.range.to);
  const auto first = firstDay(conn, q.websiteId, q.timeZone);
  if (first) from = std::min(from, *first);
  q.range = {from, to};
  q.dimensions = {*dimensionNamed("time:day")};
  q.limit = static_cast<int>((to - from).count()) + 1;
  std::map<sys_days, Totals> perDay;
  for (const auto& row : run(conn, q).rows) {
    if (auto day = util::parseDate(row.dimensions[0])) perDay[*day] = row.totals;
  }
  const auto sum = [&perDay](const DateRange& range) {
    Totals t;
    for (auto it = perDay.lower_bound(range.from); it != perDay.end() && it->first <= range.to;
         ++it) {
      t.visitors += it->second.visitors;
      t.visits += it->second.visits;
      t.pageviews += it->second.pageviews;
      t.events += it->second.events;
      t.bounces += it->second.bounces;
      t.durationMs += it->second.durationMs;
      t.unratedVisits += it->second.unratedVisits;
    }
    return t;
  };
  const Totals all = sum(DateRange{from, to});
  json out = {{"websiteId", q.websiteId},
              {"totalViews", all.pageviews},
              {"uniqueVisitors", all.visitors},
              {"total", metrics(all)},
              {"today", metrics(sum(DateRange{today, today}))},
              {"last7Days", metrics(sum(week))},
              {"range", block(scope.range, sum(scope.range))}};
  if (scope.compare) {
    const DateRange other = comparisonRange(scope.range, *scope.compare);
    out["comparison"] = block(other, totalsOf(conn, baseQuery(scope), other));
  }
  Query asked = baseQuery(scope);
  asked.compare = scope.compare;
  addImported(out, conn, asked);
  out["generatedAt"] = util::formatRfc3339Millis(nowMillis);
  return out;
}

json topPages(db::Connection& conn, const Scope& scope, int limit) {
  Query q = baseQuery(scope);
  q.dimensions = {*dimensionNamed("page")};
  q.orderBy = {{Metric::kPageviews, std::nullopt, true}};
  q.limit = limit;
  q.compare = scope.compare;
  const Answer answer = run(conn, q);
  const auto previous = answer.comparison ? byValues(*answer.comparison)
                                          : std::map<std::vector<std::string>, Totals>{};
  json pages = json::array();
  for (const auto& row : answer.rows) {
    json entry = metrics(row.totals);
    entry["page"] = row.dimensions[0];
    if (answer.comparison) {
      const auto it = previous.find(row.dimensions);
      entry["comparison"] = metrics(it == previous.end() ? Totals{} : it->second);
    }
    pages.push_back(std::move(entry));
  }
  json out = {{"websiteId", q.websiteId},
              {"from", util::formatDate(scope.range.from)},
              {"to", util::formatDate(scope.range.to)},
              {"pages", std::move(pages)}};
  addImported(out, conn, q);
  return out;
}

json breakdown(db::Connection& conn, const Scope& scope, const Dim& dimension, int limit) {
  Query q = baseQuery(scope);
  const bool eventTypes = dimension.name == "event_type";
  q.dimensions = {dimension};
  q.orderBy = {{eventTypes ? Metric::kEvents : Metric::kPageviews, std::nullopt, true}};
  q.limit = limit;
  q.compare = scope.compare;
  const Answer answer = run(conn, q);
  const auto previous = answer.comparison ? byValues(*answer.comparison)
                                          : std::map<std::vector<std::string>, Totals>{};
  json rows = json::array();
  for (const auto& row : answer.rows) {
    json entry = metrics(row.totals, eventTypes);
    entry["value"] = row.dimensions[0];
    if (answer.comparison) {
      const auto it = previous.find(row.dimensions);
      entry["comparison"] = metrics(it == previous.end() ? Totals{} : it->second, eventTypes);
    }
    rows.push_back(std::move(entry));
  }
  json out = {{"websiteId", q.websiteId},
              {"dimension", eventTypes ? std::string("eventType") : dimension.name},
              {"rows", std::move(rows)}};
  addImported(out, conn, q);
  return out;
}

namespace {

// The points of `range`, every bucket present (zeros included), from the engine's rows.
json points(db::Connection& conn, Query q, const DateRange& range, Interval interval) {
  q.range = range;
  q.dimensions = {*dimensionNamed(interval == Interval::kHour ? "time:hour" : "time:day")};
  q.limit = 100000;
  const auto rows = byValues(run(conn, q).rows);
  json out = json::array();
  const auto point = [&](const std::string& t) {
    const auto it = rows.find({t});
    json p = metrics(it == rows.end() ? Totals{} : it->second);
    p["t"] = t;
    out.push_back(std::move(p));
  };
  if (interval == Interval::kDay) {
    for (sys_days d = range.from; d <= range.to; d += days{1}) point(util::formatDate(d));
  } else {
    // The zone's hours, daylight-saving changes included (23 or 25 a day), as UTC instants.
    auto hours = conn.execArgs(
        "SELECT to_char(h AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        " FROM generate_series(($1::date)::timestamp AT TIME ZONE $3,"
        " ($2::date + 1)::timestamp AT TIME ZONE $3 - interval '1 second', interval '1 hour') h",
        util::formatDate(range.from), util::formatDate(range.to), q.timeZone);
    for (int i = 0; i < hours.rows(); ++i) point(std::string(hours.get(i, 0)));
  }
  return out;
}

}  // namespace

json timeseries(db::Connection& conn, const Scope& scope, Interval interval) {
  checkInterval(scope.range, interval);
  const Query q = baseQuery(scope);
  json out = {{"websiteId", q.websiteId},
              {"interval", name(interval)},
              {"points", points(conn, q, scope.range, interval)}};
  if (scope.compare) {
    const DateRange other = comparisonRange(scope.range, *scope.compare);
    out["comparison"] = {{"from", util::formatDate(other.from)},
                         {"to", util::formatDate(other.to)},
                         {"points", points(conn, q, other, interval)}};
  }
  Query asked = q;
  asked.dimensions = {*dimensionNamed(interval == Interval::kHour ? "time:hour" : "time:day")};
  asked.compare = scope.compare;
  addImported(out, conn, asked);
  return out;
}

json realtime(redis::Client& redis, std::string_view websiteId, std::int64_t nowMillis) {
  const std::string id = canonicalId(websiteId);
  const std::int64_t window = redis::kRealtimeWindow.count();
  // Scores are the Unix second of each session's last event; a session counts while that second
  // lies within the window, as the tracker trims by the same clock.
  const std::int64_t since = nowMillis / 1000 - window;
  const redis::Reply reply =
      redis.command({"ZCOUNT", redis::realtimeKey(id), std::to_string(since), "+inf"});
  reply.throwIfError();
  return {{"websiteId", id},
          {"activeSessions", reply.integer()},
          {"windowSeconds", window},
          {"asOf", util::formatRfc3339Millis(nowMillis)}};
}

}  // namespace mp::stats
