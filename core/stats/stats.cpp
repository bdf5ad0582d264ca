// Each answer reads one REPEATABLE READ snapshot: which days are final, their rollups, and the raw
// events of every other day are all seen at one moment, so a fold committing meanwhile can make
// no day count twice or not at all. The raw part covers only days that are not final (today,
// mostly), and each of its stretches is one primary-key range (website_id, ts) pruned to its
// month partitions; the rollup part reads primary-key ranges (website_id, date or week).
#include "stats/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "redis/keys.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::stats {
namespace {

using json = nlohmann::json;
using std::chrono::days;
using std::chrono::sys_days;

using util::kDayMillis;

// More separate stretches of raw days than this (days that are not final between final ones, a
// rare sight) are merged, the final days between them then read raw too: fewer, longer index
// ranges beat a statement of dozens of branches.
constexpr std::size_t kMaxRawStretches = 8;

std::string canonicalId(std::string_view websiteId) {
  auto id = util::canonicalUuid(websiteId);
  if (!id) throw NotFound("no such website");
  return *std::move(id);
}

// Statement parameters; $1 is always the website id.
class Query {
 public:
  explicit Query(const std::string& websiteId) { params_.emplace_back(websiteId); }
  /// Adds a parameter and returns its placeholder.
  std::string add(std::string value) {
    params_.emplace_back(std::move(value));
    return "$" + std::to_string(params_.size());
  }
  const db::Params& params() const { return params_; }

