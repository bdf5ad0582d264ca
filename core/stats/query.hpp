// One stats question, as every endpoint asks it (the REST reports, POST /api/v2/query, mpctl
// stats): metrics over a website's date range, grouped by dimensions, narrowed by filters,
// ordered and paged, optionally compared with another period. The engine (stats/engine.hpp)
// answers it; docs/metrics.md defines each metric, dimension and filter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stats/params.hpp"

namespace mp::stats {

enum class Metric {
  kVisitors,
  kVisits,
  kPageviews,
  kEvents,
  kViewsPerVisit,
  kBounceRate,
  kVisitDuration,
  /// Visitors who converted ÷ visitors: the query's event filters are the conversion (a goal);
  /// the same query without them gives the visitors it is a share of.
  kConversionRate,
};

/// The API name of a metric ("views_per_visit"), and the metric of a name (nullopt: unknown).
std::string_view name(Metric metric);
std::optional<Metric> metricNamed(std::string_view name);

/// What a dimension describes: a visit (its first event's attribute, its entry or exit page), an
/// event (page, type, a property), or time.
enum class DimensionKind { kVisit, kEvent, kTime };

/// A dimension by its canonical name: "source", "page", "event_type", "prop:plan", "time:day".
struct Dim {
  std::string name;
  DimensionKind kind = DimensionKind::kVisit;
  friend bool operator==(const Dim&, const Dim&) = default;
};

/// The dimension a name denotes, in our spelling ("entry_page", "eventType", "prop:plan",
/// "time:hour") or Plausible's ("visit:entry_page", "event:name", "event:props:plan"); nullopt
/// for an unknown name.
std::optional<Dim> dimensionNamed(std::string_view name);

enum class FilterOp { kIs, kIsNot, kContains, kContainsNot, kMatches, kMatchesNot };

/// The operator of a name ("is", "is_not", "contains", "contains_not", "matches",
/// "matches_not"); nullopt otherwise.
std::optional<FilterOp> filterOpNamed(std::string_view name);

struct Filter {
  Dim dimension;  ///< never a time dimension
  FilterOp op = FilterOp::kIs;
  std::vector<std::string> values;  ///< one or more; RE2 patterns for matches
};

struct Order {
  /// A metric, or one of the query's dimensions.
  std::optional<Metric> metric;
  std::optional<Dim> dimension;
  bool descending = true;
};

enum class Compare { kPreviousPeriod, kYearOverYear };

struct Query {
  std::string websiteId;
  std::string timeZone = "UTC";
  DateRange range;
  std::vector<Metric> metrics;
  std::vector<Dim> dimensions;  ///< at most one event dimension or time:hour
  std::vector<Filter> filters;  ///< all must hold
  std::vector<Order> orderBy;   ///< default: the first metric, descending, then dimensions
  int limit = 10000;
  int offset = 0;
  std::optional<Compare> compare;
  /// A visit without a value of an entry_page, exit_page, utm_* or prop: dimension counts under
  /// "" instead of being left out (exports, whose rows must add up to the totals).
  bool keepMissing = false;
  /// Days imported as daily aggregates (mpctl import) are counted where the question is one
  /// their aggregates answer (Answer::imported says whether they were).
  bool withImported = true;
};

/// The sums every metric is computed from (docs/metrics.md).
struct Totals {
  std::int64_t visitors = 0;
  std::int64_t visits = 0;
  std::int64_t pageviews = 0;
  std::int64_t events = 0;
  std::int64_t bounces = 0;
  std::int64_t durationMs = 0;
  /// The visitors of the same row without the query's event filters (conversion_rate only).
  std::int64_t baseVisitors = 0;
  /// Visits (of imported days) whose bounces and duration are unknown: bounce_rate and
  /// visit_duration are over the other visits.
  std::int64_t unratedVisits = 0;
};

/// A metric's value from its sums: counts as they are, bounce_rate in whole percent,
/// visit_duration in whole seconds (both rounded half up), views_per_visit and conversion_rate
/// (percent) to two decimals.
double value(Metric metric, const Totals& totals);

struct Row {
  std::vector<std::string> dimensions;  ///< values in the query's dimension order
  Totals totals;
};

/// Days of a query's range imported as daily aggregates (mpctl import, Plausible's CSVs), and
/// what of them its answer holds.
struct ImportedDays {
  int days = 0;  ///< such days in the range (and the comparison range)
  std::chrono::sys_days first{}, last{};
  /// Whether the answer counts them; false when the question is one daily aggregates cannot
  /// answer (`reason` says why) or the query asked without them.
  bool included = false;
  std::string reason;
  /// Metrics of the query those days do not give (their rows count as zero for them): e.g.
  /// bounce_rate and visit_duration per page.
  std::vector<Metric> unavailable;
};

struct Answer {
  std::vector<Row> rows;
  /// With compare: the comparison period's rows (same dimensions, found by value).
  std::optional<std::vector<Row>> comparison;
  std::optional<DateRange> comparisonRange;
  /// Set when the range holds imported aggregate days.
  std::optional<ImportedDays> imported;
};

/// The range `compare` sets beside `range`: the same number of days just before it, or the same
/// dates a year earlier (29 February becomes the 28th).
DateRange comparisonRange(const DateRange& range, Compare compare);

}  // namespace mp::stats
