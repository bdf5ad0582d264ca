// POST /api/v2/query and mpctl stats query end to end: every answer equals the same question asked
// of the engine (and, for a few, the definitions in plain SQL), the website by id or domain, each
// date_range form against today, both spellings of the dimensions, filters, order, pagination, the
// time dimensions as Plausible writes them, and each unsupported part refused with its name.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "goals/goals.hpp"
#include "stats/engine.hpp"
#include "stats/query.hpp"
#include "stats/stats.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/reference.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using stats::DateRange;
using stats::Metric;
using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr int kDataDays = 40;
constexpr const char* kZone = "Asia/Kathmandu";  // UTC+5:45, no daylight saving

std::string date(sys_days day) {
  return util::formatDate(day);
}

class V2Query : public TrackingFixture {
 protected:
  // The daemon's own schedule would fold while a test compares answers.
  std::string extraToml() override { return "[aggregation]\nenabled = false\n"; }

  void SetUp() override {
    TrackingFixture::SetUp();
    if (HasFatalFailure()) return;
    const std::int64_t now = util::nowMillis() / 1000;
    token_ = auth::signToken({owner_, now, now + 600}, secret_);
    today_ = util::todayUtc();
    zoned_ = seed::website(conn_, owner_, "Zoned", "zoned.example");
    conn_.execArgs("UPDATE websites SET time_zone = $2 WHERE id = $1::uuid", zoned_, kZone);
    empty_ = seed::website(conn_, owner_, "Empty", "empty.example");
    const std::string stranger = seed::owner(conn_, "stranger@example.com");
    foreign_ = seed::website(conn_, stranger, "Foreign", "foreign.example");
    // kDataDays days of events ending today on both websites: pages, countries, sources, a plan
    // property on the signups; today's lie in its first seconds (before now).
    std::vector<seed::Event> events;
    for (const std::string& site : {site_, zoned_}) {
      for (int d = 0; d < kDataDays; ++d) {
        for (int i = 0; i < 5 + d % 7; ++i) {
          const std::int64_t ms =
              seed::dayStartMs(today_ - days{d}) + (d == 0 ? i * 100 : i * 4'500'000 + d * 60'000);
          const bool signup = i % 4 == 3;
          events.push_back({.website = site,
                            .ts = util::formatRfc3339Millis(ms),
                            .type = signup ? "Signup" : "pageview",
                            .page = fmt::format("/page-{}", (i + d) % 5),
                            .session = fmt::format("s{}-{}", d, i / 2),
                            .visitor = d * 100 + i / 2,
                            .referrer = seed::text(i % 3 ? "search.example" : nullptr),
                            .browser = i % 2 ? "Firefox" : "Chrome",
                            .country = seed::text(i % 3 == 1 ? "SE" : (i % 3 ? "DE" : nullptr)),
                            .source = seed::text(i % 3 ? "Search" : nullptr),
                            .props = signup
                                         ? std::optional<std::string>(d % 2 ? R"({"plan": "pro"})"
                                                                            : R"({"plan": "free"})")
                                         : std::nullopt});
        }
      }
    }
    seed::insertEvents(conn_, events);
    // Older days folded, recent ones read from raw events.
    aggregation::foldRange(conn_, today_ - days{kDataDays}, today_ - days{10});
    config_ = dir_.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n[redis]\nurl = \"" +
                                        redis_.url() + "\"\n");
  }

