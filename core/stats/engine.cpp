// The query engine. Every answer is built from per-day partial sums (visitors are distinct per
// day, so days add up) of two kinds of rows, unioned and summed per dimension value:
//
// - folded days: rollup rows when the question is one the fold precomputed (no filter, or one
//   `is` filter on one value, grouped by nothing, time, or one dimension), else the visits table;
// - every other day: visit rows computed from raw events by stats::visitRowsSql(), the statement
//   the fold itself uses, grouped exactly as the rollups were.
//
// `matches` filters are resolved first: the dimension's values in the range are listed and
// matched with RE2 here, and the filter becomes `is` (or `is_not`) over the values that match.
#include "stats/engine.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "aggregation/aggregator.hpp"
#include "db/array.hpp"
#include "stats/live_visits.hpp"
#include "stats/visit_sql.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::stats {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

// The parameters of a statement being written: param() appends one and names it.
class Sql {
 public:
  std::string param(std::string value) {
    params_.emplace_back(std::move(value));
    return "$" + std::to_string(params_.size());
  }
  const db::Params& params() const { return params_; }

 private:
  db::Params params_;
};

std::string dateList(const std::vector<sys_days>& list) {
  std::vector<std::string> text;
  text.reserve(list.size());
  for (auto d : list) text.push_back(util::formatDate(d));
  return db::arrayLiteral(text);
}

using util::join;

// A visit dimension over the visit row v, as grouped (NULL: the visit has no value for it).
std::string visitColumn(const std::string& dim) {
  static const std::map<std::string, std::string, std::less<>> kColumns = {
      {"entry_page", "v.entry_page"},
      {"exit_page", "v.exit_page"},
      {"source", "coalesce(v.source, '')"},
      {"channel", "coalesce(v.channel, '')"},
      {"referrer", "coalesce(v.referrer_host, '')"},
      {"utm_source", "v.utm_source"},
      {"utm_medium", "v.utm_medium"},
      {"utm_campaign", "v.utm_campaign"},
      {"utm_term", "v.utm_term"},
      {"utm_content", "v.utm_content"},
      {"country", "coalesce(v.country, '')"},
      {"browser", "coalesce(v.browser, '')"},
      {"os", "coalesce(v.os, '')"},
      {"device", "coalesce(v.device, '')"},
      {"hostname", "coalesce(v.hostname, '')"},
  };
  return kColumns.at(dim);
}

// Dimensions whose missing value leaves the visit out of their breakdown (rather than being '').
bool missingIsLeftOut(const std::string& dim) {
  return dim == "entry_page" || dim == "exit_page" || dim.rfind("utm_", 0) == 0 ||
         dim.rfind("prop:", 0) == 0;
}

// An event dimension over the event s(type, page, ms, props) of the unnested arrays.
std::string eventColumn(const Dim& dim, Sql& sql) {
  if (dim.name == "page") return "s.page";
  if (dim.name == "event_type") return "s.type";
  return "(s.props ->> " + sql.param(dim.name.substr(5)) + ")";
}

constexpr const char* kUnnest =
    "unnest(v.step_types, v.step_pages, v.step_ms, v.step_props) AS s(type, page, ms, props)";

std::string predicate(const std::string& expr, const Filter& f, Sql& sql) {
  const std::string value = "coalesce(" + expr + ", '')";
  const std::string list = sql.param(db::arrayLiteral(f.values)) + "::text[]";
  const std::string contains =
      "EXISTS (SELECT 1 FROM unnest(" + list + ") AS f(x) WHERE strpos(" + value + ", f.x) > 0)";
  switch (f.op) {
    case FilterOp::kIs:
      return value + " = ANY(" + list + ")";
    case FilterOp::kIsNot:
      return "NOT (" + value + " = ANY(" + list + "))";
    case FilterOp::kContains:
      return contains;
    case FilterOp::kContainsNot:
      return "NOT " + contains;
    case FilterOp::kMatches:
    case FilterOp::kMatchesNot:
      break;
  }
  throw Error("a matches filter reached the SQL unresolved");
}

// A day whose stored visits are used with what changed since they were made.
struct LiveDay {
  sys_days day;
  VisitChanges changes;
};

struct DaySplit {
  std::vector<sys_days> folded;  // final: rollups and visits are complete
  std::vector<LiveDay> live;     // folded, not final: stored visits and their changes since
  std::vector<sys_days> raw;     // every other day of the range
  bool foldedHavePages = true;   // every final day has its page breakdowns (0013)
  bool imported = false;         // some day of the range was imported as aggregates (0017)
};

using BacklogHook = std::function<void(const std::string&, std::int64_t)>;
// Read and replaced with the atomic operations of shared_ptr only.
std::shared_ptr<const BacklogHook>& backlogHookSlot() {
  static std::shared_ptr<const BacklogHook> slot;
  return slot;
}

