// Folding raw events into the rollup tables, one UTC day and one transaction at a time.
#include "aggregation/aggregator.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "db/array.hpp"
#include "stats/live_visits.hpp"
#include "stats/visit_sql.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::aggregation {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

// Parameters of every statement of a day's fold: $1 the day, $2 the websites (a uuid[] literal,
// all of one time zone), $3 their time zone.
//
// Rows of events on that day of the zone: the bounds are stable expressions, so they serve as
// index conditions on the primary key (website_id, ts, id) and prune month partitions.
constexpr const char* kDayCondition =
    "ev.website_id = ANY($2::uuid[])"
    " AND ev.ts >= ($1::date)::timestamp AT TIME ZONE $3::text"
    " AND ev.ts < ($1::date + 1)::timestamp AT TIME ZONE $3::text";

constexpr const char* kOfDay = "website_id = ANY($2::uuid[]) AND date = $1::date";

// Replacing, not upserting: a visit or value that lost its events (none can, but a re-fold after
// a manual cleanup might) must lose its row too. aggregation_runs is upserted instead (below).
std::vector<std::string> deletes() {
  return {
      fmt::format("DELETE FROM visits WHERE {}", kOfDay),
      fmt::format("DELETE FROM event_summary WHERE {}", kOfDay),
      fmt::format("DELETE FROM breakdown_daily WHERE {}", kOfDay),
      fmt::format("DELETE FROM funnel_daily WHERE {}", kOfDay),
      fmt::format("DELETE FROM goal_daily WHERE {}", kOfDay),
      fmt::format("DELETE FROM page_breakdown_daily WHERE {}", kOfDay),
      "DELETE FROM hourly_summary WHERE website_id = ANY($2::uuid[])"
      " AND hour >= ($1::date)::timestamp AT TIME ZONE $3::text"
      " AND hour < ($1::date + 1)::timestamp AT TIME ZONE $3::text",
  };
}

std::string visitsInsert() {
  return fmt::format("INSERT INTO visits ({}) {}", stats::kVisitColumns,
                     stats::visitRowsSql(kDayCondition, "$3::text"));
}

// The metrics of a set of visit rows `v` (stats::kVisitMetrics' order), for a GROUP BY.
constexpr const char* kVisitMetrics =
    "count(DISTINCT v.visitor_id), count(*), coalesce(sum(v.pageviews), 0),"
    " coalesce(sum(v.events), 0), count(*) FILTER (WHERE v.pageviews < 2 AND v.interactive = 0),"
    " coalesce(sum((extract(epoch FROM v.ended_at - v.started_at) * 1000)::bigint), 0)";

std::string summaryInsert() {
  return fmt::format(
      "WITH ins AS (INSERT INTO event_summary (website_id, date, unique_visitors, visits,"
      " page_views, events, bounces, duration_ms, unique_sessions, updated_at)"
      " SELECT v.website_id, $1::date, {}, count(DISTINCT v.session_id), now()"
      " FROM visits v WHERE v.website_id = ANY($2::uuid[]) AND v.date = $1::date"
      " GROUP BY v.website_id RETURNING events)"
      " SELECT coalesce(sum(events), 0)::bigint FROM ins",
      kVisitMetrics);
}

// Every step of the funnels `funnels` (a condition over funnels fu) on day $1 of their websites,
// from the stored visits of that day: a row per step, zeros included, so a day with rows is
// complete. Each visit is walked once per funnel (mp_funnel_reached(), 0009).
std::string funnelInsert(std::string_view funnels) {
  return fmt::format(
      "INSERT INTO funnel_daily (website_id, funnel_id, date, step, visitors, visits)"
      " WITH f AS (SELECT fu.website_id, fu.id, array_agg(g.kind ORDER BY fs.position) AS kinds,"
      " array_agg(coalesce(g.page_regex, g.target) ORDER BY fs.position) AS targets"
      " FROM funnels fu"
      " JOIN funnel_steps fs ON fs.website_id = fu.website_id AND fs.funnel_id = fu.id"
      " JOIN goals g ON g.website_id = fs.website_id AND g.id = fs.goal_id"
      " WHERE {} GROUP BY fu.website_id, fu.id),"
      " r AS (SELECT f.website_id, f.id, v.visitor_id,"
      " mp_funnel_reached(v.step_types, v.step_pages, f.kinds, f.targets) AS reached"
      " FROM f JOIN visits v ON v.website_id = f.website_id AND v.date = $1::date)"
      " SELECT f.website_id, f.id, $1::date, s.step, count(DISTINCT r.visitor_id),"
      " count(r.reached)"
      " FROM f CROSS JOIN LATERAL generate_series(1, array_length(f.kinds, 1)) AS s(step)"
      " LEFT JOIN r ON r.website_id = f.website_id AND r.id = f.id AND r.reached >= s.step"
      " GROUP BY f.website_id, f.id, s.step",
      funnels);
}

