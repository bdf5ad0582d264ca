// What a visit is, in SQL: the one statement that turns raw events into visit rows (the columns
// of the visits table), used by the fold to fill that table and by the stats for days not folded,
// so both count the same visits by construction; and the dimension values of a visit row, shared
// by the fold's rollups and the stats (docs/metrics.md, docs/query-engine.md).
#pragma once

#include <string>
#include <string_view>

namespace mp::stats {

/// The longest gap between two events of one visit.
inline constexpr int kVisitGapMinutes = 30;

/// The columns of a visit row, in the order of the visits table and of visitRowsSql().
inline constexpr std::string_view kVisitColumns =
    "website_id, date, started_at, session_id, ended_at, visitor_id, pageviews, events,"
    " interactive, entry_page, exit_page, hostname, referrer_host, source, channel, utm_source,"
    " utm_medium, utm_campaign, utm_term, utm_content, country, browser, os, device, step_types,"
    " step_pages, step_ms, step_props";

/// The session key of the event `ev`: its session id, else its visitor id, else its own id.
inline constexpr std::string_view kSessionKeySql =
    "coalesce(ev.session_id, 'v' || ev.visitor_id::text, 'e' || ev.id::text)";

/// A SELECT of one row per visit (kVisitColumns) over the events `ev` of `events` that satisfy
/// `condition` (SQL over the alias ev), with days in the time zone `zone` (an SQL expression of
/// type text, e.g. "$3::text"). Visits never span two days, so the rows are exact for every day
/// whose events `condition` keeps whole. An event without a session id is keyed by its visitor
/// id, one without either is a visit of its own.
std::string visitRowsSql(std::string_view condition, std::string_view zone);

/// The visit dimensions of the visit row `alias` as a VALUES list of (dimension, value): a NULL
/// value (no entry page, no UTM tag) leaves the visit out of that dimension; a missing source,
/// referrer, country, … is ''.
std::string visitDimensionValuesSql(std::string_view alias);

/// A SELECT of (dimension, value, pageviews, events) over the events of the visit row `alias`:
/// one row per page, event type and prop:KEY value its events have, with how many of its events
/// (and of those, page views) have it.
std::string eventDimensionValuesSql(std::string_view alias);

}  // namespace mp::stats
