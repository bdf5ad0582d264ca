// Names of metrics, dimensions and operators as the APIs spell them, and metrics from their sums.
#include "stats/query.hpp"

#include <array>
#include <utility>

namespace mp::stats {
namespace {

constexpr std::array<std::pair<Metric, std::string_view>, 8> kMetrics{{
    {Metric::kVisitors, "visitors"},
    {Metric::kVisits, "visits"},
    {Metric::kPageviews, "pageviews"},
    {Metric::kEvents, "events"},
    {Metric::kViewsPerVisit, "views_per_visit"},
    {Metric::kBounceRate, "bounce_rate"},
    {Metric::kVisitDuration, "visit_duration"},
    {Metric::kConversionRate, "conversion_rate"},
}};

// Our spelling first, then Plausible's Stats API v2 spelling of the same dimension.
struct DimensionName {
  std::string_view name;
  std::string_view plausible;
  DimensionKind kind;
};
constexpr DimensionName kDimensions[] = {
    {"page", "event:page", DimensionKind::kEvent},
    {"event_type", "event:name", DimensionKind::kEvent},
    {"entry_page", "visit:entry_page", DimensionKind::kVisit},
    {"exit_page", "visit:exit_page", DimensionKind::kVisit},
    {"source", "visit:source", DimensionKind::kVisit},
    {"channel", "visit:channel", DimensionKind::kVisit},
    {"referrer", "visit:referrer", DimensionKind::kVisit},
    {"utm_source", "visit:utm_source", DimensionKind::kVisit},
    {"utm_medium", "visit:utm_medium", DimensionKind::kVisit},
    {"utm_campaign", "visit:utm_campaign", DimensionKind::kVisit},
    {"utm_term", "visit:utm_term", DimensionKind::kVisit},
    {"utm_content", "visit:utm_content", DimensionKind::kVisit},
    {"country", "visit:country", DimensionKind::kVisit},
    {"browser", "visit:browser", DimensionKind::kVisit},
    {"os", "visit:os", DimensionKind::kVisit},
    {"device", "visit:device", DimensionKind::kVisit},
    {"hostname", "event:hostname", DimensionKind::kVisit},
    {"time:hour", "time:hour", DimensionKind::kTime},
    {"time:day", "time:day", DimensionKind::kTime},
    {"time:week", "time:week", DimensionKind::kTime},
    {"time:month", "time:month", DimensionKind::kTime},
};

// Whole-number division rounded half up, for non-negative numerators and positive divisors.
std::int64_t roundedDiv(std::int64_t num, std::int64_t den) {
  return (2 * num + den) / (2 * den);
}

}  // namespace

std::string_view name(Metric metric) {
  for (const auto& [m, n] : kMetrics) {
    if (m == metric) return n;
  }
  return "";
}

std::optional<Metric> metricNamed(std::string_view text) {
  for (const auto& [m, n] : kMetrics) {
    if (n == text) return m;
  }
  return std::nullopt;
}

std::optional<Dim> dimensionNamed(std::string_view text) {
  // The REST API's name for the event type, kept from its first version.
  if (text == "eventType") text = "event_type";
  for (const auto& d : kDimensions) {
    if (text == d.name || text == d.plausible) return Dim{std::string(d.name), d.kind};
  }
  for (std::string_view prefix : {"prop:", "event:props:"}) {
    if (text.substr(0, prefix.size()) == prefix && text.size() > prefix.size()) {
      return Dim{"prop:" + std::string(text.substr(prefix.size())), DimensionKind::kEvent};
    }
  }
  return std::nullopt;
}

std::optional<FilterOp> filterOpNamed(std::string_view text) {
  if (text == "is") return FilterOp::kIs;
  if (text == "is_not") return FilterOp::kIsNot;
  if (text == "contains") return FilterOp::kContains;
  if (text == "contains_not") return FilterOp::kContainsNot;
  if (text == "matches") return FilterOp::kMatches;
  if (text == "matches_not") return FilterOp::kMatchesNot;
  return std::nullopt;
}

double value(Metric metric, const Totals& t) {
  switch (metric) {
    case Metric::kVisitors:
      return static_cast<double>(t.visitors);
    case Metric::kVisits:
      return static_cast<double>(t.visits);
    case Metric::kPageviews:
      return static_cast<double>(t.pageviews);
    case Metric::kEvents:
      return static_cast<double>(t.events);
    case Metric::kViewsPerVisit:
      return t.visits == 0 ? 0.0
                           : static_cast<double>(roundedDiv(t.pageviews * 100, t.visits)) / 100.0;
    case Metric::kBounceRate: {
      const std::int64_t rated = t.visits - t.unratedVisits;
      return rated <= 0 ? 0.0 : static_cast<double>(roundedDiv(t.bounces * 100, rated));
    }
    case Metric::kVisitDuration: {
      const std::int64_t rated = t.visits - t.unratedVisits;
      return rated <= 0 ? 0.0 : static_cast<double>(roundedDiv(t.durationMs, rated * 1000));
    }
    case Metric::kConversionRate:
      return t.baseVisitors == 0
                 ? 0.0
                 : static_cast<double>(roundedDiv(t.visitors * 10'000, t.baseVisitors)) / 100.0;
  }
  return 0.0;
}

DateRange comparisonRange(const DateRange& range, Compare compare) {
  using std::chrono::days;
  if (compare == Compare::kPreviousPeriod) {
    const days length = range.to - range.from + days{1};
    return DateRange{range.from - length, range.to - length};
  }
  const auto yearEarlier = [](std::chrono::sys_days day) {
    std::chrono::year_month_day ymd{day};
    std::chrono::year_month_day earlier{ymd.year() - std::chrono::years{1}, ymd.month(), ymd.day()};
    if (!earlier.ok()) earlier = earlier.year() / earlier.month() / std::chrono::last;
    return std::chrono::sys_days{earlier};
  };
  return DateRange{yearEarlier(range.from), yearEarlier(range.to)};
}

}  // namespace mp::stats