// Every goal of `goals` (a condition over goals g) on day $1 of its website, from the stored
// visits of that day: the distinct visitors with an event reaching it and the number of those
// events, a row even when none did. Page patterns are matched as the funnels match them
// (page_regex, read alike by PostgreSQL and RE2, 0009).
std::string goalInsert(std::string_view goals) {
  return fmt::format(
      "INSERT INTO goal_daily (website_id, goal_id, date, visitors, events)"
      " SELECT g.website_id, g.id, $1::date,"
      " count(DISTINCT v.visitor_id) FILTER (WHERE m.n > 0),"
      " coalesce(sum(m.n), 0) FROM goals g"
      " LEFT JOIN visits v ON v.website_id = g.website_id AND v.date = $1::date"
      " AND CASE WHEN g.kind = 'event' THEN g.target = ANY(v.step_types)"
      " ELSE 'pageview' = ANY(v.step_types) END"
      " LEFT JOIN LATERAL (SELECT count(*) AS n FROM unnest(v.step_types, v.step_pages) AS s(t, p)"
      " WHERE CASE WHEN g.kind = 'event' THEN s.t = g.target"
      " ELSE s.t = 'pageview' AND s.p ~ g.page_regex END) m ON true"
      " WHERE {} GROUP BY g.website_id, g.id",
      goals);
}

// The pages of day $1 of the websites `websites` (an SQL uuid[] expression) under each value of
// the visit dimensions country, source, channel and utm_campaign, and under each prop value
// (0013): every visit with the value, under each page its events have, with the counts of its
// events on that page; for a prop, only the events that have it count, and their pages.
std::string pageBreakdownInsert(std::string_view websites) {
  return fmt::format(
      "INSERT INTO page_breakdown_daily (website_id, date, dimension, value, page, visitors,"
      " visits, pageviews, events, bounces, duration_ms)"
      " SELECT v.website_id, $1::date, x.dimension, x.value, x.page,"
      " count(DISTINCT v.visitor_id), count(*), sum(x.pv), sum(x.ev),"
      " count(*) FILTER (WHERE v.pageviews < 2 AND v.interactive = 0),"
      " sum((extract(epoch FROM v.ended_at - v.started_at) * 1000)::bigint) FROM visits v"
      " CROSS JOIN LATERAL ("
      "SELECT d.dimension, d.value, p.page, p.pv, p.ev FROM (VALUES"
      " ('country', coalesce(v.country, '')), ('source', coalesce(v.source, '')),"
      " ('channel', coalesce(v.channel, '')), ('utm_campaign', v.utm_campaign))"
      " AS d(dimension, value) CROSS JOIN (SELECT s.page,"
      " count(*) FILTER (WHERE s.type = 'pageview') AS pv, count(*) AS ev"
      " FROM unnest(v.step_types, v.step_pages) AS s(type, page) GROUP BY s.page) p"
      " WHERE d.value IS NOT NULL"
      " UNION ALL SELECT 'prop:' || e.key, e.value, s.page,"
      " count(*) FILTER (WHERE s.type = 'pageview'), count(*)"
      " FROM unnest(v.step_types, v.step_pages, v.step_props) AS s(type, page, props)"
      " CROSS JOIN LATERAL jsonb_each_text(s.props) AS e WHERE e.value IS NOT NULL"
      " GROUP BY 1, 2, 3) x"
      " WHERE v.website_id = ANY({}) AND v.date = $1::date"
      " GROUP BY v.website_id, x.dimension, x.value, x.page",
      websites);
}

