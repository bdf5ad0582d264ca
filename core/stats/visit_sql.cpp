// Sessionisation in one statement: three window passes in the same order, then one GROUP BY.
//
// 1. every event gets its day (in the website's zone) and session key;
// 2. an event opens a visit when it is the first of its key that day or comes more than
//    kVisitGapMinutes after the previous one (exactly 30 minutes still continues it);
// 3. a running count of openings numbers the visits, and the latest opening time is the start of
//    the visit an event belongs to (times only grow within the window);
// then each visit's row. Its attributes are those of its opening event: the one row with
// first = 1, so max(…) FILTER (WHERE first = 1) picks it without sorting again.
#include "stats/visit_sql.hpp"

#include <fmt/format.h>

namespace mp::stats {

std::string visitRowsSql(std::string_view condition, std::string_view zone) {
  constexpr const char* kFirst = " FILTER (WHERE e.first = 1)";
  return fmt::format(
      "SELECT e.website_id, e.day, e.visit_start, e.skey, max(e.ts), max(e.visitor_id){0},"
      " (count(*) FILTER (WHERE e.event_type = 'pageview'))::int, count(*)::int,"
      " (count(*) FILTER (WHERE e.event_type <> 'pageview' AND e.interactive))::int,"
      " (array_agg(coalesce(e.page, '') ORDER BY e.ts, e.id)"
      " FILTER (WHERE e.event_type = 'pageview'))[1],"
      " (array_agg(coalesce(e.page, '') ORDER BY e.ts DESC, e.id DESC)"
      " FILTER (WHERE e.event_type = 'pageview'))[1],"
      " max(e.hostname){0}, max(e.referrer_host){0}, max(e.source){0}, max(e.channel){0},"
      " max(e.utm_source){0}, max(e.utm_medium){0}, max(e.utm_campaign){0}, max(e.utm_term){0},"
      " max(e.utm_content){0}, max(e.country){0}, max(e.browser){0}, max(e.os){0},"
      " max(e.device){0},"
      " array_agg(e.event_type ORDER BY e.ts, e.id),"
      " array_agg(coalesce(e.page, '') ORDER BY e.ts, e.id),"
      " array_agg((extract(epoch FROM e.ts - e.visit_start) * 1000)::int ORDER BY e.ts, e.id),"
      " array_agg(e.props ORDER BY e.ts, e.id)"
      " FROM (SELECT e.*, sum(e.first) OVER w AS visit_no,"
      " max(CASE WHEN e.first = 1 THEN e.ts END) OVER w AS visit_start"
      " FROM (SELECT e.*, CASE WHEN e.ts - lag(e.ts) OVER w <= interval '{1} minutes' THEN 0"
      " ELSE 1 END AS first"
      " FROM (SELECT ev.website_id, ev.ts, ev.id, ev.event_type, ev.page, ev.hostname,"
      " ev.referrer_host, ev.source, ev.channel, ev.utm_source, ev.utm_medium, ev.utm_campaign,"
      " ev.utm_term, ev.utm_content, ev.country, ev.browser, ev.os, ev.device, ev.visitor_id,"
      " ev.interactive, ev.props, (ev.ts AT TIME ZONE {2})::date AS day,"
      " {4} AS skey FROM events ev WHERE {3}) e"
      " WINDOW w AS (PARTITION BY e.website_id, e.day, e.skey ORDER BY e.ts, e.id)) e"
      " WINDOW w AS (PARTITION BY e.website_id, e.day, e.skey ORDER BY e.ts, e.id"
      " ROWS UNBOUNDED PRECEDING)) e"
      " GROUP BY e.website_id, e.day, e.skey, e.visit_no, e.visit_start",
      kFirst, kVisitGapMinutes, zone, condition, kSessionKeySql);
}

std::string visitDimensionValuesSql(std::string_view alias) {
  return fmt::format(
      "('entry_page', {0}.entry_page), ('exit_page', {0}.exit_page),"
      " ('source', coalesce({0}.source, '')), ('channel', coalesce({0}.channel, '')),"
      " ('referrer', coalesce({0}.referrer_host, '')), ('utm_source', {0}.utm_source),"
      " ('utm_medium', {0}.utm_medium), ('utm_campaign', {0}.utm_campaign),"
      " ('utm_term', {0}.utm_term), ('utm_content', {0}.utm_content),"
      " ('country', coalesce({0}.country, '')), ('browser', coalesce({0}.browser, '')),"
      " ('os', coalesce({0}.os, '')), ('device', coalesce({0}.device, '')),"
      " ('hostname', coalesce({0}.hostname, ''))",
      alias);
}

std::string eventDimensionValuesSql(std::string_view alias) {
  return fmt::format(
      "SELECT x.dimension, x.value, count(*) FILTER (WHERE x.type = 'pageview') AS pageviews,"
      " count(*) AS events FROM ("
      "SELECT 'page' AS dimension, s.page AS value, s.type FROM unnest({0}.step_types,"
      " {0}.step_pages) AS s(type, page)"
      " UNION ALL SELECT 'event_type', s.type, s.type FROM unnest({0}.step_types) AS s(type)"
      " UNION ALL SELECT 'prop:' || p.key, p.value, s.type FROM unnest({0}.step_types,"
      " {0}.step_props) AS s(type, props) CROSS JOIN LATERAL jsonb_each_text(s.props) AS p"
      ") x GROUP BY x.dimension, x.value",
      alias);
}

}  // namespace mp::stats
