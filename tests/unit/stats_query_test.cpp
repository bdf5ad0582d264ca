// The names, parameters and arithmetic of stats questions: metric values from their sums,
// comparison periods, dimension spellings, and filters as the APIs take them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "stats/query.hpp"
#include "stats/query_params.hpp"
#include "util/error.hpp"

namespace mp::stats {
namespace {

using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr sys_days day(int y, unsigned m, unsigned d) {
  return sys_days{std::chrono::year{y} / m / d};
}

TEST(StatsQuery, MetricValuesRoundHalfUp) {
  Totals t{
      .visitors = 3, .visits = 8, .pageviews = 10, .events = 12, .bounces = 3, .durationMs = 4'000};
  EXPECT_EQ(value(Metric::kBounceRate, t), 38);       // 37.5 %
  EXPECT_EQ(value(Metric::kVisitDuration, t), 1);     // 0.5 s
  EXPECT_EQ(value(Metric::kViewsPerVisit, t), 1.25);  // 10 / 8
  t.visits = 3;
  EXPECT_EQ(value(Metric::kViewsPerVisit, t), 3.33);
  EXPECT_EQ(value(Metric::kBounceRate, t), 100);
  // Converted visitors over the visitors without the goal, two decimals.
  const Totals goal{.visitors = 1, .baseVisitors = 3};
  EXPECT_EQ(value(Metric::kConversionRate, goal), 33.33);
  EXPECT_EQ(value(Metric::kConversionRate, Totals{}), 0);
  // No visits: zeros, not a division by zero.
  const Totals none;
  for (Metric m : {Metric::kBounceRate, Metric::kVisitDuration, Metric::kViewsPerVisit}) {
    EXPECT_EQ(value(m, none), 0) << name(m);
  }
}

TEST(StatsQuery, ComparisonPeriods) {
  const DateRange week{day(2026, 3, 1), day(2026, 3, 7)};
  EXPECT_EQ(comparisonRange(week, Compare::kPreviousPeriod),
            (DateRange{day(2026, 2, 22), day(2026, 2, 28)}));
  EXPECT_EQ(comparisonRange(week, Compare::kYearOverYear),
            (DateRange{day(2025, 3, 1), day(2025, 3, 7)}));
  // 29 February a year earlier is the 28th.
  EXPECT_EQ(comparisonRange({day(2028, 2, 29), day(2028, 2, 29)}, Compare::kYearOverYear),
            (DateRange{day(2027, 2, 28), day(2027, 2, 28)}));
  EXPECT_EQ(parseCompare(std::nullopt), std::nullopt);
  EXPECT_EQ(parseCompare("previous_period"), Compare::kPreviousPeriod);
  EXPECT_EQ(parseCompare("year_over_year"), Compare::kYearOverYear);
  try {
    parseCompare("last_year");
    FAIL() << "accepted";
  } catch (const InvalidInput& e) {
    EXPECT_EQ(e.field(), "compare");
    EXPECT_THAT(e.what(), HasSubstr("previous_period"));
  }
}

TEST(StatsQuery, DimensionsInOurSpellingAndPlausibles) {
  EXPECT_EQ(dimensionNamed("visit:source")->name, "source");
  EXPECT_EQ(dimensionNamed("event:name")->name, "event_type");
  EXPECT_EQ(dimensionNamed("eventType")->name, "event_type");
  EXPECT_EQ(dimensionNamed("event:props:plan")->name, "prop:plan");
  EXPECT_EQ(dimensionNamed("event:props:plan")->kind, DimensionKind::kEvent);
  EXPECT_EQ(dimensionNamed("entry_page")->kind, DimensionKind::kVisit);
  EXPECT_EQ(dimensionNamed("time:week")->kind, DimensionKind::kTime);
  for (const char* unknown : {"", "prop:", "event:props:", "visit:planet", "Page", "time:year"}) {
    EXPECT_EQ(dimensionNamed(unknown), std::nullopt) << unknown;
  }
  EXPECT_EQ(metricNamed("bounce_rate"), Metric::kBounceRate);
  EXPECT_EQ(metricNamed("bounceRate"), std::nullopt);
}

std::string refusal(const std::string& filters) {
  try {
    parseFilters(filters);
  } catch (const InvalidInput& e) {
    EXPECT_EQ(e.field(), "filters") << filters;
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << filters;
  return "";
}

TEST(StatsQuery, FiltersInPlausiblesShape) {
  const auto filters =
      parseFilters(R"([["is","visit:country",["DE","FR"]],["contains","page",["/blog"]],)"
                   R"(["matches_not","event:props:plan",["^free$"]]])");
  ASSERT_EQ(filters.size(), 3u);
  EXPECT_EQ(filters[0].dimension.name, "country");
  EXPECT_EQ(filters[0].op, FilterOp::kIs);
  EXPECT_EQ(filters[0].values, (std::vector<std::string>{"DE", "FR"}));
  EXPECT_EQ(filters[1].op, FilterOp::kContains);
  EXPECT_EQ(filters[2].dimension.name, "prop:plan");
  EXPECT_EQ(filters[2].op, FilterOp::kMatchesNot);
  EXPECT_TRUE(parseFilters(std::nullopt).empty());
  EXPECT_TRUE(parseFilters("[]").empty());

  EXPECT_THAT(refusal("nope"), HasSubstr("JSON"));
  EXPECT_THAT(refusal(R"({"is":"page"})"), HasSubstr("array"));
  EXPECT_THAT(refusal(R"([["is","page"]])"), HasSubstr("[operator, dimension, [values]]"));
  EXPECT_THAT(refusal(R"([["near","page",["/"]]])"), HasSubstr("near"));
  EXPECT_THAT(refusal(R"([["is","planet",["x"]]])"), HasSubstr("planet"));
  EXPECT_THAT(refusal(R"([["is","time:day",["2026-01-01"]]])"), HasSubstr("date range"));
  EXPECT_THAT(refusal(R"([["is","page",[]]])"), HasSubstr("1 to"));
  EXPECT_THAT(refusal(R"([["is","page",[1]]])"), HasSubstr("strings"));
}

}  // namespace
}  // namespace mp::stats