std::vector<std::string> rollupInserts() {
  return {
      // Hours: every event in its own hour of the zone (visitors: those of the visits with an
      // event in it), visits with their bounces and durations in the hour they started.
      "INSERT INTO hourly_summary (website_id, hour, visitors, views, events, visits, bounces,"
      " duration_ms)"
      " SELECT website_id, hour, max(visitors), sum(views), sum(events), sum(visits),"
      " sum(bounces), sum(duration_ms) FROM ("
      " SELECT v.website_id, date_trunc('hour', v.started_at + s.ms * interval '1 millisecond',"
      " $3::text) AS hour, count(DISTINCT v.visitor_id) AS visitors,"
      " count(*) FILTER (WHERE s.type = 'pageview') AS views, count(*) AS events, 0 AS visits,"
      " 0 AS bounces, 0 AS duration_ms"
      " FROM visits v CROSS JOIN LATERAL unnest(v.step_types, v.step_ms) AS s(type, ms)"
      " WHERE v.website_id = ANY($2::uuid[]) AND v.date = $1::date GROUP BY 1, 2"
      " UNION ALL SELECT v.website_id, date_trunc('hour', v.started_at, $3::text), 0, 0, 0,"
      " count(*), count(*) FILTER (WHERE v.pageviews < 2 AND v.interactive = 0),"
      " sum((extract(epoch FROM v.ended_at - v.started_at) * 1000)::bigint)"
      " FROM visits v WHERE v.website_id = ANY($2::uuid[]) AND v.date = $1::date GROUP BY 1, 2"
      ") h GROUP BY website_id, hour",
      // Visit dimensions: each visit under the value of its own attribute.
      fmt::format(
          "INSERT INTO breakdown_daily (website_id, date, dimension, value, visitors, visits,"
          " pageviews, events, bounces, duration_ms)"
          " SELECT v.website_id, $1::date, d.dimension, d.value, {} FROM visits v"
          " CROSS JOIN LATERAL (VALUES {}) AS d(dimension, value)"
          " WHERE v.website_id = ANY($2::uuid[]) AND v.date = $1::date AND d.value IS NOT NULL"
          " GROUP BY v.website_id, d.dimension, d.value",
          kVisitMetrics, stats::visitDimensionValuesSql("v")),
      // Event dimensions: each visit under every value one of its events has, with the counts
      // of those events.
      fmt::format(
          "INSERT INTO breakdown_daily (website_id, date, dimension, value, visitors, visits,"
          " pageviews, events, bounces, duration_ms)"
          " SELECT v.website_id, $1::date, m.dimension, m.value, count(DISTINCT v.visitor_id),"
          " count(*), sum(m.pageviews), sum(m.events),"
          " count(*) FILTER (WHERE v.pageviews < 2 AND v.interactive = 0),"
          " sum((extract(epoch FROM v.ended_at - v.started_at) * 1000)::bigint)"
          " FROM visits v CROSS JOIN LATERAL ({}) AS m"
          " WHERE v.website_id = ANY($2::uuid[]) AND v.date = $1::date"
          " GROUP BY v.website_id, m.dimension, m.value",
          stats::eventDimensionValuesSql("v")),
      pageBreakdownInsert("$2::uuid[]"),
      // The goals and funnels of these websites, as they are now.
      goalInsert("g.website_id = ANY($2::uuid[])"),
      funnelInsert("fu.website_id = ANY($2::uuid[])"),
      // Websites without events that day get a row too: the day is folded for them as well.
      // An upsert, not a delete and insert: a writer marking the row dirty after this snapshot
      // was taken makes it fail with a serialisation error (the day is then folded again), or
      // waits for this commit and marks the new row; a deleted row would let the mark vanish.
      // now() is the transaction's start, before its snapshot: what kSettleTime is measured
      // against. Rows in website order, as writers lock them, so the two never deadlock.
      // seen: this snapshot, which the visits just written hold every event of (0010).
      "INSERT INTO aggregation_runs (website_id, date, folded_at, events, dirty, seen,"
      " page_breakdowns)"
      " SELECT w.id, $1::date, now(), coalesce(s.events, 0), false, pg_current_snapshot(), true"
      " FROM websites w"
      " LEFT JOIN event_summary s ON s.website_id = w.id AND s.date = $1::date"
      " WHERE w.id = ANY($2::uuid[]) ORDER BY w.id"
      " ON CONFLICT (website_id, date) DO UPDATE SET folded_at = EXCLUDED.folded_at,"
      " events = EXCLUDED.events, dirty = false, seen = EXCLUDED.seen, page_breakdowns = true",
  };
}