DaySplit splitDays(db::Connection& conn, const Query& q) {
  std::map<sys_days, aggregation::DayState> states;
  for (auto& s : aggregation::dayStates(conn, q.websiteId, q.range.from, q.range.to)) {
    states.emplace(s.day, std::move(s));
  }
  DaySplit split;
  if (q.withImported && util::canonicalUuid(q.websiteId)) {
    split.imported =
        conn.execArgs(
                "SELECT EXISTS (SELECT 1 FROM imported_days WHERE website_id = $1::uuid"
                " AND aggregate AND date BETWEEN $2::date AND $3::date)",
                q.websiteId, util::formatDate(q.range.from), util::formatDate(q.range.to))
            .getBool(0, 0);
  }
  std::int64_t backlog = 0;
  for (sys_days d = q.range.from; d <= q.range.to; d += days{1}) {
    const auto it = states.find(d);
    if (it != states.end() && it->second.final) {
      split.folded.push_back(d);
      split.foldedHavePages = split.foldedHavePages && it->second.pageBreakdowns;
    } else if (it != states.end() && !it->second.seen.empty()) {
      split.live.push_back({d, visitChanges(conn, q.websiteId, d, q.timeZone, it->second.seen)});
      backlog += split.live.back().changes.newEvents;
    } else {
      split.raw.push_back(d);
    }
  }
  if (backlog >= kLiveBacklogEvents) {
    if (const auto hook = std::atomic_load(&backlogHookSlot())) (*hook)(q.websiteId, backlog);
  }
  return split;
}

// The visit rows of the days of `split`: stored ones for final days, stored ones with their
// changes for live days, computed ones for the others.
std::string visitRows(const Query& q, const DaySplit& split, Sql& sql) {
  if (split.folded.empty() && split.live.empty() && split.raw.empty()) {
    return fmt::format("SELECT {} FROM visits WHERE false", kVisitColumns);
  }
  const std::string website = sql.param(q.websiteId) + "::uuid";
  std::vector<std::string> parts;
  if (!split.folded.empty()) {
    parts.push_back(
        fmt::format("SELECT {} FROM visits WHERE website_id = {} AND date = ANY({}::date[])",
                    kVisitColumns, website, sql.param(dateList(split.folded))));
  }
  const ParamFn param = [&sql](std::string value) { return sql.param(std::move(value)); };
  for (const auto& live : split.live) {
    // The zone only where it is used: PostgreSQL cannot type a parameter no statement uses.
    const std::string zone = live.changes.empty() ? "NULL" : sql.param(q.timeZone) + "::text";
    parts.push_back(currentVisitRowsSql(
        live.changes, website, sql.param(util::formatDate(live.day)) + "::date", zone, param));
  }
  const auto& raw = split.raw;
  if (!raw.empty()) {
    const std::string zone = sql.param(q.timeZone) + "::text";
    // One time range per run of consecutive days: index ranges of the primary key.
    std::vector<std::string> ranges;
    for (std::size_t i = 0; i < raw.size();) {
      std::size_t j = i;
      while (j + 1 < raw.size() && raw[j + 1] == raw[j] + days{1}) ++j;
      ranges.push_back(fmt::format(
          "(ev.ts >= ({0}::date)::timestamp AT TIME ZONE {2}"
          " AND ev.ts < ({1}::date + 1)::timestamp AT TIME ZONE {2})",
          sql.param(util::formatDate(raw[i])), sql.param(util::formatDate(raw[j])), zone));
      i = j + 1;
    }
    parts.push_back(fmt::format(
        "SELECT * FROM ({}) r({})",
        visitRowsSql("ev.website_id = " + website + " AND (" + join(ranges, " OR ") + ")", zone),
        kVisitColumns));
  }
  if (parts.size() == 1) return parts[0];
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += " UNION ALL ";
    out += "(" + parts[i] + ")";
  }
  return out;
}

const Dim* eventLevelDimension(const Query& q) {
  const Dim* found = nullptr;
  for (const auto& d : q.dimensions) {
    if (d.kind == DimensionKind::kEvent || d.name == "time:hour") {
      if (found) {
        throw InvalidInput("dimensions",
                           "at most one of the event dimensions (page, event_type, prop:…) and "
                           "time:hour can be asked for at once");
      }
      found = &d;
    }
  }
  return found;
}

std::string timeColumn(const std::string& dim, const std::string& dateColumn) {
  if (dim == "time:day") return dateColumn;
  if (dim == "time:week") return "date_trunc('week', " + dateColumn + ")::date";
  return "date_trunc('month', " + dateColumn + ")::date";
}

constexpr const char* kSums =
    "visitors, visits, pageviews, events, bounces, duration_ms, unrated_visits";

// The conditions of `q`'s filters: on a visit row v (visit dimensions), and on one of its events
// s (event dimensions; all of them must hold for the same event).
std::pair<std::vector<std::string>, std::vector<std::string>> filterConditions(const Query& q,
                                                                               Sql& sql) {
  std::vector<std::string> visit;
  std::vector<std::string> event;
  for (const auto& f : q.filters) {
    if (f.dimension.kind == DimensionKind::kVisit) {
      visit.push_back(predicate(visitColumn(f.dimension.name), f, sql));
    } else {
      event.push_back(predicate(eventColumn(f.dimension, sql), f, sql));
    }
  }
  return {std::move(visit), std::move(event)};
}