  HttpResponse post(const std::string& body, const std::string& token) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    return httpRequest("POST", url("/api/v2/query"), body, headers);
  }

  json query(const json& body) {
    auto r = post(body.dump(), token_);
    EXPECT_EQ(r.status, 200) << body.dump() << ": " << r.body;
    auto parsed = json::parse(r.body, nullptr, false);
    return parsed.is_discarded() ? json::object() : parsed;
  }

  // The 400 answer to `body`, whose message must name `what`.
  void expectRefused(const json& body, const std::string& what) {
    auto r = post(body.dump(), token_);
    EXPECT_EQ(r.status, 400) << body.dump() << ": " << r.body;
    EXPECT_EQ(errorCode(r), "invalid_request") << body.dump();
    const auto parsed = json::parse(r.body, nullptr, false);
    if (parsed.is_object() && parsed.contains("error")) {
      EXPECT_THAT(parsed["error"]["message"].get<std::string>(), HasSubstr(what)) << body.dump();
    }
  }

  // The engine's question, built here from the parts without the v2 code.
  stats::Query engineQuery(const std::string& site, const DateRange& range,
                           const std::vector<std::string>& metrics,
                           const std::vector<std::string>& dimensions = {},
                           const std::string& zone = "UTC") {
    stats::Query q;
    q.websiteId = site;
    q.timeZone = zone;
    q.range = range;
    for (const auto& m : metrics) q.metrics.push_back(*stats::metricNamed(m));
    for (const auto& d : dimensions) q.dimensions.push_back(*stats::dimensionNamed(d));
    return q;
  }

  // The answer's results are the engine's rows for `q`: the same values, metrics and order.
  void expectEngine(const json& answer, const stats::Query& q) {
    const auto rows = stats::run(conn_, q).rows;
    const json& results = answer["results"];
    ASSERT_EQ(results.size(), rows.size()) << answer.dump();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const json& result = results[i];
      ASSERT_EQ(result["metrics"].size(), q.metrics.size());
      for (std::size_t m = 0; m < q.metrics.size(); ++m) {
        const double want = stats::value(q.metrics[m], rows[i].totals);
        if (q.metrics[m] == Metric::kViewsPerVisit) {
          EXPECT_DOUBLE_EQ(result["metrics"][m].get<double>(), want) << i;
        } else {
          ASSERT_TRUE(result["metrics"][m].is_number_integer()) << result.dump();
          EXPECT_EQ(result["metrics"][m].get<std::int64_t>(), static_cast<std::int64_t>(want))
              << i << " " << stats::name(q.metrics[m]);
        }
      }
      ASSERT_EQ(result["dimensions"].size(), q.dimensions.size());
      for (std::size_t d = 0; d < q.dimensions.size(); ++d) {
        std::string want = rows[i].dimensions[d];
        if (q.dimensions[d].name == "time:week") want = std::max(want, date(q.range.from));
        if (q.dimensions[d].name == "time:hour") continue;  // checked where hours are asked
        EXPECT_EQ(result["dimensions"][d].get<std::string>(), want) << i;
      }
    }
  }

  stats::Totals totalsOf(const stats::Query& q) {
    auto rows = stats::run(conn_, q).rows;
    return rows.empty() ? stats::Totals{} : rows[0].totals;
  }

  ProcessResult mpctl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {mpctlPath(), "-c", config_.string(), "stats", "query"});
    return runProcess(args, input);
  }

  db::Connection conn_{db_.url(), std::chrono::seconds(10)};
  std::string token_;
  sys_days today_;
  std::string zoned_;
  std::string empty_;
  std::string foreign_;
  TempDir dir_;
  std::filesystem::path config_;
};

const std::vector<std::string> kAllMetrics = {"visitors",      "visits",          "pageviews",
                                              "events",        "views_per_visit", "bounce_rate",
                                              "visit_duration"};

TEST_F(V2Query, AggregateOverSevenDaysIsTheEngines) {
  const json answer = query({{"site_id", site_}, {"metrics", kAllMetrics}, {"date_range", "7d"}});
  const DateRange range{today_ - days{7}, today_ - days{1}};
  expectEngine(answer, engineQuery(site_, range, kAllMetrics));
  ASSERT_EQ(answer["results"].size(), 1u);
  EXPECT_EQ(answer["results"][0]["dimensions"], json::array());
  EXPECT_EQ(answer["meta"], json::object());
  const json& echoed = answer["query"];
  EXPECT_EQ(echoed["site_id"], "example.com");
  EXPECT_EQ(echoed["metrics"], kAllMetrics);
  EXPECT_EQ(echoed["date_range"], json::array({date(range.from), date(range.to)}));
  EXPECT_EQ(echoed["dimensions"], json::array());
  EXPECT_EQ(echoed["filters"], json::array());
  EXPECT_EQ(echoed["order_by"], json::parse(R"([["visitors","desc"]])"));
  EXPECT_EQ(echoed["pagination"], json::parse(R"({"limit":10000,"offset":0})"));
}