// Releases the session lock however the run ends; a broken connection has lost it anyway.
class FoldLock {
 public:
  explicit FoldLock(db::Connection& conn) : conn_(conn) {}
  ~FoldLock() {
    try {
      conn_.execArgs("SELECT pg_advisory_unlock($1)", kFoldLockKey);
    } catch (...) {
    }
  }
  FoldLock(const FoldLock&) = delete;
  FoldLock& operator=(const FoldLock&) = delete;

 private:
  db::Connection& conn_;
};

// A concurrent writer marked a row this fold upserts (REPEATABLE READ), or a deadlock was broken.
bool isRetryable(const DbError& e) noexcept {
  return e.sqlstate() == "40001" || e.sqlstate() == "40P01";
}
constexpr int kDayAttempts = 5;

// Folds one day of their time zone for the websites of `websites` (a uuid[] literal, all in
// `zone`); returns the events folded.
std::int64_t foldDay(db::Connection& conn, sys_days day, const std::string& websites,
                     const std::string& zone) {
  static const std::vector<std::string> kDeletes = deletes();
  static const std::string kVisits = visitsInsert();
  static const std::string kSummary = summaryInsert();
  static const std::vector<std::string> kInserts = rollupInserts();
  for (int attempt = 1;; ++attempt) {
    try {
      // One snapshot for the visits and every rollup of the day, so they agree with each other
      // even while events keep arriving.
      db::Transaction tx(conn, db::Isolation::kRepeatableRead);
      // The websites still in `zone`, held so until the commit: a change of zone committed
      // before this snapshot leaves its website to the next run (in its new zone), and one
      // arriving now waits for this fold.
      const std::string held(
          conn.execArgs("SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM ("
                        "SELECT id FROM websites WHERE id = ANY($1::uuid[]) AND time_zone = $2"
                        " ORDER BY id FOR SHARE) w",
                        websites, zone)
              .get(0, 0));
      const db::Params params{util::formatDate(day), held, zone};
      const db::Params twoParams{util::formatDate(day), held};
      // PostgreSQL refuses parameters a statement does not use: $3 only where the zone matters.
      const auto run = [&](const std::string& sql) {
        return conn.exec(sql, sql.find("$3") != std::string::npos ? params : twoParams);
      };
      for (const auto& sql : kDeletes) run(sql);
      run(kVisits);
      const std::int64_t events = run(kSummary).getInt(0, 0);
      for (const auto& sql : kInserts) run(sql);
      tx.commit();
      return events;
    } catch (const DbError& e) {
      // The new snapshot of the next attempt holds the events whose mark got in the way.
      if (attempt >= kDayAttempts || !isRetryable(e)) throw;
    }
  }
}

FoldResult foldDays(db::Connection& conn, sys_days from, sys_days to,
                    const std::optional<std::string>& websiteId,
                    const std::function<void(sys_days, std::int64_t)>& progress) {
  // Read once the lock is held; websites created meanwhile are folded by the next run. A day is
  // one of each website's own zone: one fold per zone and day.
  auto zones = conn.execArgs(
      "SELECT time_zone, array_agg(id ORDER BY id)::text FROM websites"
      " WHERE $1::uuid IS NULL OR id = $1::uuid GROUP BY time_zone ORDER BY time_zone",
      websiteId);

  FoldResult result;
  for (sys_days day = from; day <= to; day += days{1}) {
    std::int64_t events = 0;
    for (int z = 0; z < zones.rows(); ++z) {
      events += foldDay(conn, day, std::string(zones.get(z, 1)), std::string(zones.get(z, 0)));
    }
    ++result.days;
    result.events += events;
    if (progress) progress(day, events);
  }
  return result;
}

// The final-day rule of 0003 over the aggregation_runs row `r` of the website `w` (its day ends
// at midnight of its zone); $1 is kSettleTime in seconds.
constexpr const char* kFinal =
    "NOT r.dirty AND r.folded_at >= (r.date + 1)::timestamp AT TIME ZONE w.time_zone"
    " + make_interval(secs => $1)";

int settleSeconds() {
  return static_cast<int>(std::chrono::seconds(kSettleTime).count());
}