// Per day and dimension value, the sums of the visit rows `rows` (a relation of kVisitColumns),
// filtered and grouped as `q` asks: columns day, d0…, then kSums.
std::string visitSums(const Query& q, const std::string& rows, Sql& sql) {
  auto [where, eventWhere] = filterConditions(q, sql);
  const std::string eventCondition = eventWhere.empty() ? "true" : join(eventWhere, " AND ");
  const Dim* eventDim = eventLevelDimension(q);

  std::string lateral;
  std::string pv = "v.pageviews";
  std::string ev = "v.events";
  std::string counted = "true";
  if (eventDim && eventDim->name == "time:hour") {
    const std::string zone = sql.param(q.timeZone) + "::text";
    // Events in their own hour; the visit, with its bounce and duration, in the hour it started.
    lateral = fmt::format(
        " CROSS JOIN LATERAL (SELECT h.value, sum(h.pv) AS pv, sum(h.ev) AS ev,"
        " bool_or(h.start) AS counted FROM (SELECT date_trunc('hour', v.started_at + s.ms *"
        " interval '1 millisecond', {0}) AS value, count(*) FILTER (WHERE s.type = 'pageview')"
        " AS pv, count(*) AS ev, false AS start FROM {1} WHERE {2} GROUP BY 1"
        " UNION ALL SELECT date_trunc('hour', v.started_at, {0}), 0, 0, true) h"
        " GROUP BY h.value) x",
        zone, kUnnest, eventCondition);
    if (!eventWhere.empty()) {
      where.push_back(fmt::format("EXISTS (SELECT 1 FROM {} WHERE {})", kUnnest, eventCondition));
    }
    pv = "x.pv";
    ev = "x.ev";
    counted = "x.counted";
  } else if (eventDim) {
    const std::string column = eventColumn(*eventDim, sql);
    lateral = fmt::format(
        " CROSS JOIN LATERAL (SELECT {0} AS value, count(*) FILTER (WHERE s.type = 'pageview')"
        " AS pv, count(*) AS ev FROM {1} WHERE {2} AND {0} IS NOT NULL GROUP BY 1) x",
        column, kUnnest, eventCondition);
    pv = "x.pv";
    ev = "x.ev";
  } else if (!eventWhere.empty()) {
    lateral = fmt::format(
        " CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE s.type = 'pageview') AS pv,"
        " count(*) AS ev FROM {} WHERE {}) x",
        kUnnest, eventCondition);
    where.push_back("x.ev > 0");
    pv = "x.pv";
    ev = "x.ev";
  }

  std::vector<std::string> dims;
  for (const auto& d : q.dimensions) {
    std::string column;
    if (&d == eventDim) {
      column = "x.value";
    } else if (d.kind == DimensionKind::kTime) {
      column = timeColumn(d.name, "v.date");
    } else {
      column = visitColumn(d.name);
      if (missingIsLeftOut(d.name)) {
        if (q.keepMissing) {
          column = "coalesce(" + column + ", '')";
        } else {
          where.push_back(column + " IS NOT NULL");
        }
      }
    }
    dims.push_back(column);
  }
  std::string select = "v.date AS day";
  for (std::size_t i = 0; i < dims.size(); ++i) select += fmt::format(", {} AS d{}", dims[i], i);
  std::string group = "v.date";
  for (std::size_t i = 0; i < dims.size(); ++i) group += fmt::format(", d{}", i);
  return fmt::format(
      "SELECT {0}, count(DISTINCT v.visitor_id) FILTER (WHERE {2} > 0) AS visitors,"
      " count(*) FILTER (WHERE {3}) AS visits, sum({1}) AS pageviews, sum({2}) AS events,"
      " count(*) FILTER (WHERE {3} AND v.pageviews < 2 AND v.interactive = 0) AS bounces,"
      " coalesce(sum((extract(epoch FROM v.ended_at - v.started_at) * 1000)::bigint)"
      " FILTER (WHERE {3}), 0) AS duration_ms, 0 AS unrated_visits"
      " FROM ({4}) v{5}{6} GROUP BY {7}",
      select, pv, ev, counted, rows, lateral,
      where.empty() ? std::string() : " WHERE " + join(where, " AND "), group);
}

// Dimensions whose pages the fold breaks down per value (page_breakdown_daily, 0013).
bool hasPageBreakdown(const std::string& dim) {
  return dim == "country" || dim == "source" || dim == "channel" || dim == "utm_campaign" ||
         dim.rfind("prop:", 0) == 0;
}

