#include "support/reference.hpp"

#include <fmt/format.h>

namespace mp::test::reference {

std::string visits(std::string_view zone) {
  return fmt::format(
      "WITH e AS (SELECT ev.*, (ev.ts AT TIME ZONE '{0}')::date AS day,"
      " coalesce(ev.session_id, 'v' || ev.visitor_id, 'e' || ev.id) AS k FROM events ev),"
      " g AS (SELECT e.*, CASE WHEN lag(e.ts) OVER (PARTITION BY e.website_id, e.day, e.k"
      " ORDER BY e.ts, e.id) >= e.ts - interval '30 minutes' THEN 0 ELSE 1 END AS nv FROM e),"
      " n AS (SELECT g.*, sum(g.nv) OVER (PARTITION BY g.website_id, g.day, g.k"
      " ORDER BY g.ts, g.id) AS vn FROM g),"
      " vb AS (SELECT website_id, day, k, vn,"
      " (array_agg(visitor_id ORDER BY ts, id))[1] AS visitor,"
      " (array_agg(coalesce(country, '') ORDER BY ts, id))[1] AS country,"
      " (array_agg(coalesce(browser, '') ORDER BY ts, id))[1] AS browser,"
      " (array_agg(coalesce(os, '') ORDER BY ts, id))[1] AS os,"
      " (array_agg(coalesce(device, '') ORDER BY ts, id))[1] AS device,"
      " (array_agg(coalesce(referrer_host, '') ORDER BY ts, id))[1] AS referrer,"
      " (array_agg(coalesce(source, '') ORDER BY ts, id))[1] AS source,"
      " (array_agg(coalesce(hostname, '') ORDER BY ts, id))[1] AS hostname,"
      " (array_agg(coalesce(page, '') ORDER BY ts, id)"
      " FILTER (WHERE event_type = 'pageview'))[1] AS entry,"
      " (array_agg(coalesce(page, '') ORDER BY ts DESC, id DESC)"
      " FILTER (WHERE event_type = 'pageview'))[1] AS exit,"
      " min(ts) AS started, max(ts) AS ended,"
      " count(*) FILTER (WHERE event_type = 'pageview') AS pv, count(*) AS ev,"
      " count(*) FILTER (WHERE event_type = 'pageview') < 2 AND count(*) FILTER (WHERE"
      " event_type <> 'pageview' AND interactive) = 0 AS bounce,"
      " (extract(epoch FROM max(ts) - min(ts)) * 1000)::bigint AS ms"
      " FROM n GROUP BY website_id, day, k, vn)",
      zone);
}

std::string sums(std::string_view pv, std::string_view ev) {
  return fmt::format(
      "count(DISTINCT vb.day::text || ':' || vb.visitor::text), count(*),"
      " coalesce(sum({}), 0), coalesce(sum({}), 0), count(*) FILTER (WHERE vb.bounce),"
      " coalesce(sum(vb.ms), 0)",
      pv, ev);
}

std::string eventValues(std::string_view value) {
  return fmt::format(
      ", x AS (SELECT website_id, day, k, vn, {} AS value,"
      " count(*) FILTER (WHERE event_type = 'pageview') AS pv, count(*) AS ev FROM n"
      " GROUP BY 1, 2, 3, 4, 5)",
      value);
}

}  // namespace mp::test::reference