// Folds the (day, zone, websites) rows of `pending` in order.
void foldPending(db::Connection& conn, const db::Result& pending) {
  for (int i = 0; i < pending.rows(); ++i) {
    const auto day = util::parseDate(pending.get(i, 0));
    if (day) foldDay(conn, *day, std::string(pending.get(i, 2)), std::string(pending.get(i, 1)));
  }
}

}  // namespace

FoldResult foldRange(db::Connection& conn, sys_days from, sys_days to,
                     std::optional<std::string> websiteId,
                     const std::function<void(sys_days, std::int64_t)>& progress) {
  if (from > to) {
    throw InvalidInput("from", "the range starts (" + util::formatDate(from) + ") after it ends (" +
                                   util::formatDate(to) + ")");
  }
  if (websiteId && !util::isUuid(*websiteId)) {
    throw InvalidInput("website", "not a website id: " + *websiteId);
  }
  conn.execArgs("SELECT pg_advisory_lock($1)", kFoldLockKey);
  FoldLock lock(conn);
  return foldDays(conn, from, to, websiteId, progress);
}

bool tryFoldRecent(db::Connection& conn) {
  if (!conn.execArgs("SELECT pg_try_advisory_lock($1)", kFoldLockKey).getBool(0, 0)) return false;
  FoldLock lock(conn);
  // Per day of the window (today in each website's zone, by the database's clock, as folded_at)
  // and zone, the websites whose day is not final: a row that is dirty or folded too early, or no
  // row at all since the website existed (a writer creates the row of an older day that receives
  // a late event).
  static const std::string kPending = fmt::format(
      "SELECT d.date::text, w.time_zone, array_agg(w.id ORDER BY w.id)::text"
      " FROM websites w"
      " CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE w.time_zone)::date - i AS date"
      " FROM generate_series(0, $2::int) AS g(i)) d"
      " LEFT JOIN aggregation_runs r ON r.website_id = w.id AND r.date = d.date"
      " WHERE (r.website_id IS NULL"
      " AND w.created_at < (d.date + 1)::timestamp AT TIME ZONE w.time_zone)"
      " OR (r.website_id IS NOT NULL AND NOT ({}))"
      " GROUP BY d.date, w.time_zone ORDER BY d.date, w.time_zone",
      kFinal);
  foldPending(conn, conn.execArgs(kPending, settleSeconds(), kRecentDays));

  // Older days marked dirty (after an upgrade that rebuilt the rollups, a change of time zone,
  // a late event): a batch per run, the most recent first, so history comes back from the
  // present backwards without one run holding the lock for long.
  static const std::string kBackfill =
      "SELECT r.date::text, w.time_zone, array_agg(w.id ORDER BY w.id)::text"
      " FROM aggregation_runs r JOIN websites w ON w.id = r.website_id"
      " WHERE r.dirty AND r.date < (now() AT TIME ZONE w.time_zone)::date - $1::int"
      " GROUP BY r.date, w.time_zone ORDER BY r.date DESC, w.time_zone LIMIT $2";
  foldPending(conn, conn.execArgs(kBackfill, kRecentDays, kBackfillDays));
  return true;
}

std::vector<sys_days> finalDays(db::Connection& conn, std::string_view websiteId,
                                std::optional<sys_days> from, std::optional<sys_days> to) {
  std::vector<sys_days> out;
  if (!util::isUuid(websiteId)) return out;
  static const std::string kSql = fmt::format(
      "SELECT r.date::text FROM aggregation_runs r JOIN websites w ON w.id = r.website_id"
      " WHERE r.website_id = $2::uuid"
      " AND ($3::date IS NULL OR r.date >= $3::date) AND ($4::date IS NULL OR r.date <= $4::date)"
      " AND {} ORDER BY r.date",
      kFinal);
  const auto text = [](const std::optional<sys_days>& day) -> std::optional<std::string> {
    if (!day) return std::nullopt;
    return util::formatDate(*day);
  };
  auto rows = conn.execArgs(kSql, settleSeconds(), std::string(websiteId), text(from), text(to));
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    if (auto day = util::parseDate(rows.get(r, 0))) out.push_back(*day);
  }
  return out;
}

