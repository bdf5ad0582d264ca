#include "stats/live_visits.hpp"

#include <fmt/format.h>

#include "db/array.hpp"
#include "stats/visit_sql.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace mp::stats {
namespace {

// Spans past this many are read as one range from the first to the last: a day left unrefreshed
// for hours may have changes all over it, and one range of it is then cheaper than many.
constexpr std::size_t kMaxSpans = 32;

using util::join;

}  // namespace

VisitChanges visitChanges(db::Connection& conn, std::string_view websiteId,
                          std::chrono::sys_days day, std::string_view zone, std::string_view seen) {
  // nw: the website's events the snapshot does not hold (xid >= the snapshot's xmin, a range of
  //     events_website_xid_idx: older transactions had all ended by then; alone in its query,
  //     so that the primary key is not used to read the whole day instead);
  // ch: the session keys of the website and day among them, and the span of their new events;
  // af: the stored visits they touch (the keys as an array: an index condition whatever the
  //     planner believes of the day's rows); win: per key, the window to sessionise again;
  // sp: the windows merged where they overlap or touch, in order; and the number of new events.
  static const std::string kSql = fmt::format(
      "WITH nw AS MATERIALIZED (SELECT ev.ts, {0} AS skey FROM events ev"
      " WHERE ev.website_id = $1::uuid"
      " AND ev.xid >= pg_snapshot_xmin($4::pg_snapshot)::text::bigint"
      " AND NOT pg_visible_in_snapshot(ev.xid::text::xid8, $4::pg_snapshot)),"
      " ch AS MATERIALIZED (SELECT nw.skey, min(nw.ts) AS a, max(nw.ts) AS b, count(*) AS n FROM nw"
      " WHERE nw.ts >= ($2::date)::timestamp AT TIME ZONE $3::text"
      " AND nw.ts < ($2::date + 1)::timestamp AT TIME ZONE $3::text GROUP BY 1),"
      " af AS MATERIALIZED (SELECT v.session_id, v.started_at, v.ended_at FROM ch JOIN visits v"
      " ON v.session_id = ch.skey WHERE v.website_id = $1::uuid AND v.date = $2::date"
      " AND v.session_id = ANY(ARRAY(SELECT skey FROM ch))"
      " AND v.ended_at >= ch.a - interval '{1} minutes'"
      " AND v.started_at <= ch.b + interval '{1} minutes'),"
      " win AS MATERIALIZED (SELECT ch.skey, least(ch.a, min(af.started_at)) AS lo,"
      " greatest(ch.b, max(af.ended_at)) AS hi FROM ch LEFT JOIN af ON af.session_id = ch.skey"
      " GROUP BY ch.skey, ch.a, ch.b),"
      " sp AS (SELECT min(lo) AS lo, max(hi) AS hi FROM (SELECT lo, hi,"
      " count(*) FILTER (WHERE brk) OVER (ORDER BY lo, hi) AS grp FROM (SELECT lo, hi,"
      " coalesce(lo > max(hi) OVER (ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING"
      " AND 1 PRECEDING), true) AS brk FROM win) x) y GROUP BY grp)"
      " (SELECT 'w', skey, lo::text, hi::text FROM win)"
      " UNION ALL (SELECT 'r', session_id, started_at::text, NULL FROM af)"
      " UNION ALL (SELECT 's', NULL, lo::text, hi::text FROM sp ORDER BY sp.lo)"
      " UNION ALL (SELECT 'n', NULL, sum(n)::text, NULL FROM ch HAVING count(*) > 0)",
      kSessionKeySql, kVisitGapMinutes);
  auto rows = conn.execArgs(kSql, std::string(websiteId), util::formatDate(day), std::string(zone),
                            std::string(seen));
  VisitChanges out;
  for (int r = 0; r < rows.rows(); ++r) {
    const std::string_view kind = rows.get(r, 0);
    if (kind == "w") {
      out.keys.emplace_back(rows.get(r, 1));
      out.windowFrom.emplace_back(rows.get(r, 2));
      out.windowTo.emplace_back(rows.get(r, 3));
    } else if (kind == "r") {
      out.replacedKeys.emplace_back(rows.get(r, 1));
      out.replacedStarts.emplace_back(rows.get(r, 2));
    } else if (kind == "n") {
      out.newEvents = rows.getInt(r, 2);
    } else {
      out.spans.emplace_back(rows.get(r, 2), rows.get(r, 3));
    }
  }
  if (out.spans.size() > kMaxSpans) {
    out.spans = {{out.spans.front().first, out.spans.back().second}};
  }
  return out;
}

std::string replacedVisitSql(const VisitChanges& changes, const std::string& alias,
                             const ParamFn& param) {
  if (changes.replacedKeys.empty()) return "false";
  return fmt::format(
      "({0}.session_id, {0}.started_at) IN (SELECT * FROM unnest({1}::text[],"
      " {2}::timestamptz[]))",
      alias, param(db::arrayLiteral(changes.replacedKeys)),
      param(db::arrayLiteral(changes.replacedStarts)));
}

std::string changedVisitRowsSql(const VisitChanges& changes, const std::string& website,
                                const std::string& zone, const ParamFn& param) {
  if (changes.empty()) return fmt::format("SELECT {} FROM visits WHERE false", kVisitColumns);
  // The spans are index ranges of the primary key; each event is then kept only within its own
  // key's window.
  std::vector<std::string> ranges;
  for (const auto& [from, to] : changes.spans) {
    ranges.push_back(fmt::format("(ev.ts >= {}::timestamptz AND ev.ts <= {}::timestamptz)",
                                 param(from), param(to)));
  }
  const std::string condition = fmt::format(
      "ev.website_id = {0} AND ({1}) AND EXISTS (SELECT 1 FROM unnest({2}::text[],"
      " {3}::timestamptz[], {4}::timestamptz[]) AS w(k, lo, hi) WHERE w.k = {5}"
      " AND ev.ts >= w.lo AND ev.ts <= w.hi)",
      website, join(ranges, " OR "), param(db::arrayLiteral(changes.keys)),
      param(db::arrayLiteral(changes.windowFrom)), param(db::arrayLiteral(changes.windowTo)),
      kSessionKeySql);
  return fmt::format("SELECT * FROM ({}) r({})", visitRowsSql(condition, zone), kVisitColumns);
}

std::string currentVisitRowsSql(const VisitChanges& changes, const std::string& website,
                                const std::string& day, const std::string& zone,
                                const ParamFn& param) {
  std::string stored =
      fmt::format("SELECT {} FROM visits v WHERE v.website_id = {} AND v.date = {}", kVisitColumns,
                  website, day);
  if (changes.empty()) return stored;
  return fmt::format("{} AND NOT {} UNION ALL {}", stored, replacedVisitSql(changes, "v", param),
                     changedVisitRowsSql(changes, website, zone, param));
}

}  // namespace mp::stats