 private:
  db::Params params_;
};

// Days read from raw events, inclusive; std::nullopt = unbounded on that side (all-time).
struct RawStretch {
  std::optional<sys_days> from;
  std::optional<sys_days> to;
};

// Which days of a range come from rollups and which from raw events.
struct DayPlan {
  std::vector<sys_days> rollup;        // every day read from rollups, in order
  std::optional<sys_days> rollupFrom;  // they lie in [rollupFrom, rollupTo] …
  std::optional<sys_days> rollupTo;
  std::vector<sys_days> rollupSkip;  // … except these, which are read raw
  std::vector<RawStretch> raw;
};

DayPlan planDays(db::Connection& conn, const std::string& id, std::optional<sys_days> from,
                 std::optional<sys_days> to) {
  const std::vector<sys_days> finals = aggregation::finalDays(conn, id, from, to);
  DayPlan plan;
  // The stretches between final days. `next` is the first day not yet placed; without `from`
  // the first stretch is open towards the past.
  bool openStart = !from;
  std::optional<sys_days> next = from;
  for (const sys_days day : finals) {
    if (openStart) {
      plan.raw.push_back({std::nullopt, day - days{1}});
      openStart = false;
    } else if (*next < day) {
      plan.raw.push_back({next, day - days{1}});
    }
    next = day + days{1};
  }
  if (openStart) {
    plan.raw.push_back({std::nullopt, to});
  } else if (!to || *next <= *to) {
    plan.raw.push_back({next, to});
  }

  while (plan.raw.size() > kMaxRawStretches) {
    // Inner stretches are bounded on both sides; merge the two with the fewest days between.
    std::size_t best = 0;
    auto bestGap = days::max();
    for (std::size_t i = 0; i + 1 < plan.raw.size(); ++i) {
      const auto gap = *plan.raw[i + 1].from - *plan.raw[i].to;
      if (gap < bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    plan.raw[best].to = plan.raw[best + 1].to;
    plan.raw.erase(plan.raw.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }

  const auto rawDay = [&plan](sys_days day) {
    return std::any_of(plan.raw.begin(), plan.raw.end(), [day](const RawStretch& s) {
      return (!s.from || *s.from <= day) && (!s.to || day <= *s.to);
    });
  };
  for (const sys_days day : finals) {
    if (rawDay(day)) continue;
    plan.rollup.push_back(day);
    if (!plan.rollupFrom) plan.rollupFrom = day;
    plan.rollupTo = day;
  }
  if (plan.rollupFrom) {
    for (sys_days day = *plan.rollupFrom; day <= *plan.rollupTo; day += days{1}) {
      if (rawDay(day)) plan.rollupSkip.push_back(day);
    }
  }
  return plan;
}

std::string dateArray(const std::vector<sys_days>& list) {
  std::string out = "{";
  for (const sys_days day : list) {
    if (out.size() > 1) out.push_back(',');
    out += util::formatDate(day);
  }
  return out + "}";
}

// The rollup days as whole weeks (Monday to Sunday, all seven read from rollups: their weekly
// rows) and the remaining single days.
struct WeekSplit {
  std::vector<sys_days> weeks;  // Mondays
  std::vector<sys_days> days;
};

WeekSplit splitWeeks(const std::vector<sys_days>& rollup) {
  WeekSplit out;
  std::size_t i = 0;
  while (i < rollup.size()) {
    const sys_days day = rollup[i];
    // Sorted and distinct: the seventh day from a Monday closes the week when it is six later.
    if (std::chrono::weekday{day} == std::chrono::Monday && i + 6 < rollup.size() &&
        rollup[i + 6] == day + days{6}) {
      out.weeks.push_back(day);
      i += 7;
    } else {
      out.days.push_back(day);
      ++i;
    }
  }
  return out;
}

std::string startOf(sys_days day) {
  return util::formatDate(day) + "T00:00:00Z";
}

// The condition selecting the plan's rollup rows of table alias t by its date column.
std::string rollupDays(Query& q, const DayPlan& plan) {
  if (!plan.rollupFrom) return "false";
  std::string sql = fmt::format("t.website_id = $1::uuid AND t.date BETWEEN {}::date AND {}::date",
                                q.add(util::formatDate(*plan.rollupFrom)),
                                q.add(util::formatDate(*plan.rollupTo)));
  if (!plan.rollupSkip.empty()) {
    sql += fmt::format(" AND t.date <> ALL({}::date[])", q.add(dateArray(plan.rollupSkip)));
  }
  return sql;
}

// The same for hourly_summary, by its hour column.
std::string rollupHours(Query& q, const DayPlan& plan) {
  if (!plan.rollupFrom) return "false";
  std::string sql = fmt::format(
      "t.website_id = $1::uuid AND t.hour >= {}::timestamptz AND t.hour < {}::timestamptz",
      q.add(startOf(*plan.rollupFrom)), q.add(startOf(*plan.rollupTo + days{1})));
  if (!plan.rollupSkip.empty()) {
    sql += fmt::format(" AND (t.hour AT TIME ZONE 'UTC')::date <> ALL({}::date[])",
                       q.add(dateArray(plan.rollupSkip)));
  }
  return sql;
}

// `columns` of the website's events (alias e) on the plan's raw days, matching `filter`.
std::string rawEvents(Query& q, const DayPlan& plan, std::string_view columns,
                      std::string_view filter = "") {
  if (plan.raw.empty()) return fmt::format("SELECT {} FROM events e WHERE false", columns);
  std::string sql;
  for (const RawStretch& stretch : plan.raw) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += fmt::format("SELECT {} FROM events e WHERE e.website_id = $1::uuid", columns);
    if (stretch.from)
      sql += fmt::format(" AND e.ts >= {}::timestamptz", q.add(startOf(*stretch.from)));
    if (stretch.to) {
      sql += fmt::format(" AND e.ts < {}::timestamptz", q.add(startOf(*stretch.to + days{1})));
    }
    if (!filter.empty()) sql += fmt::format(" AND {}", filter);
  }
  return sql;
}

// Per UTC day: pageviews and distinct visitors over every event (event_summary's definitions).
// count(DISTINCT) sorts each group in memory (work_mem, below), which measured faster than
// grouping by (day, visitor) first.
std::string dailyCounts(Query& q, const DayPlan& plan) {
  const std::string rollup = rollupDays(q, plan);
  const std::string raw = rawEvents(q, plan, "e.ts, e.event_type, e.visitor_id");
  return fmt::format(
      "SELECT t.date, t.page_views AS views, t.unique_visitors AS visitors FROM event_summary t"
      " WHERE {} UNION ALL SELECT (e.ts AT TIME ZONE 'UTC')::date,"
      " count(*) FILTER (WHERE e.event_type = 'pageview'), count(DISTINCT e.visitor_id)"
      " FROM ({}) e GROUP BY 1",
      rollup, raw);
}

// What a top list reads: the daily and weekly rollup tables, the column of their value and the
// dimension their rows are of (none for pages); the events column and filter.
struct TopSource {
  std::string daily;
  std::string weekly;
  std::string value;
  std::string dimension;  // empty for the page tables
  std::string column;
  std::string filter;  // may be empty
};

TopSource topSource(Dimension dimension) {
  constexpr const char* kPageviews = "e.event_type = 'pageview'";
  const auto dimensionRows = [](const char* rollupName, const char* column, const char* filter) {
    return TopSource{"dimension_daily", "dimension_weekly", "value", rollupName, column, filter};
  };
  switch (dimension) {
    case Dimension::kPage:
      return {"page_daily", "page_weekly", "page", "", "page", kPageviews};
    case Dimension::kReferrer:
      return dimensionRows("referrer", "referrer_host", kPageviews);
    case Dimension::kBrowser:
      return dimensionRows("browser", "browser", kPageviews);
    case Dimension::kOs:
      return dimensionRows("os", "os", kPageviews);
    case Dimension::kDevice:
      return dimensionRows("device", "device", kPageviews);
    case Dimension::kCountry:
      return dimensionRows("country", "country", kPageviews);
    case Dimension::kEventType:
      return dimensionRows("event_type", "event_type", "");
  }
  throw Error("unknown dimension");
}

// value, views, visitors of the `limit` values with most views, ties in byte order: the weekly
// rows of whole final weeks, the daily rows of the other final days, and the raw events of the
// rest (their visitors counted per value over all raw days at once, which the day-scoped
// visitor ids make equal to the sum of each day's).
db::Result topValues(db::Connection& conn, const std::string& id, const DateRange& range,
                     Dimension dimension, int limit) {
  const DayPlan plan = planDays(conn, id, range.from, range.to);
  Query q(id);
  const TopSource source = topSource(dimension);
  const WeekSplit split = splitWeeks(plan.rollup);
  // A parameter is added only when a statement uses it: PostgreSQL cannot type an unused one.
  std::string where;
  if (!source.dimension.empty() && !plan.rollup.empty()) {
    where = " AND t.dimension = " + q.add(source.dimension) + "::text";
  }
  std::vector<std::string> parts;
  if (!split.weeks.empty()) {
    parts.push_back(fmt::format(
        "SELECT t.{} AS value, t.views, t.visitors FROM {} t WHERE t.website_id = $1::uuid"
        " AND t.week = ANY({}::date[]){}",
        source.value, source.weekly, q.add(dateArray(split.weeks)), where));
  }
  if (!split.days.empty()) {
    parts.push_back(fmt::format(
        "SELECT t.{} AS value, t.views, t.visitors FROM {} t WHERE t.website_id = $1::uuid"
        " AND t.date = ANY({}::date[]){}",
        source.value, source.daily, q.add(dateArray(split.days)), where));
  }
  parts.push_back(fmt::format(
      "SELECT coalesce(e.{0}, '') AS value, count(*) AS views,"
      " count(DISTINCT e.visitor_id) AS visitors FROM ({1}) e GROUP BY 1",
      source.column, rawEvents(q, plan, "e." + source.column + ", e.visitor_id", source.filter)));
  std::string all;
  for (const auto& part : parts) all += (all.empty() ? "" : " UNION ALL ") + part;
  const std::string sql = fmt::format(
      "SELECT value, sum(views)::bigint AS views, sum(visitors)::bigint AS visitors FROM ({}) u"
      " GROUP BY value ORDER BY views DESC, value COLLATE \"C\" LIMIT {}::int",
      all, q.add(std::to_string(limit)));
  return conn.exec(sql, q.params());
}

// A REPEATABLE READ, read-only transaction around one answer, rolled back however it ends (it
// changes nothing). Sorts and hash aggregates of a busy day's events get room to stay in memory
// (the default 4 MB spilled them to disk); JIT compilation would cost more than these queries
// take. BEGIN and the settings go in one round trip.
const db::TransactionOptions& snapshot() {
  static const db::TransactionOptions kSnapshot{
      db::Isolation::kRepeatableRead, true, {{"work_mem", "'32MB'"}, {"jit", "off"}}};
  return kSnapshot;
}

json counts(std::int64_t views, std::int64_t visitors) {
  return {{"views", views}, {"visitors", visitors}};
}

}  // namespace

json overview(db::Connection& conn, std::string_view websiteId, std::int64_t nowMillis) {
  const std::string id = canonicalId(websiteId);
  const sys_days today{
      days{nowMillis >= 0 ? nowMillis / kDayMillis : (nowMillis - kDayMillis + 1) / kDayMillis}};
  const db::Transaction tx(conn, snapshot());
  const DayPlan plan = planDays(conn, id, std::nullopt, std::nullopt);
  Query q(id);
  const std::string daily = dailyCounts(q, plan);
  const std::string day = q.add(util::formatDate(today));
  const std::string weekStart = q.add(util::formatDate(today - days{kDefaultRangeDays - 1}));
  const std::string sql = fmt::format(
      "SELECT coalesce(sum(views), 0)::bigint, coalesce(sum(visitors), 0)::bigint,"
      " coalesce(sum(views) FILTER (WHERE date = {0}::date), 0)::bigint,"
      " coalesce(sum(visitors) FILTER (WHERE date = {0}::date), 0)::bigint,"
      " coalesce(sum(views) FILTER (WHERE date BETWEEN {1}::date AND {0}::date), 0)::bigint,"
      " coalesce(sum(visitors) FILTER (WHERE date BETWEEN {1}::date AND {0}::date), 0)::bigint"
      " FROM ({2}) u",
      day, weekStart, daily);
  auto r = conn.exec(sql, q.params());
  return {{"websiteId", id},
          {"totalViews", r.getInt(0, 0)},
          {"uniqueVisitors", r.getInt(0, 1)},
          {"today", counts(r.getInt(0, 2), r.getInt(0, 3))},
          {"last7Days", counts(r.getInt(0, 4), r.getInt(0, 5))},
          {"generatedAt", util::formatRfc3339Millis(nowMillis)}};
}

json topPages(db::Connection& conn, std::string_view websiteId, const DateRange& range, int limit) {
  const std::string id = canonicalId(websiteId);
  const db::Transaction tx(conn, snapshot());
  auto r = topValues(conn, id, range, Dimension::kPage, limit);
  json pages = json::array();
  for (int i = 0; i < r.rows(); ++i) {
    pages.push_back(
        {{"page", r.get(i, 0)}, {"views", r.getInt(i, 1)}, {"visitors", r.getInt(i, 2)}});
  }
  return {{"websiteId", id},
          {"from", util::formatDate(range.from)},
          {"to", util::formatDate(range.to)},
          {"pages", std::move(pages)}};
}

json breakdown(db::Connection& conn, std::string_view websiteId, const DateRange& range,
               Dimension dimension, int limit) {
  const std::string id = canonicalId(websiteId);
  const db::Transaction tx(conn, snapshot());
  auto r = topValues(conn, id, range, dimension, limit);
  json rows = json::array();
  for (int i = 0; i < r.rows(); ++i) {
    rows.push_back(
        {{"value", r.get(i, 0)}, {"views", r.getInt(i, 1)}, {"visitors", r.getInt(i, 2)}});
  }
  return {{"websiteId", id}, {"dimension", name(dimension)}, {"rows", std::move(rows)}};
}

json timeseries(db::Connection& conn, std::string_view websiteId, const DateRange& range,
                Interval interval) {
  checkInterval(range, interval);
  const std::string id = canonicalId(websiteId);
  const db::Transaction tx(conn, snapshot());
  const DayPlan plan = planDays(conn, id, range.from, range.to);
  Query q(id);
  json points = json::array();
  if (interval == Interval::kDay) {
    const std::string sql = fmt::format(
        "SELECT date::text, sum(views)::bigint, sum(visitors)::bigint FROM ({}) u GROUP BY date",
        dailyCounts(q, plan));
    auto r = conn.exec(sql, q.params());
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> byDay;
    for (int i = 0; i < r.rows(); ++i)
      byDay[std::string(r.get(i, 0))] = {r.getInt(i, 1), r.getInt(i, 2)};
    for (sys_days day = range.from; day <= range.to; day += days{1}) {
      const std::string t = util::formatDate(day);
      const auto it = byDay.find(t);
      const auto [views, visitors] =
          it == byDay.end() ? std::pair<std::int64_t, std::int64_t>{} : it->second;
      points.push_back({{"t", t}, {"views", views}, {"visitors", visitors}});
    }
  } else {
    // Visitors of an hour are distinct within the hour: hourly_summary rows are never summed.
    const std::string rollup = rollupHours(q, plan);
    const std::string raw = rawEvents(q, plan, "e.ts, e.event_type, e.visitor_id");
    const std::string sql = fmt::format(
        "SELECT extract(epoch FROM h)::bigint, sum(views)::bigint, sum(visitors)::bigint FROM ("
        "SELECT t.hour AS h, t.views, t.visitors FROM hourly_summary t WHERE {}"
        " UNION ALL SELECT date_trunc('hour', e.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',"
        " count(*) FILTER (WHERE e.event_type = 'pageview'), count(DISTINCT e.visitor_id)"
        " FROM ({}) e GROUP BY 1) u GROUP BY h",
        rollup, raw);
    auto r = conn.exec(sql, q.params());
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> byHour;
    for (int i = 0; i < r.rows(); ++i) byHour[r.getInt(i, 0)] = {r.getInt(i, 1), r.getInt(i, 2)};
    const std::int64_t first = range.from.time_since_epoch().count() * 86'400;
    const std::int64_t end = (range.to + days{1}).time_since_epoch().count() * 86'400;
    for (std::int64_t hour = first; hour < end; hour += 3600) {
      const auto it = byHour.find(hour);
      const auto [views, visitors] =
          it == byHour.end() ? std::pair<std::int64_t, std::int64_t>{} : it->second;
      points.push_back({{"t", util::formatRfc3339Millis(hour * 1000)},
                        {"views", views},
                        {"visitors", visitors}});
    }
  }
  return {{"websiteId", id}, {"interval", name(interval)}, {"points", std::move(points)}};
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