std::vector<DayState> dayStates(db::Connection& conn, std::string_view websiteId, sys_days from,
                                sys_days to) {
  std::vector<DayState> out;
  if (!util::isUuid(websiteId)) return out;
  static const std::string kSql = fmt::format(
      "SELECT r.date::text, {}, coalesce(r.seen::text, ''), r.page_breakdowns"
      " FROM aggregation_runs r"
      " JOIN websites w ON w.id = r.website_id"
      " WHERE r.website_id = $2::uuid AND r.date BETWEEN $3::date AND $4::date ORDER BY r.date",
      kFinal);
  auto rows = conn.execArgs(kSql, settleSeconds(), std::string(websiteId), util::formatDate(from),
                            util::formatDate(to));
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    if (auto day = util::parseDate(rows.get(r, 0))) {
      out.push_back({*day, rows.getBool(r, 1), std::string(rows.get(r, 2)), rows.getBool(r, 3)});
    }
  }
  return out;
}

namespace {

// The goal and funnel rows of final days folded before their goal or funnel existed, and the page
// breakdowns of final days folded before 0013: up to kConversionBackfillDays (goal, funnel or
// website, day) pairs, newest first, in one REPEATABLE READ
// transaction (the days are final in its snapshot, so their stored visits are complete). Returns
// how many were written.
int backfillConversions(db::Connection& conn) {
  static const std::string kMissing = fmt::format(
      "SELECT x.kind, x.id::text, x.date::text, x.website_id::text FROM ("
      "SELECT 'f' AS kind, f.id, r.date, f.website_id FROM funnels f"
      " JOIN aggregation_runs r ON r.website_id = f.website_id"
      " JOIN websites w ON w.id = r.website_id"
      " WHERE {0} AND NOT EXISTS (SELECT 1 FROM funnel_daily d"
      " WHERE d.website_id = f.website_id AND d.funnel_id = f.id"
      " AND d.date = r.date AND d.step = 1)"
      " UNION ALL SELECT 'g', g.id, r.date, g.website_id FROM goals g"
      " JOIN aggregation_runs r ON r.website_id = g.website_id"
      " JOIN websites w ON w.id = r.website_id"
      " WHERE {0} AND NOT EXISTS (SELECT 1 FROM goal_daily d"
      " WHERE d.website_id = g.website_id AND d.goal_id = g.id AND d.date = r.date)"
      " UNION ALL SELECT 'p', r.website_id, r.date, r.website_id FROM aggregation_runs r"
      " JOIN websites w ON w.id = r.website_id WHERE {0} AND NOT r.page_breakdowns"
      ") x ORDER BY x.date DESC, x.kind, x.id LIMIT $2",
      kFinal);
  static const std::string kPages = pageBreakdownInsert("ARRAY[$2::uuid]");
  static const std::string kFunnel = funnelInsert("fu.website_id = $3::uuid AND fu.id = $2::uuid");
  static const std::string kGoal = goalInsert("g.website_id = $3::uuid AND g.id = $2::uuid");
  for (int attempt = 1;; ++attempt) {
    try {
      db::Transaction tx(conn, db::Isolation::kRepeatableRead);
      auto missing = conn.execArgs(kMissing, settleSeconds(), kConversionBackfillDays);
      for (int r = 0; r < missing.rows(); ++r) {
        const std::string_view kind = missing.get(r, 0);
        const std::string id(missing.get(r, 1));
        const std::string day(missing.get(r, 2));
        const std::string website(missing.get(r, 3));
        if (kind == "p") {
          conn.execArgs(kPages, day, id);
          conn.execArgs(
              "UPDATE aggregation_runs SET page_breakdowns = true"
              " WHERE website_id = $1::uuid AND date = $2::date",
              id, day);
        } else {
          conn.execArgs(kind == "f" ? kFunnel : kGoal, day, id, website);
        }
      }
      tx.commit();
      return missing.rows();
    } catch (const DbError& e) {
      if (attempt >= kDayAttempts || !isRetryable(e)) throw;
    }
  }
}

}  // namespace