// The rollup rows answering `q` for the folded days, or nullopt when no rollup holds its answer.
// `pages`: every one of those days has its page breakdowns.
std::optional<std::string> rollupSums(const Query& q, const std::vector<sys_days>& folded,
                                      bool pages, Sql& sql) {
  if (q.filters.size() > 1) return std::nullopt;
  // The rollups leave visits without a value of these dimensions out.
  for (const auto& d : q.dimensions) {
    if (q.keepMissing && missingIsLeftOut(d.name)) return std::nullopt;
  }
  const Filter* filter = q.filters.empty() ? nullptr : &q.filters[0];
  if (filter && filter->op != FilterOp::kIs) return std::nullopt;
  if (filter && missingIsLeftOut(filter->dimension.name) &&
      std::find(filter->values.begin(), filter->values.end(), "") != filter->values.end()) {
    return std::nullopt;
  }
  const Dim* grouped = nullptr;  // the one non-day dimension
  for (const auto& d : q.dimensions) {
    if (d.kind == DimensionKind::kTime && d.name != "time:hour") continue;
    if (grouped) return std::nullopt;
    grouped = &d;
  }
  // A breakdown filtered on its own dimension is the rows of the values kept (the rows are what
  // a filter on each value gives); any other filter of a breakdown is in no rollup, and neither
  // is a filter on several values without a breakdown (visitors would count twice).
  const bool sameDimension =
      grouped && filter && grouped->name != "time:hour" && grouped->name == filter->dimension.name;
  // Pages under one value of a visit dimension the fold breaks them down by.
  const bool pagesUnder = grouped && filter && pages && grouped->name == "page" &&
                          hasPageBreakdown(filter->dimension.name) && filter->values.size() == 1;
  if (grouped && filter && !sameDimension && !pagesUnder) return std::nullopt;
  if (filter && !sameDimension && filter->values.size() != 1) return std::nullopt;

  const std::string website = sql.param(q.websiteId) + "::uuid";
  const std::string dates = sql.param(dateList(folded)) + "::date[]";
  std::string table;
  std::string dateColumn = "date";
  std::string condition;
  std::string groupedColumn;
  std::string sums = "visitors, visits, pageviews, events, bounces, duration_ms, 0";
  if (grouped && grouped->name == "time:hour") {
    const std::string zone = sql.param(q.timeZone) + "::text";
    table = "hourly_summary";
    dateColumn = "(hour AT TIME ZONE " + zone + ")::date";
    condition = "website_id = " + website + " AND " + dateColumn + " = ANY(" + dates + ")";
    groupedColumn = "hour";
    sums = "visitors, visits, views, events, bounces, duration_ms, 0";
  } else if (pagesUnder) {
    const std::string value = sql.param(filter->values[0]);
    table = "page_breakdown_daily";
    condition = "website_id = " + website +
                " AND dimension = " + sql.param(filter->dimension.name) +
                " AND mp_rollup_key(value) = mp_rollup_key(" + value + ") AND value = " + value +
                " AND date = ANY(" + dates + ")";
    groupedColumn = "page";
  } else if (grouped || filter) {
    const Dim& dim = grouped ? *grouped : filter->dimension;
    table = "breakdown_daily";
    condition = "website_id = " + website + " AND dimension = " + sql.param(dim.name) +
                " AND date = ANY(" + dates + ")";
    if (filter) {
      const std::string values = sql.param(db::arrayLiteral(filter->values)) + "::text[]";
      condition += " AND mp_rollup_key(value) = ANY(ARRAY(SELECT mp_rollup_key(x) FROM unnest(" +
                   values + ") AS x)) AND value = ANY(" + values + ")";
    }
    if (grouped) groupedColumn = "value";
  } else {
    table = "event_summary";
    condition = "website_id = " + website + " AND date = ANY(" + dates + ")";
    sums = "unique_visitors, visits, page_views, events, bounces, duration_ms, 0";
  }
  std::string select = dateColumn + " AS day";
  for (std::size_t i = 0; i < q.dimensions.size(); ++i) {
    const Dim& d = q.dimensions[i];
    const std::string column = &d == grouped ? groupedColumn : timeColumn(d.name, dateColumn);
    select += fmt::format(", {} AS d{}", column, i);
  }
  return fmt::format("SELECT {}, {} FROM {} WHERE {}", select, sums, table, condition);
}

std::string orderBy(const Query& q) {
  const auto metricSql = [](Metric m) -> std::string {
    switch (m) {
      case Metric::kVisitors:
        return "sum(visitors)";
      case Metric::kVisits:
        return "sum(visits)";
      case Metric::kPageviews:
        return "sum(pageviews)";
      case Metric::kEvents:
        return "sum(events)";
      case Metric::kViewsPerVisit:
        return "sum(pageviews)::numeric / nullif(sum(visits), 0)";
      case Metric::kBounceRate:
        return "sum(bounces)::numeric / nullif(sum(visits) - sum(unrated_visits), 0)";
      case Metric::kVisitDuration:
        return "sum(duration_ms)::numeric / nullif(sum(visits) - sum(unrated_visits), 0)";
      case Metric::kConversionRate:
        break;
    }
    return "1";
  };
  const auto dimIndex = [&q](const Dim& d) {
    for (std::size_t i = 0; i < q.dimensions.size(); ++i) {
      if (q.dimensions[i] == d) return static_cast<int>(i);
    }
    throw InvalidInput("order_by",
                       "order_by names " + d.name + ", which is not a dimension asked for");
  };
  std::vector<std::string> keys;
  std::vector<Order> order = q.orderBy;
  if (order.empty()) {
    const bool timed = std::any_of(q.dimensions.begin(), q.dimensions.end(),
                                   [](const Dim& d) { return d.kind == DimensionKind::kTime; });
    if (timed) {
      for (const auto& d : q.dimensions) {
        if (d.kind == DimensionKind::kTime) order.push_back({std::nullopt, d, false});
      }
    } else if (!q.metrics.empty()) {
      order.push_back({q.metrics.front(), std::nullopt, true});
    }
  }
  for (const auto& o : order) {
    const std::string dir = o.descending ? " DESC NULLS LAST" : " ASC NULLS FIRST";
    if (o.metric == Metric::kConversionRate) {
      // Known only once the rows without the goal are counted: ordered by the converted
      // visitors instead, which is the same order within one base.
      keys.push_back("sum(visitors)" + dir);
    } else if (o.metric) {
      keys.push_back(metricSql(*o.metric) + dir);
    } else if (o.dimension) {
      keys.push_back(fmt::format("d{}{}", dimIndex(*o.dimension), dir));
    }
  }
  // Ties in byte order of the values, then the day columns: the same answer every time.
  for (std::size_t i = 0; i < q.dimensions.size(); ++i) {
    keys.push_back(q.dimensions[i].kind == DimensionKind::kTime
                       ? fmt::format("d{}", i)
                       : fmt::format("d{}::text COLLATE \"C\"", i));
  }
  return keys.empty() ? std::string() : " ORDER BY " + join(keys, ", ");
}

std::string dimensionText(const Dim& d, std::size_t i) {
  if (d.name == "time:hour") {
    return fmt::format("to_char(d{} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", i);
  }
  return fmt::format("d{}::text", i);
}