TEST_F(V2Query, SiteIdIsTheIdInAnyCaseOrTheDomain) {
  std::string upper = site_;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const json byId = query({{"site_id", site_}, {"metrics", {"visitors"}}, {"date_range", "28d"}});
  for (const std::string& id :
       {upper, std::string("example.com"), std::string("WWW.Example.com")}) {
    const json other = query({{"site_id", id}, {"metrics", {"visitors"}}, {"date_range", "28d"}});
    EXPECT_EQ(other, byId) << id;
  }
  EXPECT_GT(byId["results"][0]["metrics"][0].get<int>(), 0);
}

TEST_F(V2Query, EveryDateRangeFormResolvesAgainstTodayInTheWebsitesZone) {
  using std::chrono::year_month_day;
  const year_month_day ymd{today_};
  const auto month = ymd.year() / ymd.month();
  const auto monthsBack = [&](int n) {
    return DateRange{sys_days{(month - std::chrono::months{n}) / 1},
                     sys_days{(month - std::chrono::months{1}) / std::chrono::last}};
  };
  const std::vector<std::pair<json, DateRange>> forms = {
      {"day", {today_, today_}},
      {"7d", {today_ - days{7}, today_ - days{1}}},
      {"28d", {today_ - days{28}, today_ - days{1}}},
      {"30d", {today_ - days{30}, today_ - days{1}}},
      {"91d", {today_ - days{91}, today_ - days{1}}},
      {"month", {sys_days{month / 1}, sys_days{month / std::chrono::last}}},
      {"6mo", monthsBack(6)},
      {"12mo", monthsBack(12)},
      {"year", {sys_days{ymd.year() / 1 / 1}, sys_days{ymd.year() / 12 / 31}}},
      {"all", {today_ - days{kDataDays - 1}, today_}},
      {json::array({date(today_ - days{20}), date(today_ - days{3})}),
       {today_ - days{20}, today_ - days{3}}},
  };
  for (const auto& [form, range] : forms) {
    SCOPED_TRACE(form.dump());
    const json answer = query(
        {{"site_id", "example.com"}, {"metrics", {"visitors", "pageviews"}}, {"date_range", form}});
    EXPECT_EQ(answer["query"]["date_range"], json::array({date(range.from), date(range.to)}));
    expectEngine(answer, engineQuery(site_, range, {"visitors", "pageviews"}));
  }
  // A website without events: "all" starts the day it was created (today).
  const json empty = query({{"site_id", empty_}, {"metrics", {"visitors"}}, {"date_range", "all"}});
  EXPECT_EQ(empty["query"]["date_range"], json::array({date(today_), date(today_)}));
  EXPECT_EQ(empty["results"][0]["metrics"][0], 0);
  // The zoned website's "day" is today in Kathmandu.
  const sys_days zonedToday = stats::todayIn(conn_, kZone, util::nowMillis());
  const json zoned = query({{"site_id", zoned_}, {"metrics", {"events"}}, {"date_range", "day"}});
  EXPECT_EQ(zoned["query"]["date_range"], json::array({date(zonedToday), date(zonedToday)}));
  expectEngine(zoned, engineQuery(zoned_, {zonedToday, zonedToday}, {"events"}, {}, kZone));
}

