// Folding raw events into the rollup tables, one UTC day and one transaction at a time.
#include "aggregation/aggregator.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::aggregation {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

// Rows of events on UTC day $1 for the websites in $2. The bounds are stable expressions, so they
// serve as index conditions on the primary key (website_id, ts, id) and prune month partitions.
constexpr const char* kDayCondition =
    "e.website_id = ANY($2::uuid[])"
    " AND e.ts >= ($1::date)::timestamp AT TIME ZONE 'UTC'"
    " AND e.ts < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'";
const std::string kDayEvents = std::string(" FROM events e WHERE ") + kDayCondition;

// Replacing, not upserting: a page or value that lost its events (none can, but a re-fold after a
// manual cleanup might) must lose its row too. aggregation_runs is upserted instead (below).
constexpr const char* kDeletes[] = {
    "DELETE FROM event_summary WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM page_daily WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM dimension_daily WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM hourly_summary WHERE website_id = ANY($2::uuid[])"
    " AND hour >= ($1::date)::timestamp AT TIME ZONE 'UTC'"
    " AND hour < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'",
};

std::string summaryInsert() {
  return fmt::format(
      "WITH ins AS (INSERT INTO event_summary"
      " (website_id, date, page_views, unique_sessions, unique_visitors, events, updated_at)"
      " SELECT e.website_id, $1::date, count(*) FILTER (WHERE e.event_type = 'pageview'),"
      " count(DISTINCT e.session_id), count(DISTINCT e.visitor_id), count(*), now()"
      "{} GROUP BY e.website_id RETURNING events)"
      " SELECT coalesce(sum(events), 0)::bigint FROM ins",
      kDayEvents);
}