// The dimensions imported aggregates are kept by (0017_imports.sql); '' is the day's totals.
bool importedDimension(const std::string& dim) {
  static const std::set<std::string, std::less<>> kDimensions = {
      "page",       "entry_page", "exit_page",    "source",   "referrer",
      "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
      "country",    "browser",    "os",           "device",   "event_type"};
  return kDimensions.count(dim) > 0;
}

// How a query reads imported aggregates: the one dimension whose rows answer it, or why none
// can.
struct ImportedPlan {
  std::string dimension;  // "" for the day's totals
  const Dim* grouped = nullptr;
  std::optional<std::size_t> filter;  // the index of the filter the rows are read under
  std::string reason;                 // not empty: the aggregates cannot answer the query
};

// An `event_type is pageview` filter: what a page goal adds to its page filter.
bool pageviewsFilter(const Filter& f) {
  return f.dimension.name == "event_type" && f.op == FilterOp::kIs &&
         f.values == std::vector<std::string>{"pageview"};
}

ImportedPlan planImported(const Query& q) {
  ImportedPlan plan;
  for (const auto& d : q.dimensions) {
    if (d.kind == DimensionKind::kTime) {
      if (d.name == "time:hour") {
        plan.reason = "imported days are daily aggregates: they have no hours";
        return plan;
      }
      continue;
    }
    if (plan.grouped) {
      plan.reason = "imported aggregates break the day down by one dimension at a time";
      return plan;
    }
    if (!importedDimension(d.name)) {
      plan.reason = "imported aggregates have no " + d.name + " breakdown";
      return plan;
    }
    plan.grouped = &d;
  }
  // The page rows of imported aggregates count page views: a page filter's pageviews filter
  // beside it (a page goal) holds for them already.
  std::vector<std::size_t> filters;
  for (std::size_t i = 0; i < q.filters.size(); ++i) filters.push_back(i);
  if (q.filters.size() == 2) {
    for (std::size_t i = 0; i < 2; ++i) {
      if (pageviewsFilter(q.filters[i]) && q.filters[1 - i].dimension.name == "page") {
        filters = {1 - i};
      }
    }
  }
  if (filters.size() > 1) {
    plan.reason = "imported aggregates cannot be filtered on more than one dimension";
    return plan;
  }
  if (!filters.empty()) {
    const Filter& f = q.filters[filters[0]];
    if (!importedDimension(f.dimension.name)) {
      plan.reason = "imported aggregates cannot be filtered on " + f.dimension.name;
      return plan;
    }
    if (plan.grouped && plan.grouped->name != f.dimension.name) {
      plan.reason = "imported aggregates cannot break down by " + plan.grouped->name +
                    " what is filtered on " + f.dimension.name;
      return plan;
    }
    if (!plan.grouped && (f.op != FilterOp::kIs || f.values.size() != 1)) {
      plan.reason =
          "the visitors of imported aggregates can be filtered on one value (is) only: visitors "
          "of several values cannot be added up";
      return plan;
    }
    plan.filter = filters[0];
  }
  plan.dimension = plan.grouped  ? plan.grouped->name
                   : plan.filter ? q.filters[*plan.filter].dimension.name
                                 : std::string();
  return plan;
}

// The metrics of `q` that imported aggregates do not give under `plan`.
std::vector<Metric> importedUnavailable(const Query& q, const ImportedPlan& plan) {
  std::set<Metric> missing;
  // Only the day's totals and the custom events file count custom events.
  if (!plan.dimension.empty() && plan.dimension != "event_type") missing.insert(Metric::kEvents);
  if (plan.dimension == "page") {
    missing.insert({Metric::kBounceRate, Metric::kVisitDuration});
  } else if (plan.dimension == "event_type") {
    const bool pageviewsOnly = plan.filter && pageviewsFilter(q.filters[*plan.filter]);
    if (!pageviewsOnly) {
      missing = {Metric::kVisits, Metric::kViewsPerVisit, Metric::kBounceRate,
                 Metric::kVisitDuration};
    }
  }
  std::vector<Metric> out;
  for (const auto m : q.metrics) {
    if (missing.count(m)) out.push_back(m);
  }
  return out;
}

// The imported aggregate rows answering `q` (its matches filters resolved) as `plan` reads
// them: columns day, d0…, then kSums. Bounces and durations an aggregate lacks count as zero,
// and its visits as unrated.
std::string importedSums(const Query& q, const ImportedPlan& plan, Sql& sql) {
  std::string condition = fmt::format(
      "website_id = {}::uuid AND dimension = {} AND date BETWEEN {}::date AND {}::date",
      sql.param(q.websiteId), sql.param(plan.dimension), sql.param(util::formatDate(q.range.from)),
      sql.param(util::formatDate(q.range.to)));
  if (plan.filter) condition += " AND " + predicate("value", q.filters[*plan.filter], sql);
  std::string select = "date AS day";
  for (std::size_t i = 0; i < q.dimensions.size(); ++i) {
    const Dim& d = q.dimensions[i];
    select += fmt::format(", {} AS d{}",
                          d.kind == DimensionKind::kTime ? timeColumn(d.name, "date") : "value", i);
  }
  return fmt::format(
      "SELECT {}, visitors, visits, pageviews, events, coalesce(bounces, 0),"
      " coalesce(duration_ms, 0), CASE WHEN bounces IS NULL OR duration_ms IS NULL THEN visits"
      " ELSE 0 END FROM imported_daily WHERE {}",
      select, condition);
}