TEST_F(V2Query, AnswersEqualTheDefinitionsInPlainSql) {
  const DateRange range{today_ - days{25}, today_ - days{2}};
  const json dates = json::array({date(range.from), date(range.to)});
  const json total = query({{"site_id", site_},
                            {"metrics", {"visitors", "visits", "pageviews", "events"}},
                            {"date_range", dates}});
  auto r = conn_.execArgs(test::reference::visits() + " SELECT " + test::reference::sums() +
                              " FROM vb WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3",
                          site_, date(range.from), date(range.to));
  ASSERT_EQ(total["results"].size(), 1u);
  EXPECT_EQ(total["results"][0]["metrics"],
            json::array({r.getInt(0, 0), r.getInt(0, 1), r.getInt(0, 2), r.getInt(0, 3)}));

  const json countries = query({{"site_id", site_},
                                {"metrics", {"visits", "visitors"}},
                                {"date_range", dates},
                                {"dimensions", {"visit:country"}},
                                {"order_by", json::parse(R"([["visits","desc"]])")}});
  auto c =
      conn_.execArgs(test::reference::visits() + " SELECT vb.country, " + test::reference::sums() +
                         " FROM vb WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3"
                         " GROUP BY 1 ORDER BY 3 DESC, vb.country COLLATE \"C\"",
                     site_, date(range.from), date(range.to));
  ASSERT_EQ(countries["results"].size(), static_cast<std::size_t>(c.rows()));
  for (int i = 0; i < c.rows(); ++i) {
    EXPECT_EQ(countries["results"][i]["dimensions"], json::array({std::string(c.get(i, 0))}));
    EXPECT_EQ(countries["results"][i]["metrics"], json::array({c.getInt(i, 2), c.getInt(i, 1)}));
  }
}

TEST_F(V2Query, ConversionRateOfAGoalByCountryIsConvertedOverAllVisitors) {
  goals::addGoal(conn_, site_, {.eventName = "Signup", .name = "Signed up"});
  const DateRange range{today_ - days{25}, today_ - days{2}};
  const json dates = json::array({date(range.from), date(range.to)});
  const json answer = query({{"site_id", site_},
                             {"metrics", {"visitors", "conversion_rate"}},
                             {"date_range", dates},
                             {"dimensions", {"visit:country"}},
                             {"filters", json::parse(R"([["is","event:goal",["Signed up"]]])")},
                             {"order_by", json::parse(R"([["visit:country","asc"]])")}});
  // Per country: visitors of visits with a Signup, and all visitors, by the definitions.
  auto r = conn_.execArgs(
      test::reference::visits() +
          ", c AS (SELECT vb.*, EXISTS (SELECT 1 FROM n WHERE (n.website_id, n.day, n.k, n.vn) ="
          " (vb.website_id, vb.day, vb.k, vb.vn) AND n.event_type = 'Signup') AS converted"
          " FROM vb WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3)"
          " SELECT country, count(DISTINCT day::text || ':' || visitor::text) FILTER (WHERE"
          " converted), count(DISTINCT day::text || ':' || visitor::text) FROM c GROUP BY 1"
          " HAVING bool_or(converted) ORDER BY country COLLATE \"C\"",
      site_, date(range.from), date(range.to));
  ASSERT_GT(r.rows(), 1);
  ASSERT_EQ(answer["results"].size(), static_cast<std::size_t>(r.rows())) << answer.dump();
  for (int i = 0; i < r.rows(); ++i) {
    const auto converted = r.getInt(i, 1);
    const auto all = r.getInt(i, 2);
    const double rate = static_cast<double>((2 * converted * 10'000 + all) / (2 * all)) / 100.0;
    EXPECT_EQ(answer["results"][i]["dimensions"], json::array({std::string(r.get(i, 0))}));
    EXPECT_EQ(answer["results"][i]["metrics"], json::array({converted, rate})) << r.get(i, 0);
  }
  // A goal nobody defined, and conversion_rate without a goal, are refused.
  auto unknown = post(json({{"site_id", site_},
                            {"metrics", {"visitors"}},
                            {"date_range", "7d"},
                            {"filters", json::parse(R"([["is","event:goal",["Bought"]]])")}})
                          .dump(),
                      token_);
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.body, HasSubstr("no goal named"));
  auto noGoal = post(
      json({{"site_id", site_}, {"metrics", {"conversion_rate"}}, {"date_range", "7d"}}).dump(),
      token_);
  EXPECT_EQ(noGoal.status, 400);
  EXPECT_THAT(noGoal.body, HasSubstr("needs a goal"));
}

TEST_F(V2Query, DimensionsInOurSpellingAndPlausiblesAreTheSame) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"visit:source", "source"},
      {"visit:country", "country"},
      {"visit:browser", "browser"},
      {"visit:entry_page", "entry_page"},
      {"event:page", "page"},
      {"event:name", "event_type"},
      {"event:props:plan", "prop:plan"},
      {"time", "time:day"}};
  for (const auto& [plausible, ours] : pairs) {
    SCOPED_TRACE(plausible);
    const json theirs = query({{"site_id", site_},
                               {"metrics", {"visitors", "events", "bounce_rate"}},
                               {"date_range", "30d"},
                               {"dimensions", {plausible}}});
    const json mine = query({{"site_id", site_},
                             {"metrics", {"visitors", "events", "bounce_rate"}},
                             {"date_range", "30d"},
                             {"dimensions", {ours}}});
    EXPECT_EQ(theirs["results"], mine["results"]);
    EXPECT_FALSE(mine["results"].empty());
    EXPECT_EQ(theirs["query"]["dimensions"], json::array({plausible == "time" ? ours : plausible}));
    expectEngine(mine, engineQuery(site_, {today_ - days{30}, today_ - days{1}},
                                   {"visitors", "events", "bounce_rate"}, {ours}));
  }
  // Two dimensions at once.
  const json both = query({{"site_id", site_},
                           {"metrics", {"visits"}},
                           {"date_range", "7d"},
                           {"dimensions", {"visit:browser", "visit:country"}}});
  expectEngine(both, engineQuery(site_, {today_ - days{7}, today_ - days{1}}, {"visits"},
                                 {"browser", "country"}));
}