std::vector<std::string> rollupInserts() {
  return {
      fmt::format("INSERT INTO page_daily (website_id, date, page, views, visitors)"
                  " SELECT e.website_id, $1::date, coalesce(e.page, ''), count(*),"
                  " count(DISTINCT e.visitor_id){} AND e.event_type = 'pageview'"
                  " GROUP BY e.website_id, coalesce(e.page, '')",
                  kDayEvents),
      // One scan of the day for all six dimensions: each event fans out to one row per dimension,
      // counted for pageviews (event_type: for every event).
      fmt::format(
          "INSERT INTO dimension_daily (website_id, date, dimension, value, views, visitors)"
          " SELECT e.website_id, $1::date, d.dimension, coalesce(d.value, ''), count(*),"
          " count(DISTINCT e.visitor_id)"
          " FROM events e CROSS JOIN LATERAL (VALUES"
          " ('referrer', e.referrer_host, e.event_type = 'pageview'),"
          " ('browser', e.browser, e.event_type = 'pageview'),"
          " ('os', e.os, e.event_type = 'pageview'),"
          " ('device', e.device, e.event_type = 'pageview'),"
          " ('country', e.country, e.event_type = 'pageview'),"
          " ('event_type', e.event_type, true)) AS d(dimension, value, counted)"
          " WHERE d.counted AND {}"
          " GROUP BY e.website_id, d.dimension, coalesce(d.value, '')",
          kDayCondition),
      // The day's week, summed again from its seven days' rows as they now are (0003): the
      // stats read it only once all seven are final.
      "DELETE FROM page_weekly WHERE website_id = ANY($2::uuid[])"
      " AND week = date_trunc('week', $1::date::timestamp)::date",
      "INSERT INTO page_weekly (website_id, week, page, views, visitors)"
      " SELECT website_id, date_trunc('week', $1::date::timestamp)::date, page, sum(views),"
      " sum(visitors) FROM page_daily WHERE website_id = ANY($2::uuid[])"
      " AND date >= date_trunc('week', $1::date::timestamp)::date"
      " AND date < date_trunc('week', $1::date::timestamp)::date + 7 GROUP BY website_id, page",
      "DELETE FROM dimension_weekly WHERE website_id = ANY($2::uuid[])"
      " AND week = date_trunc('week', $1::date::timestamp)::date",
      "INSERT INTO dimension_weekly (website_id, week, dimension, value, views, visitors)"
      " SELECT website_id, date_trunc('week', $1::date::timestamp)::date, dimension, value,"
      " sum(views), sum(visitors) FROM dimension_daily WHERE website_id = ANY($2::uuid[])"
      " AND date >= date_trunc('week', $1::date::timestamp)::date"
      " AND date < date_trunc('week', $1::date::timestamp)::date + 7"
      " GROUP BY website_id, dimension, value",
      fmt::format("INSERT INTO hourly_summary (website_id, hour, views, visitors)"
                  " SELECT e.website_id, date_trunc('hour', e.ts AT TIME ZONE 'UTC') AT TIME ZONE"
                  " 'UTC', count(*) FILTER (WHERE e.event_type = 'pageview'),"
                  " count(DISTINCT e.visitor_id){}"
                  " GROUP BY e.website_id, date_trunc('hour', e.ts AT TIME ZONE 'UTC')",
                  kDayEvents),
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

// Folds one day for the websites of `websites` (a uuid[] literal); returns the events folded.
std::int64_t foldDay(db::Connection& conn, sys_days day, const std::string& websites) {
  static const std::string kSummary = summaryInsert();
  static const std::vector<std::string> kInserts = rollupInserts();
  const db::Params params{util::formatDate(day), websites};
  for (int attempt = 1;; ++attempt) {
    try {
      // One snapshot for every rollup of the day, so they agree with each other even while
      // events keep arriving.
      db::Transaction tx(conn, db::Isolation::kRepeatableRead);
      for (const char* sql : kDeletes) conn.exec(sql, params);
      const std::int64_t events = conn.exec(kSummary, params).getInt(0, 0);
      for (const auto& sql : kInserts) conn.exec(sql, params);
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
  // Read once the lock is held; websites created meanwhile are folded by the next run.
  auto ids = conn.execArgs(
      "SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM websites"
      " WHERE $1::uuid IS NULL OR id = $1::uuid",
      websiteId);
  const std::string websites(ids.get(0, 0));

  FoldResult result;
  for (sys_days day = from; day <= to; day += days{1}) {
    const std::int64_t events = foldDay(conn, day, websites);
    ++result.days;
    result.events += events;
    if (progress) progress(day, events);
  }
  return result;
}

// The final-day rule of 0003 over the aggregation_runs row `r`; $1 is kSettleTime in seconds.
constexpr const char* kFinal =
    "NOT r.dirty AND r.folded_at >= (r.date + 1)::timestamp AT TIME ZONE 'UTC'"
    " + make_interval(secs => $1)";

int settleSeconds() {
  return static_cast<int>(std::chrono::seconds(kSettleTime).count());
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
  // Per day of the window (by the database's clock, as folded_at), the websites whose day is not
  // final: a row that is dirty or folded too early, or no row at all since the website existed
  // (a writer creates the row of an older day that receives a late event).
  static const std::string kPending = fmt::format(
      "WITH w AS (SELECT id, created_at FROM websites),"
      " d AS (SELECT ((now() AT TIME ZONE 'UTC')::date - i) AS date"
      " FROM generate_series(0, $2::int) AS g(i))"
      " SELECT d.date::text, array_agg(w.id ORDER BY w.id)::text"
      " FROM d CROSS JOIN w"
      " LEFT JOIN aggregation_runs r ON r.website_id = w.id AND r.date = d.date"
      " WHERE (r.website_id IS NULL"
      " AND w.created_at < (d.date + 1)::timestamp AT TIME ZONE 'UTC')"
      " OR (r.website_id IS NOT NULL AND NOT ({}))"
      " GROUP BY d.date ORDER BY d.date",
      kFinal);
  auto pending = conn.execArgs(kPending, settleSeconds(), kRecentDays);
  for (int i = 0; i < pending.rows(); ++i) {
    const auto day = util::parseDate(pending.get(i, 0));
    if (day) foldDay(conn, *day, std::string(pending.get(i, 1)));
  }
  return true;
}

std::vector<sys_days> finalDays(db::Connection& conn, std::string_view websiteId,
                                std::optional<sys_days> from, std::optional<sys_days> to) {
  std::vector<sys_days> out;
  if (!util::isUuid(websiteId)) return out;
  static const std::string kSql = fmt::format(
      "SELECT r.date::text FROM aggregation_runs r WHERE r.website_id = $2::uuid"
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
