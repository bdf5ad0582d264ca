// The reports of goals and funnels (docs/metrics.md "Goals", "Funnels"), over the query engine.
// GET /stats/{id}/goals, GET /stats/{id}/funnels/{funnelId} and mpctl stats goals|funnel.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/connection.hpp"
#include "goals/goals.hpp"
#include "stats/engine.hpp"
#include "stats/stats.hpp"

namespace mp::stats {

/// The filters that make a question count a goal's conversions: its event, or a page view of a
/// page matching its pattern.
std::vector<Filter> goalFilters(const goals::Goal& goal);

/// The funnel step of a goal, as stats::funnel() takes it.
FunnelStep funnelStep(const goals::Goal& goal);

/// {"websiteId","from","to","visitors","goals":[{"goalId","name","type","eventName"|"pagePath",
/// "visitors","events","conversionRate",["comparison":{…}]}],["comparison":{"from","to",
/// "visitors"}]}: per goal, the visitors who reached it in the scope (conversions), its events
/// (page views for a page goal), and conversions ÷ visitors in percent, two decimals.
nlohmann::json goalsReport(db::Connection& conn, const Scope& scope,
                           const std::vector<goals::Goal>& goals);

/// {"websiteId","funnelId","name","from","to","visitors","steps":[{"goalId","name","visitors",
/// "visits","dropoff","dropoffRate","conversionRate","conversionRateStep"}]}: per step, the
/// visitors who reached it in order within one visit; dropoff from the previous step;
/// conversionRate from the first step and conversionRateStep from the previous one, in percent;
/// with compare, each step's "comparison":{"visitors","conversionRate"} and a "comparison" block
/// {"from","to","visitors"}.
nlohmann::json funnelReport(db::Connection& conn, const Scope& scope, const goals::Funnel& funnel);

/// `part` ÷ `whole` in percent, rounded half up to two decimals; 0 when `whole` is 0.
double percent(std::int64_t part, std::int64_t whole);

}  // namespace mp::stats