TEST_F(V2Query, TimeDimensionsAreWrittenAsPlausibleWritesThem) {
  // Days, weeks and months, with every bucket listed in meta.time_labels.
  const DateRange range{today_ - days{33}, today_};
  const json dates = json::array({date(range.from), date(range.to)});
  for (const char* dim : {"time:day", "time:week", "time:month"}) {
    SCOPED_TRACE(dim);
    const json answer = query({{"site_id", site_},
                               {"metrics", {"visitors", "pageviews"}},
                               {"date_range", dates},
                               {"dimensions", {dim}},
                               {"include", {{"time_labels", true}}}});
    expectEngine(answer, engineQuery(site_, range, {"visitors", "pageviews"}, {dim}));
    const json& labels = answer["meta"]["time_labels"];
    ASSERT_FALSE(labels.empty());
    EXPECT_EQ(labels[0], std::string(dim) == "time:month"
                             ? date(sys_days{std::chrono::year_month_day{range.from}.year() /
                                             std::chrono::year_month_day{range.from}.month() / 1})
                             : date(range.from));
    for (const auto& result : answer["results"]) {
      EXPECT_NE(std::find(labels.begin(), labels.end(), result["dimensions"][0]), labels.end())
          << result.dump();
    }
    if (std::string(dim) == "time:day") {
      EXPECT_EQ(labels.size(), 34u);
    }
    if (std::string(dim) == "time:week") {
      for (std::size_t i = 1; i < labels.size(); ++i) {
        const auto day = util::parseDate(labels[i].get<std::string>());
        ASSERT_TRUE(day);
        EXPECT_EQ(std::chrono::weekday{*day}, std::chrono::Monday) << labels[i];
      }
    }
  }
  // Hours in the website's zone, "YYYY-MM-DD HH:MM:SS": Kathmandu is UTC+5:45.
  const sys_days zonedToday = stats::todayIn(conn_, kZone, util::nowMillis());
  const DateRange two{zonedToday - days{2}, zonedToday - days{1}};
  const json hours = query({{"site_id", "zoned.example"},
                            {"metrics", {"events"}},
                            {"date_range", json::array({date(two.from), date(two.to)})},
                            {"dimensions", {"time:hour"}},
                            {"include", {{"time_labels", true}}}});
  const auto q = engineQuery(zoned_, two, {"events"}, {"time:hour"}, kZone);
  expectEngine(hours, q);
  const auto rows = stats::run(conn_, q).rows;
  ASSERT_EQ(hours["results"].size(), rows.size());
  ASSERT_FALSE(rows.empty());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto utc = util::parseRfc3339(rows[i].dimensions[0]);
    ASSERT_TRUE(utc);
    const std::int64_t local = *utc + (5 * 60 + 45) * 60'000;
    const std::string iso = util::formatRfc3339Millis(local);  // "YYYY-MM-DDTHH:MM:SS.mmmZ"
    EXPECT_EQ(hours["results"][i]["dimensions"][0], iso.substr(0, 10) + " " + iso.substr(11, 8));
  }
  EXPECT_EQ(hours["meta"]["time_labels"].size(), 48u);
  EXPECT_EQ(hours["meta"]["time_labels"][0], date(two.from) + " 00:00:00");
  EXPECT_EQ(hours["meta"]["time_labels"][47], date(two.to) + " 23:00:00");
}

