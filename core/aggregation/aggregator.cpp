// Folding raw events into the rollup tables, one UTC day and one transaction at a time.
#include "aggregation/aggregator.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

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
      // Websites without events that day get a row too: the day is folded for them as well.
      // An upsert, not a delete and insert: a writer marking the row dirty after this snapshot
      // was taken makes it fail with a serialisation error (the day is then folded again), or
      // waits for this commit and marks the new row; a deleted row would let the mark vanish.
      // now() is the transaction's start, before its snapshot: what kSettleTime is measured
      // against. Rows in website order, as writers lock them, so the two never deadlock.
      "INSERT INTO aggregation_runs (website_id, date, folded_at, events, dirty)"
      " SELECT w.id, $1::date, now(), coalesce(s.events, 0), false FROM websites w"
      " LEFT JOIN event_summary s ON s.website_id = w.id AND s.date = $1::date"
      " WHERE w.id = ANY($2::uuid[]) ORDER BY w.id"
      " ON CONFLICT (website_id, date) DO UPDATE SET folded_at = EXCLUDED.folded_at,"
      " events = EXCLUDED.events, dirty = false",
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