// Replaces each matches / matches_not filter by is / is_not over the values of its dimension in
// the range that RE2 finds the pattern in.
Query resolveMatches(db::Connection& conn, Query q, const DaySplit& split) {
  for (auto& f : q.filters) {
    if (f.op != FilterOp::kMatches && f.op != FilterOp::kMatchesNot) continue;
    std::vector<std::unique_ptr<RE2>> patterns;
    for (const auto& text : f.values) {
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_unique<RE2>(text, options);
      if (!re->ok()) {
        throw InvalidInput("filters",
                           "not a regular expression (RE2 syntax): " + text + ": " + re->error());
      }
      patterns.push_back(std::move(re));
    }
    Sql sql;
    const std::string rows = visitRows(q, split, sql);
    std::string values;
    if (f.dimension.kind == DimensionKind::kVisit) {
      values = fmt::format("SELECT DISTINCT coalesce({}, '') FROM ({}) v",
                           visitColumn(f.dimension.name), rows);
    } else {
      const std::string column = eventColumn(f.dimension, sql);
      values = fmt::format("SELECT DISTINCT coalesce({}, '') FROM ({}) v CROSS JOIN LATERAL {}",
                           column, rows, kUnnest);
    }
    if (split.imported && importedDimension(f.dimension.name)) {
      values += fmt::format(
          " UNION SELECT value FROM imported_daily WHERE website_id = {}::uuid AND dimension = {}"
          " AND date BETWEEN {}::date AND {}::date",
          sql.param(q.websiteId), sql.param(f.dimension.name),
          sql.param(util::formatDate(q.range.from)), sql.param(util::formatDate(q.range.to)));
    }
    auto found = conn.exec(values, sql.params());
    std::vector<std::string> matching;
    for (int r = 0; r < found.rows(); ++r) {
      const std::string value(found.get(r, 0));
      for (const auto& re : patterns) {
        if (RE2::PartialMatch(value, *re)) {
          matching.push_back(value);
          break;
        }
      }
    }
    f.op = f.op == FilterOp::kMatches ? FilterOp::kIs : FilterOp::kIsNot;
    f.values = std::move(matching);
  }
  return q;
}

// The answer over the days of `split` (those of the query's range, or some of them).
std::vector<Row> answerRowsOver(db::Connection& conn, const Query& query, const DaySplit& split) {
  for (const auto& f : query.filters) {
    if (f.dimension.kind == DimensionKind::kTime) {
      throw InvalidInput("filters", "time dimensions cannot be filtered on; use the date range");
    }
    if (f.values.empty()) throw InvalidInput("filters", "a filter needs at least one value");
  }
  eventLevelDimension(query);  // throws for two of them
  const Query q = resolveMatches(conn, query, split);

  Sql sql;
  std::vector<std::string> parts;
  if (split.imported) {
    // Planned on the query as asked: a matches filter is not an `is` of one value, whatever
    // it resolved to.
    const ImportedPlan plan = planImported(query);
    if (plan.reason.empty()) parts.push_back(importedSums(q, plan, sql));
  }
  if (!split.folded.empty()) {
    if (auto rollup = rollupSums(q, split.folded, split.foldedHavePages, sql)) {
      parts.push_back(*rollup);
    } else {
      parts.push_back(visitSums(q, visitRows(q, DaySplit{split.folded, {}, {}}, sql), sql));
    }
  }
  if (!split.live.empty() || !split.raw.empty()) {
    parts.push_back(visitSums(q, visitRows(q, DaySplit{{}, split.live, split.raw}, sql), sql));
  }

  std::string select;
  std::string group;
  for (std::size_t i = 0; i < q.dimensions.size(); ++i) {
    select += dimensionText(q.dimensions[i], i) + ", ";
    group += (i ? ", " : "") + fmt::format("d{}", i);
  }
  std::string text = fmt::format(
      "SELECT {}coalesce(sum(visitors), 0)::bigint, coalesce(sum(visits), 0)::bigint,"
      " coalesce(sum(pageviews), 0)::bigint, coalesce(sum(events), 0)::bigint,"
      " coalesce(sum(bounces), 0)::bigint, coalesce(sum(duration_ms), 0)::bigint,"
      " coalesce(sum(unrated_visits), 0)::bigint"
      " FROM ({}) b(day{}, {})",
      select,
      parts.empty() ? "SELECT NULL::date, 0, 0, 0, 0, 0, 0, 0 WHERE false"
                    : join(parts, " UNION ALL "),
      [&] {
        std::string cols;
        for (std::size_t i = 0; i < q.dimensions.size(); ++i) cols += fmt::format(", d{}", i);
        return cols;
      }(),
      kSums);
  if (!group.empty()) text += " GROUP BY " + group;
  text += orderBy(q);
  text += fmt::format(" LIMIT {} OFFSET {}", q.limit, q.offset);

  auto result = conn.exec(text, sql.params());
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(result.rows()));
  const int n = static_cast<int>(q.dimensions.size());
  for (int r = 0; r < result.rows(); ++r) {
    Row row;
    for (int i = 0; i < n; ++i) row.dimensions.emplace_back(result.get(r, i));
    row.totals = {result.getInt(r, n),     result.getInt(r, n + 1), result.getInt(r, n + 2),
                  result.getInt(r, n + 3), result.getInt(r, n + 4), result.getInt(r, n + 5)};
    row.totals.unratedVisits = result.getInt(r, n + 6);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<Row> answerRows(db::Connection& conn, const Query& query) {
  return answerRowsOver(conn, query, splitDays(conn, query));
}

// The where-clause of `q`'s filters over a visit row v: visit filters on its attributes, event
// filters as "one of its events matches them all".
std::vector<std::string> visitFilters(const Query& q, Sql& sql) {
  auto [where, eventWhere] = filterConditions(q, sql);
  if (!eventWhere.empty()) {
    where.push_back(
        fmt::format("EXISTS (SELECT 1 FROM {} WHERE {})", kUnnest, join(eventWhere, " AND ")));
  }
  return where;
}

// The most rows a comparison period answers (paging applies to the query's own rows only).
constexpr int kComparisonRows = 100000;

// One read-only snapshot, begun with its settings in one round trip: count(DISTINCT) sorts each
// group in memory, and planning JIT costs more than these statements take.
const db::TransactionOptions kSnapshot{
    db::Isolation::kRepeatableRead, true, {{"work_mem", "'32MB'"}, {"jit", "off"}}};

}  // namespace

