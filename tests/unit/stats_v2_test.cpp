// Stats API v2 requests without a database: what is accepted and how (date ranges against a fixed
// today, both dimension spellings, the order spelt out), what is refused and with which key named,
// and the answer's shape (time values, paging for total_rows, meta, the echoed query).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "stats/v2.hpp"
#include "util/error.hpp"

namespace mp::stats::v2 {
namespace {

using json = nlohmann::json;
using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr sys_days day(int y, unsigned m, unsigned d) {
  return sys_days{std::chrono::year{y} / m / d};
}

// Tuesday 10 March 2026.
constexpr sys_days kToday = day(2026, 3, 10);

json base() {
  return {{"site_id", "example.com"}, {"metrics", {"visitors"}}, {"date_range", "7d"}};
}

json with(const char* key, const json& value) {
  json body = base();
  body[key] = value;
  return body;
}

// The InvalidInput that parseRequest() throws for `body`: its field and message.
std::pair<std::string, std::string> refusal(const json& body) {
  try {
    parseRequest(body);
  } catch (const InvalidInput& e) {
    return {e.field(), e.what()};
  }
  ADD_FAILURE() << "accepted: " << body.dump();
  return {};
}

DateRange rangeOf(const json& dateRange, std::optional<sys_days> start = std::nullopt) {
  const Request r = parseRequest(with("date_range", dateRange));
  return resolveRange(r.dateRange, kToday, [start] { return start; });
}

TEST(StatsV2, TheSmallestQuery) {
  const Request r = parseRequest(base());
  EXPECT_EQ(r.siteId, "example.com");
  EXPECT_EQ(r.metrics, std::vector<Metric>{Metric::kVisitors});
  EXPECT_TRUE(r.dimensions.empty());
  EXPECT_TRUE(r.filters.empty());
  EXPECT_EQ(r.limit, 10000);
  EXPECT_EQ(r.offset, 0);
}

TEST(StatsV2, DateRangesResolveAgainstToday) {
  EXPECT_EQ(rangeOf("day"), (DateRange{kToday, kToday}));
  EXPECT_EQ(rangeOf("7d"), (DateRange{day(2026, 3, 3), day(2026, 3, 9)}));
  EXPECT_EQ(rangeOf("28d"), (DateRange{day(2026, 2, 10), day(2026, 3, 9)}));
  EXPECT_EQ(rangeOf("30d"), (DateRange{day(2026, 2, 8), day(2026, 3, 9)}));
  EXPECT_EQ(rangeOf("91d"), (DateRange{day(2025, 12, 9), day(2026, 3, 9)}));
  EXPECT_EQ(rangeOf("month"), (DateRange{day(2026, 3, 1), day(2026, 3, 31)}));
  EXPECT_EQ(rangeOf("6mo"), (DateRange{day(2025, 9, 1), day(2026, 2, 28)}));
  EXPECT_EQ(rangeOf("12mo"), (DateRange{day(2025, 3, 1), day(2026, 2, 28)}));
  EXPECT_EQ(rangeOf("year"), (DateRange{day(2026, 1, 1), day(2026, 12, 31)}));
  EXPECT_EQ(rangeOf(json::array({"2026-01-05", "2026-01-05"})),
            (DateRange{day(2026, 1, 5), day(2026, 1, 5)}));
  // "all": from the first day of the website's stats, today when it has none, ten years at most.
  EXPECT_EQ(rangeOf("all", day(2025, 7, 1)), (DateRange{day(2025, 7, 1), kToday}));
  EXPECT_EQ(rangeOf("all"), (DateRange{kToday, kToday}));
  EXPECT_EQ(rangeOf("all", day(1990, 1, 1)).days(), kMaxRangeDays);
  EXPECT_EQ(rangeOf("all", kToday + std::chrono::days{1}), (DateRange{kToday, kToday}));
}

TEST(StatsV2, DateRangesThatAreRefused) {
  EXPECT_THAT(
      refusal(with("date_range", json::array({"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"})))
          .second,
      HasSubstr("only dates are supported"));
  for (const char* text :
       {"realtime", "30m", "24h", "fortnight", "0d", "-7d", "07d", "3661d", "121mo", ""}) {
    const auto [field, message] = refusal(with("date_range", text));
    EXPECT_EQ(field, "date_range") << text;
    EXPECT_THAT(message, HasSubstr("date_range")) << text;
  }
  for (const json& bad : {json::array({"2026-03-02", "2026-03-01"}), json::array({"2026-03-01"}),
                          json::array({"2026-02-30", "2026-03-01"}),
                          json::array({"2000-01-01", "2026-03-01"}), json(7), json::object()}) {
    EXPECT_EQ(refusal(with("date_range", bad)).first, "date_range") << bad.dump();
  }
}

TEST(StatsV2, MetricsAreOursAndOthersNamed) {
  const Request all =
      parseRequest(with("metrics", {"visitors", "visits", "pageviews", "events", "views_per_visit",
                                    "bounce_rate", "visit_duration"}));
  EXPECT_EQ(all.metrics.size(), 7u);
  for (const char* other :
       {"conversion_rate", "time_on_page", "scroll_depth", "percentage", "exit_rate", "Visitors"}) {
    const auto [field, message] = refusal(with("metrics", {"visitors", other}));
    EXPECT_EQ(field, "metrics");
    EXPECT_THAT(message, HasSubstr(other));
  }
  EXPECT_THAT(refusal(with("metrics", {"visits", "visits"})).second, HasSubstr("twice"));
  EXPECT_EQ(refusal(with("metrics", json::array())).first, "metrics");
  EXPECT_EQ(refusal(with("metrics", "visitors")).first, "metrics");
}

TEST(StatsV2, DimensionsInBothSpellings) {
  const Request r =
      parseRequest(with("dimensions", {"visit:source", "country", "time", "event:props:plan"}));
  ASSERT_EQ(r.dimensions.size(), 4u);
  EXPECT_EQ(r.dimensions[0].name, "source");
  EXPECT_EQ(r.dimensions[1].name, "country");
  EXPECT_EQ(r.dimensions[2].name, "time:day");
  EXPECT_EQ(r.dimensions[3].name, "prop:plan");
  EXPECT_EQ(r.dimensionNames,
            (std::vector<std::string>{"visit:source", "country", "time:day", "event:props:plan"}));
  for (const char* other :
       {"visit:city", "visit:country_name", "event:goal", "segment", "time:minute"}) {
    const auto [field, message] = refusal(with("dimensions", {other}));
    EXPECT_EQ(field, "dimensions");
    EXPECT_THAT(message, HasSubstr(other));
  }
  EXPECT_THAT(refusal(with("dimensions", {"source", "visit:source"})).second, HasSubstr("twice"));
  EXPECT_THAT(refusal(with("dimensions", {"event:page", "time:hour"})).second,
              HasSubstr("cannot be combined"));
}

TEST(StatsV2, FiltersAreListsOfConditions) {
  const Request r = parseRequest(with("filters", json::parse(R"([["is", "visit:country", ["SE"]],
                                      ["contains_not", "page", ["/blog"]]])")));
  ASSERT_EQ(r.filters.size(), 2u);
  EXPECT_EQ(r.filters[0].dimension.name, "country");
  EXPECT_EQ(r.filters[1].op, FilterOp::kContainsNot);
  for (const char* op : {"and", "or", "not", "has_done", "has_not_done"}) {
    const auto [field, message] = refusal(with(
        "filters", json::parse(std::string(R"([[")") + op + R"(", [["is", "page", ["/"]]]]])")));
    EXPECT_EQ(field, "filters");
    EXPECT_THAT(message, HasSubstr(std::string("\"") + op + "\""));
  }
  EXPECT_THAT(
      refusal(with("filters", json::parse(R"([["is", "page", ["/"], {"case_sensitive": false}]])")))
          .second,
      HasSubstr("modifiers"));
  EXPECT_THAT(
      refusal(with("filters", json::parse(R"([["is", "time:day", ["2026-01-01"]]])"))).second,
      HasSubstr("time"));
}

TEST(StatsV2, OrderPaginationAndInclude) {
  json body = base();
  body["metrics"] = {"visitors", "visits"};
  body["dimensions"] = {"visit:source"};
  body["order_by"] = json::parse(R"([["visits", "asc"], ["visit:source", "desc"]])");
  body["pagination"] = {{"limit", 5}, {"offset", 10}};
  body["include"] = {{"total_rows", true}, {"imports", false}};
  const Request r = parseRequest(body);
  const Site site{"0190b7a8-0000-7000-8000-000000000001", "example.com", "Europe/Berlin"};
  const DateRange range{day(2026, 3, 1), day(2026, 3, 7)};
  const Query q = toQuery(r, site, range);
  EXPECT_EQ(q.websiteId, site.id);
  EXPECT_EQ(q.timeZone, "Europe/Berlin");
  EXPECT_EQ(q.range, range);
  ASSERT_EQ(q.orderBy.size(), 2u);
  EXPECT_EQ(q.orderBy[0].metric, Metric::kVisits);
  EXPECT_FALSE(q.orderBy[0].descending);
  EXPECT_EQ(q.orderBy[1].dimension->name, "source");
  EXPECT_TRUE(q.orderBy[1].descending);
  // total_rows: every row is asked for, response() pages.
  EXPECT_EQ(q.offset, 0);
  EXPECT_GT(q.limit, 1000000);

  const auto e = echo(r, site, range);
  EXPECT_EQ(json::parse(e.dump()),
            json::parse(R"({"site_id": "example.com", "metrics": ["visitors", "visits"],
                            "date_range": ["2026-03-01", "2026-03-07"], "filters": [],
                            "dimensions": ["visit:source"],
                            "order_by": [["visits", "asc"], ["visit:source", "desc"]],
                            "include": {"total_rows": true},
                            "pagination": {"limit": 5, "offset": 10}})"));
  // The keys in Plausible's order.
  EXPECT_EQ(e.begin().key(), "site_id");

  EXPECT_EQ(refusal(with("order_by", json::parse(R"([["visits", "desc"]])"))).first, "order_by");
  EXPECT_EQ(refusal(with("order_by", json::parse(R"([["visitors", "down"]])"))).first, "order_by");
  EXPECT_EQ(refusal(with("order_by", json::parse(R"([["time", "asc"]])"))).first, "order_by");
  for (const json& p : {json{{"limit", 0}}, json{{"limit", 10001}}, json{{"limit", 1.5}},
                        json{{"offset", -1}}, json{{"page", 2}}, json("10")}) {
    EXPECT_EQ(refusal(with("pagination", p)).first, "pagination") << p.dump();
  }
  EXPECT_THAT(refusal(with("include", {{"comparisons", {{"mode", "previous_period"}}}})).second,
              HasSubstr("comparisons"));
  EXPECT_THAT(refusal(with("include", {{"time_labels", true}})).second, HasSubstr("time"));
  EXPECT_EQ(refusal(with("include", {{"total_rows", "yes"}})).first, "include");
}

TEST(StatsV2, TheDefaultOrderIsSpeltOut) {
  // Time ascending when there is a time dimension, else the first metric descending.
  json timed = with("dimensions", {"visit:source", "time"});
  timed["metrics"] = {"pageviews", "visitors"};
  const Site site{"id", "example.com", "UTC"};
  const DateRange range{kToday, kToday};
  EXPECT_EQ(json::parse(echo(parseRequest(timed), site, range)["order_by"].dump()),
            json::parse(R"([["time:day", "asc"]])"));
  json plain = with("dimensions", {"visit:source"});
  plain["metrics"] = {"pageviews", "visitors"};
  EXPECT_EQ(json::parse(echo(parseRequest(plain), site, range)["order_by"].dump()),
            json::parse(R"([["pageviews", "desc"]])"));
}

TEST(StatsV2, UnknownKeysAndMissingOnesAreNamed) {
  for (const char* key : {"date", "interval", "property", "funnel"}) {
    const auto [field, message] = refusal(with(key, "x"));
    EXPECT_EQ(field, key);
    EXPECT_THAT(message, HasSubstr(key));
  }
  for (const char* key : {"site_id", "metrics", "date_range"}) {
    json body = base();
    body.erase(key);
    const auto [field, message] = refusal(body);
    EXPECT_EQ(field, key);
    EXPECT_THAT(message, HasSubstr(key));
  }
  EXPECT_EQ(refusal(with("site_id", 42)).first, "site_id");
  EXPECT_EQ(refusal(json::array()).first, "body");
}

TEST(StatsV2, TheAnswersShape) {
  json body = base();
  body["metrics"] = {"visitors", "views_per_visit", "bounce_rate"};
  body["dimensions"] = {"time:week", "time:hour"};
  body["pagination"] = {{"limit", 1}, {"offset", 1}};
  body["include"] = {{"total_rows", true}, {"time_labels", true}, {"imports", true}};
  const Request r = parseRequest(body);
  const Site site{"id", "example.com", "Asia/Kathmandu"};
  const DateRange range{kToday, kToday + std::chrono::days{7}};  // Tuesday to Tuesday
  const Totals t{.visitors = 3, .visits = 4, .pageviews = 5, .events = 6, .bounces = 1};
  const std::vector<Row> rows = {
      {{"2026-03-09", "2026-03-10T00:15:00.000Z"}, t},
      {{"2026-03-09", "2026-03-10T01:15:00.000Z"}, t},
      {{"2026-03-16", "2026-03-16T00:15:00.000Z"}, t},
  };
  Labels labels;
  labels.hours = {{"2026-03-10T00:15:00.000Z", "2026-03-10 06:00:00"},
                  {"2026-03-10T01:15:00.000Z", "2026-03-10 07:00:00"},
                  {"2026-03-16T00:15:00.000Z", "2026-03-16 06:00:00"}};
  labels.timeLabels = {"2026-03-10", "2026-03-16"};
  const json answer = json::parse(response(r, site, range, rows, labels).dump());
  // The second row only (offset 1, limit 1); the week that began on Monday the 9th is labelled
  // by the range's first day.
  EXPECT_EQ(answer["results"], json::parse(R"([{"metrics": [3, 1.25, 25],
                             "dimensions": ["2026-03-10", "2026-03-10 07:00:00"]}])"));
  EXPECT_EQ(answer["meta"],
            json::parse(R"({"imports_included": false, "imports_skip_reason": "no_imported_data",
                            "time_labels": ["2026-03-10", "2026-03-16"], "total_rows": 3})"));
  EXPECT_EQ(answer["query"]["date_range"], json::parse(R"(["2026-03-10", "2026-03-17"])"));
  EXPECT_TRUE(answer["results"][0]["metrics"][0].is_number_integer());
  EXPECT_TRUE(answer["results"][0]["metrics"][2].is_number_integer());
}

}  // namespace
}  // namespace mp::stats::v2
