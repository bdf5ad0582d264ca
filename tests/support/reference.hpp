// The definitions of docs/metrics.md written once more in plain SQL, for tests to compare the
// fold and the engine with: independent of core/stats, slow, and obviously right.
#pragma once

#include <string>
#include <string_view>

namespace mp::test::reference {

/// A WITH clause (to be followed by more CTEs or a SELECT) defining, over every event:
/// - n: each event with its day in `zone` (day), session key (k) and visit number within the
///   key and day (vn); a new visit starts where the gap to the key's previous event that day
///   exceeds 30 minutes;
/// - vb: one row per visit (website_id, day, k, vn): visitor, country, browser, os, device,
///   referrer, source and hostname of its first event ('' when none), entry and exit (its first
///   and last page view's page, NULL without one), started, ended, pv (page views), ev (events),
///   bounce (fewer than 2 page views and no interactive custom event), ms (duration).
std::string visits(std::string_view zone = "UTC");

/// The metrics of a group of vb rows, in the order visitors, visits, pageviews, events, bounces,
/// duration_ms; visitors are distinct per day and summed. `pv` and `ev` are the page views and
/// events of each visit that count (an event dimension counts only its own events).
std::string sums(std::string_view pv = "vb.pv", std::string_view ev = "vb.ev");

/// A CTE "x" (to follow visits()): per visit and value of `value` (an expression over n), the
/// visit's page views (pv) and events (ev) with that value; join it to vb on
/// (website_id, day, k, vn).
std::string eventValues(std::string_view value);

}  // namespace mp::test::reference