std::vector<Totals> funnel(db::Connection& conn, const Query& query,
                           const std::vector<FunnelStep>& steps,
                           const std::optional<std::string>& funnelId) {
  std::vector<Totals> out(steps.size());
  if (steps.empty()) return out;
  db::Transaction tx(conn, kSnapshot);
  DaySplit split = splitDays(conn, query);
  const Query q = resolveMatches(conn, query, split);
  Sql sql;
  // Final days with the funnel's rows (0011) are read from them when nothing is filtered.
  std::vector<sys_days> rolledUp;
  if (funnelId && q.filters.empty() && !split.folded.empty()) {
    auto have = conn.execArgs(
        "SELECT date::text FROM funnel_daily WHERE website_id = $1::uuid"
        " AND funnel_id = $2::uuid AND date = ANY($3::date[]) AND step = 1",
        q.websiteId, *funnelId, dateList(split.folded));
    std::set<sys_days> with;
    for (int r = 0; r < have.rows(); ++r) {
      if (auto d = util::parseDate(have.get(r, 0))) with.insert(*d);
    }
    std::vector<sys_days> rest;
    for (auto d : split.folded) (with.count(d) ? rolledUp : rest).push_back(d);
    split.folded = std::move(rest);
  }
  std::string rollup;
  if (!rolledUp.empty()) {
    rollup = fmt::format(
        " UNION ALL SELECT date, step, visitors, visits FROM funnel_daily"
        " WHERE website_id = {}::uuid AND funnel_id = {}::uuid AND date = ANY({}::date[])",
        sql.param(q.websiteId), sql.param(*funnelId), sql.param(dateList(rolledUp)));
  }
  const std::string rows = visitRows(q, split, sql);
  std::vector<std::string> kinds;
  std::vector<std::string> targets;
  for (const auto& s : steps) {
    kinds.emplace_back(s.page ? "page" : "event");
    targets.push_back(s.target);
  }
  std::vector<std::string> where = visitFilters(q, sql);
  // Only visits holding the first step can reach any: a cheap test before the walk.
  const std::string first = sql.param(steps[0].target);
  where.push_back(steps[0].page ? fmt::format("EXISTS (SELECT 1 FROM unnest(v.step_types,"
                                              " v.step_pages) AS u(t, p) WHERE u.t = 'pageview'"
                                              " AND u.p ~ {})",
                                              first)
                                : fmt::format("{} = ANY(v.step_types)", first));
  const std::string text = fmt::format(
      "SELECT x.step, sum(x.visitors)::bigint, sum(x.visits)::bigint FROM ("
      " SELECT v.date, s.step, count(DISTINCT v.visitor_id) AS visitors, count(*) AS visits"
      " FROM ({0}) v CROSS JOIN LATERAL generate_series(1, mp_funnel_reached(v.step_types,"
      " v.step_pages, {1}::text[], {2}::text[])) AS s(step) WHERE {3}"
      " GROUP BY v.date, s.step{4}) x GROUP BY x.step ORDER BY x.step",
      rows, sql.param(db::arrayLiteral(kinds)), sql.param(db::arrayLiteral(targets)),
      join(where, " AND "), rollup);
  auto result = conn.exec(text, sql.params());
  for (int r = 0; r < result.rows(); ++r) {
    const auto step = static_cast<std::size_t>(result.getInt(r, 0));
    if (step < 1 || step > out.size()) continue;
    out[step - 1].visitors = result.getInt(r, 1);
    out[step - 1].visits = result.getInt(r, 2);
  }
  tx.commit();
  return out;
}