TEST_F(V2Query, FiltersOrderAndPaginationAreTheEngines) {
  const DateRange range{today_ - days{30}, today_ - days{1}};
  const json filters = json::parse(
      R"([["is", "visit:country", ["SE", "DE"]], ["contains", "event:page", ["page-1", "page-2"]]])");
  const json answer =
      query({{"site_id", site_},
             {"metrics", {"visitors", "visits", "pageviews"}},
             {"date_range", "30d"},
             {"dimensions", {"visit:browser", "event:page"}},
             {"filters", filters},
             {"order_by", json::parse(R"([["visits","asc"],["event:page","desc"]])")},
             {"pagination", {{"limit", 2}, {"offset", 1}}}});
  auto q = engineQuery(site_, range, {"visitors", "visits", "pageviews"}, {"browser", "page"});
  q.filters = {{*stats::dimensionNamed("country"), stats::FilterOp::kIs, {"SE", "DE"}},
               {*stats::dimensionNamed("page"), stats::FilterOp::kContains, {"page-1", "page-2"}}};
  q.orderBy = {{Metric::kVisits, std::nullopt, false},
               {std::nullopt, *stats::dimensionNamed("page"), true}};
  q.limit = 2;
  q.offset = 1;
  expectEngine(answer, q);
  EXPECT_EQ(answer["results"].size(), 2u);
  EXPECT_EQ(answer["query"]["filters"], filters);
  EXPECT_EQ(answer["query"]["order_by"],
            json::parse(R"([["visits","asc"],["event:page","desc"]])"));
  EXPECT_EQ(answer["query"]["pagination"], json::parse(R"({"limit":2,"offset":1})"));

  // total_rows counts the rows before paging; the page is the same.
  const json counted =
      query({{"site_id", site_},
             {"metrics", {"visitors", "visits", "pageviews"}},
             {"date_range", "30d"},
             {"dimensions", {"visit:browser", "event:page"}},
             {"filters", filters},
             {"order_by", json::parse(R"([["visits","asc"],["event:page","desc"]])")},
             {"pagination", {{"limit", 2}, {"offset", 1}}},
             {"include", {{"total_rows", true}, {"imports", false}}}});
  EXPECT_EQ(counted["results"], answer["results"]);
  q.limit = 10000;
  q.offset = 0;
  EXPECT_EQ(counted["meta"]["total_rows"], stats::run(conn_, q).rows.size());
  EXPECT_EQ(counted["query"]["include"], json::parse(R"({"total_rows":true})"));

  // A regular expression and a property.
  const json matched =
      query({{"site_id", site_},
             {"metrics", {"events", "visitors"}},
             {"date_range", "30d"},
             {"filters", json::parse(R"([["matches", "event:page", ["^/page-[12]$"]],
                                   ["is", "event:props:plan", ["pro"]]])")}});
  auto m = engineQuery(site_, range, {"events", "visitors"});
  m.filters = {{*stats::dimensionNamed("page"), stats::FilterOp::kMatches, {"^/page-[12]$"}},
               {*stats::dimensionNamed("prop:plan"), stats::FilterOp::kIs, {"pro"}}};
  expectEngine(matched, m);
  EXPECT_GT(matched["results"][0]["metrics"][0].get<int>(), 0);
}

TEST_F(V2Query, EachUnsupportedPartIsA400NamingIt) {
  const json base = {{"site_id", site_}, {"metrics", {"visitors"}}, {"date_range", "7d"}};
  const auto with = [&base](const char* key, const json& value) {
    json body = base;
    body[key] = value;
    return body;
  };
  for (const char* metric : {"conversion_rate", "time_on_page", "scroll_depth", "percentage",
                             "group_conversion_rate", "total_revenue"}) {
    expectRefused(with("metrics", {"visitors", metric}), metric);
  }
  expectRefused(with("metrics", json::array()), "metrics");
  expectRefused(with("metrics", {"visitors", "visitors"}), "visitors");
  expectRefused(
      with("date_range", json::array({"2026-01-01T00:00:00+02:00", "2026-01-02T00:00:00+02:00"})),
      "only dates");
  expectRefused(with("date_range", "realtime"), "realtime");
  expectRefused(with("date_range", "fortnight"), "fortnight");
  expectRefused(with("date_range", "9000d"), "9000d");
  expectRefused(with("date_range", json::array({"2026-02-01", "2026-01-01"})), "date_range");
  expectRefused(with("dimensions", {"visit:city"}), "visit:city");
  expectRefused(with("dimensions", {"event:goal"}), "event:goal");
  expectRefused(with("dimensions", {"event:page", "event:name"}), "event:name");
  for (const char* op : {"and", "or", "not"}) {
    expectRefused(with("filters", json::parse(fmt::format(
                                      R"([["{}", [["is", "visit:country", ["SE"]]]]])", op))),
                  op);
  }
  expectRefused(with("filters", json::parse(R"([["has_done", ["is", "event:name", ["Signup"]]]])")),
                "has_done");
  expectRefused(with("filters", json::parse(R"([["matches_wildcard", "event:page", ["/a*"]]])")),
                "matches_wildcard");
  expectRefused(with("filters", json::parse(R"([["is", "visit:city", ["Berlin"]]])")),
                "visit:city");
  expectRefused(with("filters", json::parse(R"([["matches", "event:page", ["("]]])")),
                "regular expression");
  expectRefused(with("include", {{"comparisons", {{"mode", "previous_period"}}}}), "comparisons");
  expectRefused(with("include", {{"time_labels", true}}), "time dimension");
  expectRefused(with("order_by", json::parse(R"([["pageviews","desc"]])")), "pageviews");
  expectRefused(with("order_by", json::parse(R"([["visitors","up"]])")), "order_by");
  expectRefused(with("pagination", {{"limit", 0}}), "pagination.limit");
  expectRefused(with("pagination", {{"limit", 10001}}), "pagination.limit");
  expectRefused(with("pagination", {{"offset", -1}}), "pagination.offset");
  expectRefused(with("date", "2026-01-01"), "date");
  expectRefused(with("funnel", true), "funnel");
  for (const char* key : {"site_id", "metrics", "date_range"}) {
    json body = base;
    body.erase(key);
    expectRefused(body, key);
  }
  auto notJson = post("{\"site_id\":", token_);
  EXPECT_EQ(notJson.status, 400);
  EXPECT_EQ(errorCode(notJson), "invalid_request");
}

TEST_F(V2Query, TokensAndOwnership) {
  const std::string body =
      json({{"site_id", site_}, {"metrics", {"visitors"}}, {"date_range", "7d"}}).dump();
  auto none = post(body, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(errorCode(none), "unauthorized");
  EXPECT_EQ(post(body, token_ + "x").status, 401);
  // Unknown and someone else's websites answer alike, by id and by domain.
  std::vector<HttpResponse> missing;
  for (const std::string& id :
       {foreign_, std::string("foreign.example"),
        std::string("0190b7a8-0000-7000-8000-000000000000"), std::string("nowhere.example")}) {
    missing.push_back(post(
        json({{"site_id", id}, {"metrics", {"visitors"}}, {"date_range", "7d"}}).dump(), token_));
    EXPECT_EQ(missing.back().status, 404) << id;
    EXPECT_EQ(errorCode(missing.back()), "not_found") << id;
    EXPECT_EQ(missing.back().body, missing.front().body) << id;
  }
}

TEST_F(V2Query, TheSecondAskingIsACacheHit) {
  const std::string body = json({{"site_id", site_},
                                 {"metrics", {"visitors"}},
                                 {"date_range", "28d"},
                                 {"dimensions", {"visit:source"}}})
                               .dump();
  auto first = post(body, token_);
  auto second = post(body, token_);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(second.header("x-cache"), "HIT");
  EXPECT_EQ(second.body, first.body);
  // Another question is another entry.
  auto other = post(json({{"site_id", site_},
                          {"metrics", {"visitors"}},
                          {"date_range", "28d"},
                          {"dimensions", {"visit:country"}}})
                        .dump(),
                    token_);
  EXPECT_EQ(other.header("x-cache"), "MISS");
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_F(V2Query, MpctlAnswersAsTheApi) {
  const json body = {{"site_id", "example.com"},
                     {"metrics", {"visitors", "pageviews", "bounce_rate"}},
                     {"date_range", "28d"},
                     {"dimensions", {"visit:country"}},
                     {"order_by", json::parse(R"([["visitors","desc"]])")}};
  const auto file = dir_.write("query.json", body.dump());
  auto r = mpctl({file.string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), query(body));
  auto stdinRun = mpctl({"-"}, body.dump());
  ASSERT_EQ(stdinRun.exitCode, 0) << stdinRun.err;
  EXPECT_EQ(json::parse(stdinRun.out), json::parse(r.out));

  // CSV: the dimensions, then the metrics, one line per result; a table shows "" as (none).
  const json answer = json::parse(r.out);
  auto csv = mpctl({file.string(), "--format", "csv"});
  ASSERT_EQ(csv.exitCode, 0) << csv.err;
  const auto csvLines = lines(csv.out);
  ASSERT_EQ(csvLines.size(), answer["results"].size() + 1);
  EXPECT_EQ(csvLines[0], "visit:country,visitors,pageviews,bounce_rate");
  for (std::size_t i = 0; i < answer["results"].size(); ++i) {
    const json& result = answer["results"][i];
    EXPECT_EQ(csvLines[i + 1],
              fmt::format("{},{},{},{}", result["dimensions"][0].get<std::string>(),
                          result["metrics"][0].dump(), result["metrics"][1].dump(),
                          result["metrics"][2].dump()));
  }
  auto table = mpctl({file.string(), "--format", "table"});
  ASSERT_EQ(table.exitCode, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("VISIT:COUNTRY"));
  EXPECT_THAT(table.out, HasSubstr("(none)"));
  EXPECT_EQ(lines(table.out).size(), answer["results"].size() + 1);
}

TEST_F(V2Query, MpctlBadInputIsExit2AndUnknownWebsitesExit6) {
  const auto bad = [this](const std::string& content, const std::string& what) {
    const auto file = dir_.write("bad.json", content);
    auto r = mpctl({file.string()});
    EXPECT_EQ(r.exitCode, exit_code::kUsage) << content;
    EXPECT_THAT(r.err, HasSubstr(what)) << content;
    EXPECT_TRUE(r.out.empty()) << content;
  };
  bad("{\"site_id\": ", "not JSON");
  bad(R"({"site_id": "example.com", "metrics": ["conversion_rate"], "date_range": "7d"})",
      "conversion_rate");
  bad(R"({"site_id": "example.com", "metrics": ["visitors"], "date_range": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]})",
      "only dates");
  bad(R"({"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["or", []]]})",
      "\"or\"");
  auto missing = mpctl({(dir_.path() / "absent.json").string()});
  EXPECT_EQ(missing.exitCode, exit_code::kUsage);
  EXPECT_THAT(missing.err, HasSubstr("absent.json"));
  auto unknown = mpctl({"-"}, R"({"site_id": "nowhere.example", "metrics": ["visitors"],
                                  "date_range": "7d"})");
  EXPECT_EQ(unknown.exitCode, exit_code::kNotFound) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("nowhere.example"));
  EXPECT_EQ(mpctl({}).exitCode, exit_code::kUsage) << "FILE is required";
}

}  // namespace
}  // namespace mp::test
