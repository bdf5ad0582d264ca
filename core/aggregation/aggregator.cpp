// Folding raw events into the rollup tables, one UTC day and one transaction at a time.
#include "aggregation/aggregator.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <string>
#include <vector>

#include "util/error.hpp"
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
// manual cleanup might) must lose its row too.
constexpr const char* kDeletes[] = {
    "DELETE FROM event_summary WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM daily_visitors WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM page_daily WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM dimension_daily WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
    "DELETE FROM hourly_summary WHERE website_id = ANY($2::uuid[])"
    " AND hour >= ($1::date)::timestamp AT TIME ZONE 'UTC'"
    " AND hour < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'",
    "DELETE FROM aggregation_runs WHERE website_id = ANY($2::uuid[]) AND date = $1::date",
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
      fmt::format("INSERT INTO daily_visitors (website_id, date, visitor_id)"
                  " SELECT DISTINCT e.website_id, $1::date, e.visitor_id{}"
                  " AND e.visitor_id IS NOT NULL",
                  kDayEvents),
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
      fmt::format("INSERT INTO hourly_summary (website_id, hour, views, visitors)"
                  " SELECT e.website_id, date_trunc('hour', e.ts AT TIME ZONE 'UTC') AT TIME ZONE"
                  " 'UTC', count(*) FILTER (WHERE e.event_type = 'pageview'),"
                  " count(DISTINCT e.visitor_id){}"
                  " GROUP BY e.website_id, date_trunc('hour', e.ts AT TIME ZONE 'UTC')",
                  kDayEvents),
      // Websites without events that day get a row too: the day is folded for them as well.
      "INSERT INTO aggregation_runs (website_id, date, folded_at, events)"
      " SELECT w.id, $1::date, now(), coalesce(s.events, 0) FROM websites w"
      " LEFT JOIN event_summary s ON s.website_id = w.id AND s.date = $1::date"
      " WHERE w.id = ANY($2::uuid[])",
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

FoldResult foldDays(db::Connection& conn, sys_days from, sys_days to,
                    const std::optional<std::string>& websiteId,
                    const std::function<void(sys_days, std::int64_t)>& progress) {
  // Read once the lock is held; websites created meanwhile are folded by the next run.
  auto ids = conn.execArgs(
      "SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM websites"
      " WHERE $1::uuid IS NULL OR id = $1::uuid",
      websiteId);
  const std::string websites(ids.get(0, 0));

  static const std::string kSummary = summaryInsert();
  static const std::vector<std::string> kInserts = rollupInserts();

  FoldResult result;
  for (sys_days day = from; day <= to; day += days{1}) {
    const db::Params params{formatDate(day), websites};
    // One snapshot for every rollup of the day, so they agree with each other even while events
    // keep arriving.
    db::Transaction tx(conn, db::Isolation::kRepeatableRead);
    for (const char* sql : kDeletes) conn.exec(sql, params);
    const std::int64_t events = conn.exec(kSummary, params).getInt(0, 0);
    for (const auto& sql : kInserts) conn.exec(sql, params);
    tx.commit();
    ++result.days;
    result.events += events;
    if (progress) progress(day, events);
  }
  return result;
}

}  // namespace

FoldResult foldRange(db::Connection& conn, sys_days from, sys_days to,
                     std::optional<std::string> websiteId,
                     const std::function<void(sys_days, std::int64_t)>& progress) {
  if (from > to) {
    throw InvalidInput("from", "the range starts (" + formatDate(from) + ") after it ends (" +
                                   formatDate(to) + ")");
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
  const sys_days today = todayUtc();
  foldDays(conn, today - days{1}, today, std::nullopt, {});
  return true;
}

std::optional<FoldedSpan> foldedSpan(db::Connection& conn, std::string_view websiteId) {
  if (!util::isUuid(websiteId)) return std::nullopt;
  auto rows = conn.execArgs(
      "SELECT date::text, folded_at >= ((date + 1)::timestamp AT TIME ZONE 'UTC')"
      " + make_interval(hours => $2) FROM aggregation_runs WHERE website_id = $1::uuid"
      " ORDER BY date",
      std::string(websiteId), static_cast<int>(kLateWindow.count()));
  std::optional<FoldedSpan> span;
  for (int r = 0; r < rows.rows(); ++r) {
    const auto day = parseDate(rows.get(r, 0));
    if (!day || !rows.getBool(r, 1)) break;
    if (!span) {
      span = FoldedSpan{*day, *day};
    } else if (*day == span->through + days{1}) {
      span->through = *day;
    } else {
      break;  // a day never folded: what follows must be read from raw events
    }
  }
  return span;
}

std::optional<sys_days> foldedThrough(db::Connection& conn, std::string_view websiteId) {
  auto span = foldedSpan(conn, websiteId);
  if (!span) return std::nullopt;
  return span->through;
}

sys_days todayUtc() {
  return std::chrono::floor<days>(std::chrono::system_clock::now());
}

std::string formatDate(sys_days day) {
  const std::chrono::year_month_day ymd{day};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::optional<sys_days> parseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return std::nullopt;
  }
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  std::from_chars(text.data(), text.data() + 4, y);
  std::from_chars(text.data() + 5, text.data() + 7, m);
  std::from_chars(text.data() + 8, text.data() + 10, d);
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd};
}

}  // namespace mp::aggregation