std::vector<Totals> goalTotals(db::Connection& conn, const Query& query,
                               const std::vector<GoalQuestion>& goals) {
  std::vector<Totals> out(goals.size());
  if (goals.empty()) return out;
  db::Transaction tx(conn, kSnapshot);
  const DaySplit split = splitDays(conn, query);
  // Final days with a goal's row (0012) are read from it when nothing else is filtered.
  std::map<std::string, std::set<sys_days>> covered;
  if (query.filters.empty() && !split.folded.empty()) {
    std::vector<std::string> ids;
    for (const auto& g : goals) ids.push_back(g.goalId);
    auto rows = conn.execArgs(
        "SELECT goal_id::text, date::text, visitors, events FROM goal_daily"
        " WHERE website_id = $1::uuid AND goal_id = ANY($2::uuid[]) AND date = ANY($3::date[])",
        query.websiteId, db::arrayLiteral(ids), dateList(split.folded));
    std::map<std::string, Totals> sums;
    for (int r = 0; r < rows.rows(); ++r) {
      const std::string id(rows.get(r, 0));
      if (auto d = util::parseDate(rows.get(r, 1))) covered[id].insert(*d);
      sums[id].visitors += rows.getInt(r, 2);
      sums[id].events += rows.getInt(r, 3);
    }
    for (std::size_t i = 0; i < goals.size(); ++i) out[i] = sums[goals[i].goalId];
  }
  for (std::size_t i = 0; i < goals.size(); ++i) {
    const auto& days = covered[goals[i].goalId];
    DaySplit rest = split;
    std::erase_if(rest.folded, [&days](sys_days d) { return days.count(d) > 0; });
    if (rest.folded.empty() && rest.live.empty() && rest.raw.empty() && !rest.imported) continue;
    Query q = query;
    for (const auto& f : goals[i].filters) q.filters.push_back(f);
    q.metrics = {Metric::kVisitors, Metric::kEvents};
    q.dimensions.clear();
    q.orderBy.clear();
    q.limit = 1;
    q.offset = 0;
    const auto rows = answerRowsOver(conn, q, rest);
    if (!rows.empty()) {
      out[i].visitors += rows.front().totals.visitors;
      out[i].events += rows.front().totals.events;
    }
  }
  tx.commit();
  return out;
}

namespace {

// conversion_rate: each row's visitors without the query's event filters (the goal), found by
// its dimension values.
void addBaseVisitors(db::Connection& conn, const Query& query, std::vector<Row>& rows) {
  Query base = query;
  base.filters.clear();
  for (const auto& f : query.filters) {
    if (f.dimension.kind != DimensionKind::kEvent) base.filters.push_back(f);
  }
  base.metrics = {Metric::kVisitors};
  base.orderBy.clear();
  base.limit = kComparisonRows;
  base.offset = 0;
  std::map<std::vector<std::string>, std::int64_t> visitors;
  for (const auto& row : answerRows(conn, base)) visitors[row.dimensions] = row.totals.visitors;
  for (auto& row : rows) {
    const auto it = visitors.find(row.dimensions);
    row.totals.baseVisitors = it == visitors.end() ? 0 : it->second;
  }
}

void checkConversionRate(const Query& q) {
  if (std::find(q.metrics.begin(), q.metrics.end(), Metric::kConversionRate) == q.metrics.end()) {
    return;
  }
  const bool goal = std::any_of(q.filters.begin(), q.filters.end(), [](const Filter& f) {
    return f.dimension.kind == DimensionKind::kEvent;
  });
  if (!goal) {
    throw InvalidInput("metrics",
                       "conversion_rate needs a goal: a filter on an event dimension (a goal, "
                       "event_type, page or prop:KEY) whose visitors are the converted ones");
  }
  for (const auto& d : q.dimensions) {
    if (d.kind == DimensionKind::kEvent) {
      throw InvalidInput("metrics",
                         "conversion_rate cannot be broken down by the event "
                         "dimension " +
                             d.name + "; use a visit dimension or time");
    }
  }
}

}  // namespace

std::optional<ImportedDays> importedDays(db::Connection& conn, const Query& query) {
  std::optional<DateRange> other;
  if (query.compare) other = comparisonRange(query.range, *query.compare);
  if (!util::canonicalUuid(query.websiteId)) return std::nullopt;
  const DateRange second = other.value_or(query.range);
  auto r = conn.execArgs(
      "SELECT count(*), min(date)::text, max(date)::text FROM imported_days"
      " WHERE website_id = $1::uuid AND aggregate AND (date BETWEEN $2::date AND $3::date"
      " OR date BETWEEN $4::date AND $5::date)",
      query.websiteId, util::formatDate(query.range.from), util::formatDate(query.range.to),
      util::formatDate(second.from), util::formatDate(second.to));
  if (r.getInt(0, 0) == 0) return std::nullopt;
  ImportedDays out;
  out.days = static_cast<int>(r.getInt(0, 0));
  out.first = util::parseDate(r.get(0, 1)).value_or(query.range.from);
  out.last = util::parseDate(r.get(0, 2)).value_or(query.range.to);
  if (!query.withImported) {
    out.reason = "the query asked without imported data";
    return out;
  }
  const ImportedPlan plan = planImported(query);
  out.included = plan.reason.empty();
  out.reason = plan.reason;
  if (out.included) out.unavailable = importedUnavailable(query, plan);
  return out;
}

void setLiveBacklogHook(
    std::function<void(const std::string& websiteId, std::int64_t events)> hook) {
  std::atomic_store(&backlogHookSlot(), hook ? std::make_shared<const BacklogHook>(std::move(hook))
                                             : std::shared_ptr<const BacklogHook>());
}

Answer run(db::Connection& conn, const Query& query) {
  checkConversionRate(query);
  const bool conversion = std::find(query.metrics.begin(), query.metrics.end(),
                                    Metric::kConversionRate) != query.metrics.end();
  db::Transaction tx(conn, kSnapshot);
  Answer answer;
  answer.rows = answerRows(conn, query);
  if (conversion) addBaseVisitors(conn, query, answer.rows);
  if (query.compare) {
    Query other = query;
    other.range = comparisonRange(query.range, *query.compare);
    other.compare.reset();
    // Every row of the other period, not its own top ones: the answer's rows look theirs up.
    other.limit = kComparisonRows;
    other.offset = 0;
    answer.comparisonRange = other.range;
    answer.comparison = answerRows(conn, other);
    if (conversion) addBaseVisitors(conn, other, *answer.comparison);
  }
  answer.imported = importedDays(conn, query);
  tx.commit();
  return answer;
}

}  // namespace mp::stats