std::optional<RefreshResult> tryRefreshVisits(db::Connection& conn, bool wait,
                                              const std::vector<std::string>& asked) {
  if (wait) {
    conn.execArgs("SELECT pg_advisory_lock($1)", kFoldLockKey);
  } else if (!conn.execArgs("SELECT pg_try_advisory_lock($1)", kFoldLockKey).getBool(0, 0)) {
    return std::nullopt;
  }
  FoldLock lock(conn);
  RefreshResult result;
  // The days whose stored visits are usable but may not hold every event: not final (today,
  // yesterday until it settles, a day that received late events). Few: a day a writer marks
  // without a fold has no snapshot, nor has any day after a change of time zone.
  static const std::string kLive = fmt::format(
      "SELECT r.website_id::text, r.date::text, w.time_zone, r.seen::text"
      " FROM aggregation_runs r JOIN websites w ON w.id = r.website_id"
      " WHERE r.seen IS NOT NULL AND NOT ({}) ORDER BY r.website_id, r.date",
      kFinal);
  static const std::string kLiveOf = fmt::format(
      "SELECT r.website_id::text, r.date::text, w.time_zone, r.seen::text"
      " FROM aggregation_runs r JOIN websites w ON w.id = r.website_id"
      " WHERE r.website_id = ANY($2::uuid[]) AND r.seen IS NOT NULL AND NOT ({})"
      " ORDER BY r.website_id, r.date",
      kFinal);
  // Only UUIDs go into the array literal (nothing in them needs quoting).
  std::vector<std::string> only;
  for (const auto& id : asked) {
    if (util::isUuid(id)) only.push_back(id);
  }
  if (!asked.empty() && only.empty()) return result;
  for (int attempt = 1;; ++attempt) {
    try {
      db::Transaction tx(conn, db::Isolation::kRepeatableRead);
      auto live = only.empty() ? conn.execArgs(kLive, settleSeconds())
                               : conn.execArgs(kLiveOf, settleSeconds(), db::arrayLiteral(only));
      int changed = 0;
      std::vector<std::string> websites;
      std::vector<std::string> dates;
      for (int r = 0; r < live.rows(); ++r) {
        const std::string website(live.get(r, 0));
        const auto day = util::parseDate(live.get(r, 1));
        if (!day) continue;
        websites.push_back(website);
        dates.emplace_back(live.get(r, 1));
        const std::string zone(live.get(r, 2));
        const auto changes = stats::visitChanges(conn, website, *day, zone, live.get(r, 3));
        if (changes.empty()) continue;
        ++changed;
        // Each statement with only the parameters it uses (PostgreSQL cannot type the others).
        db::Params params;
        const stats::ParamFn param = [&params](std::string value) {
          params.emplace_back(std::move(value));
          return "$" + std::to_string(params.size());
        };
        if (!changes.replacedKeys.empty()) {
          const std::string where = fmt::format(
              "v.website_id = {}::uuid AND v.date = {}::date AND {}", param(website),
              param(util::formatDate(*day)), stats::replacedVisitSql(changes, "v", param));
          conn.exec("DELETE FROM visits v WHERE " + where, params);
          params.clear();
        }
        const std::string rows = stats::changedVisitRowsSql(changes, param(website) + "::uuid",
                                                            param(zone) + "::text", param);
        conn.exec(fmt::format("INSERT INTO visits ({}) {}", stats::kVisitColumns, rows), params);
      }
      // Every day listed now holds what this snapshot holds, changed or not: the next reader
      // looks for changes from here.
      if (!websites.empty()) {
        conn.execArgs(
            "UPDATE aggregation_runs r SET seen = pg_current_snapshot()"
            " FROM unnest($1::uuid[], $2::date[]) AS l(website_id, date)"
            " WHERE r.website_id = l.website_id AND r.date = l.date",
            db::arrayLiteral(websites), db::arrayLiteral(dates));
      }
      tx.commit();
      result.days = changed;
      break;
    } catch (const DbError& e) {
      if (attempt >= kDayAttempts || !isRetryable(e)) throw;
    }
  }
  if (asked.empty()) result.conversionDays = backfillConversions(conn);
  return result;
}

std::optional<FoldedSpan> foldedSpan(db::Connection& conn, std::string_view websiteId) {
  std::optional<FoldedSpan> span;
  for (const sys_days day : finalDays(conn, websiteId)) {
    if (!span) {
      span = FoldedSpan{day, day};
    } else if (day == span->through + days{1}) {
      span->through = day;
    } else {
      break;  // a day that is not final: what follows must be read from raw events
    }
  }
  return span;
}

std::optional<sys_days> foldedThrough(db::Connection& conn, std::string_view websiteId) {
  auto span = foldedSpan(conn, websiteId);
  if (!span) return std::nullopt;
  return span->through;
}

}  // namespace mp::aggregation
