// The stats answers against a direct SQL count over the raw events of a generated data set, in
// every state of aggregation (nothing folded; partly folded, with days folded too early, dirty
// and never folded; all re-folded twice), late events through the events writer, realtime from
// Redis, and the HTTP routes: authentication, ownership, parameters, the Redis cache.
#include "stats/stats.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "events/event.hpp"
#include "ingest/event_store.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "stats/params.hpp"
#include "stats/query.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/reference.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::stats {
namespace {

namespace seed = test::seed;
using json = nlohmann::json;
using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr std::int64_t kDayMs = 86'400'000;
// Days of data, ending today.
constexpr int kDataDays = 70;

std::string date(sys_days day) {
  return util::formatDate(day);
}

std::int64_t startMs(sys_days day) {
  return seed::dayStartMs(day);
}

// The breakdown dimensions every answer is checked for: visit dimensions (a visit counts under
// its first event's value, its entry or exit page) and event dimensions (each event under its own).
const char* const kDimensions[] = {"page",   "event_type", "referrer", "browser",    "os",
                                   "device", "country",    "source",   "entry_page", "exit_page"};

// `text` percent-encoded for a query string.
std::string urlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The vb column of a visit dimension (support/reference.hpp).
std::string visitColumn(const std::string& dimension) {
  if (dimension == "entry_page") return "vb.entry";
  if (dimension == "exit_page") return "vb.exit";
  return "vb." + dimension;
}

// A metrics block of the REST answers, from its sums: "views" are page views, or events for the
// rows of an eventType breakdown.
json block(const Totals& t, bool viewsAreEvents = false) {
  return {{"views", viewsAreEvents ? t.events : t.pageviews},
          {"visitors", t.visitors},
          {"visits", t.visits},
          {"pageviews", t.pageviews},
          {"events", t.events},
          {"bounceRate", static_cast<std::int64_t>(value(Metric::kBounceRate, t))},
          {"visitDuration", static_cast<std::int64_t>(value(Metric::kVisitDuration, t))},
          {"viewsPerVisit", value(Metric::kViewsPerVisit, t)}};
}

// The sums of reference::sums() at column `c` of row `i` onwards.
Totals totalsAt(const db::Result& r, int i, int c) {
  return {r.getInt(i, c),     r.getInt(i, c + 1), r.getInt(i, c + 2),
          r.getInt(i, c + 3), r.getInt(i, c + 4), r.getInt(i, c + 5)};
}

Totals operator+(Totals a, const Totals& b) {
  a.visitors += b.visitors;
  a.visits += b.visits;
  a.pageviews += b.pageviews;
  a.events += b.events;
  a.bounces += b.bounces;
  a.durationMs += b.durationMs;
  return a;
}

Scope scopeOf(const std::string& site, const DateRange& range) {
  Scope scope;
  scope.websiteId = site;
  scope.range = range;
  return scope;
}

// A database with three websites (two with events, one without), and the direct SQL answers
// every stats answer is compared with.
class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    owner_ = seed::owner(conn_);
    sites_ = seed::websites(conn_, owner_,
                            {{"A", "a.example"}, {"B", "b.example"}, {"Empty", "empty.example"}});
    today_ = util::todayUtc();
    now_ = util::nowMillis();
    first_ = today_ - days{kDataDays - 1};
    // Monthly partitions as the daemon keeps them, but for the first month, whose rows stay in
    // the default partition.
    for (sys_days day = first_ + days{31}; day <= today_ + days{40}; day += days{28}) {
      conn_.execArgs("SELECT mp_ensure_event_partition($1::date)", date(day));
    }
    // Answers must not depend on the session's time zone.
    conn_.exec("SET TimeZone = 'America/St_Johns'");
  }

  // The generated data set: for A and B, every day from first_ through today, 20–80 events a
  // day (pageviews and custom events) with NULL pages, referrers, countries, visitors and
  // sessions among them, events at both edges of each UTC day, and one event a minute after
  // midnight tomorrow (tracking accepts timestamps 5 minutes ahead). Visitor ids are day-scoped
  // as ingest makes them: a hash of (website, day, person), never seen on another day.
  void insertDataSet() {
    static const char* const kTypes[] = {"pageview", "pageview", "pageview", "pageview",
                                         "pageview", "click",    "signup"};
    static const char* const kPages[] = {
        "/",       "/",       "/",       "/pricing", "/docs", "/docs/install",
        "/blog/a", "/blog/b", "/Blog/a", nullptr};
    static const char* const kReferrers[] = {
        nullptr, nullptr, "google.com", "news.ycombinator.com", "t.co", "duckduckgo.com"};
    static const char* const kBrowsers[] = {"Chrome", "Firefox", "Safari", "Edge", nullptr};
    static const char* const kOses[] = {"Windows", "macOS", "Linux", "iOS", "Android"};
    static const char* const kDevices[] = {"desktop", "mobile", "tablet", "other"};
    static const char* const kCountries[] = {"DE", "US", "FR", "JP", "BR", nullptr};
    std::mt19937_64 rng(20261127);
    auto pick = [&rng](const auto& list) {
      return list[std::uniform_int_distribution<std::size_t>(0, std::size(list) - 1)(rng)];
    };
    std::vector<seed::Event> values;
    for (std::size_t s = 0; s < 2; ++s) {
      for (int d = 0; d < kDataDays; ++d) {
        const sys_days day = first_ + days{d};
        const int n = 20 + static_cast<int>(rng() % 60);
        const int people = 5 + static_cast<int>(rng() % 25);
        // Today's events lie between midnight and now.
        const std::int64_t span =
            day == today_ ? std::max<std::int64_t>(1, now_ - startMs(day)) : kDayMs;
        for (int i = 0; i < n; ++i) {
          std::int64_t ms = std::uniform_int_distribution<std::int64_t>(0, span - 1)(rng);
          if (i == 0) ms = 0;
          if (i == 1 && day != today_) ms = kDayMs - 1;
          const std::int64_t person = static_cast<std::int64_t>(rng() % people);
          const std::int64_t visitor =
              static_cast<std::int64_t>(((s + 1) * 1'000'000 + static_cast<std::size_t>(d) * 1000 +
                                         static_cast<std::size_t>(person)) *
                                        0x9E3779B97F4A7C15ULL);
          const bool noVisitor = rng() % 25 == 0;
          const bool noSession = rng() % 10 == 0;
          const char* type = pick(kTypes);
          const char* page = pick(kPages);
          const char* referrer = pick(kReferrers);
          const char* browser = pick(kBrowsers);
          const char* os = pick(kOses);
          const char* device = pick(kDevices);
          const char* country = pick(kCountries);
          values.push_back(
              row(sites_[s], startMs(day) + ms, type, page,
                  noSession ? std::nullopt
                            : std::optional<std::string>(fmt::format("s{}-{}", visitor, rng() % 2)),
                  noVisitor ? std::nullopt : std::optional<std::int64_t>(visitor), referrer,
                  browser, os, device, country));
        }
      }
      values.push_back(row(sites_[s], startMs(today_ + days{1}) + 60'000, "pageview", "/soon",
                           "soon", 777 + static_cast<std::int64_t>(s), nullptr, "Chrome", "Linux",
                           "desktop", "DE"));
    }
    seed::insertEvents(conn_, values);
  }

  static seed::Event row(const std::string& site, std::int64_t ms, const char* type,
                         const char* page, std::optional<std::string> session,
                         std::optional<std::int64_t> visitor, const char* referrer,
                         const char* browser, const char* os, const char* device,
                         const char* country) {
    return {site,
            util::formatRfc3339Millis(ms),
            type,
            seed::text(page),
            std::move(session),
            visitor,
            seed::text(referrer),
            seed::text(browser),
            seed::text(os),
            seed::text(device),
            seed::text(country)};
  }

  // Expected answers, from the visits by the definitions (support/reference.hpp) over the raw
  // events: the websites are in UTC.

  // A breakdown's answer, or (pages = true) the top-pages answer: the `limit` values with the
  // most page views (events for event_type), ties in byte order.
  json expectedTop(const std::string& site, const DateRange& range, const std::string& dimension,
                   int limit, bool pages = false) {
    const bool eventTypes = dimension == "event_type";
    std::string sql;
    if (dimension == "page" || eventTypes) {
      sql = fmt::format(
          "{}{} SELECT x.value, {} FROM x JOIN vb USING (website_id, day, k, vn)"
          " WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3"
          " GROUP BY 1 ORDER BY {} DESC, x.value COLLATE \"C\" LIMIT $4",
          test::reference::visits(),
          test::reference::eventValues(eventTypes ? "event_type" : "coalesce(page, '')"),
          test::reference::sums("x.pv", "x.ev"), eventTypes ? 5 : 4);
    } else {
      const std::string column = visitColumn(dimension);
      sql = fmt::format(
          "{} SELECT {}, {} FROM vb WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3"
          " AND {} IS NOT NULL GROUP BY 1 ORDER BY 4 DESC, {} COLLATE \"C\" LIMIT $4",
          test::reference::visits(), column, test::reference::sums(), column, column);
    }
    auto r = conn_.execArgs(sql, site, date(range.from), date(range.to), limit);
    json rows = json::array();
    for (int i = 0; i < r.rows(); ++i) {
      json row = block(totalsAt(r, i, 1), eventTypes);
      row[pages ? "page" : "value"] = r.get(i, 0);
      rows.push_back(std::move(row));
    }
    if (pages) {
      return {
          {"websiteId", site}, {"from", date(range.from)}, {"to", date(range.to)}, {"pages", rows}};
    }
    return {{"websiteId", site},
            {"dimension", eventTypes ? std::string("eventType") : dimension},
            {"rows", rows}};
  }

  // The totals of every day of the website with a visit.
  std::map<sys_days, Totals> expectedDays(const std::string& site) {
    auto r =
        conn_.execArgs(fmt::format("{} SELECT vb.day::text, {} FROM vb WHERE vb.website_id = $1"
                                   " GROUP BY 1",
                                   test::reference::visits(), test::reference::sums()),
                       site);
    std::map<sys_days, Totals> out;
    for (int i = 0; i < r.rows(); ++i) out[*util::parseDate(r.get(i, 0))] = totalsAt(r, i, 1);
    return out;
  }

  static Totals sumOver(const std::map<sys_days, Totals>& perDay, const DateRange& range) {
    Totals t;
    for (const auto& [day, totals] : perDay) {
      if (day >= range.from && day <= range.to) t = t + totals;
    }
    return t;
  }

  json expectedSeries(const std::string& site, const DateRange& range, Interval interval) {
    json points = json::array();
    if (interval == Interval::kDay) {
      const auto perDay = expectedDays(site);
      for (sys_days d = range.from; d <= range.to; d += days{1}) {
        json p = block(sumOver(perDay, {d, d}));
        p["t"] = date(d);
        points.push_back(std::move(p));
      }
    } else {
      // Events in their own hour, visits (with bounces and durations) in the hour they began.
      auto r = conn_.execArgs(
          fmt::format(
              "{}, h AS (SELECT date_trunc('hour', n.ts, 'UTC') AS hour,"
              " count(DISTINCT vb.visitor) AS visitors,"
              " count(*) FILTER (WHERE n.event_type = 'pageview') AS pv, count(*) AS ev"
              " FROM n JOIN vb USING (website_id, day, k, vn)"
              " WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3 GROUP BY 1),"
              " s AS (SELECT date_trunc('hour', vb.started, 'UTC') AS hour, count(*) AS visits,"
              " count(*) FILTER (WHERE vb.bounce) AS bounces, sum(vb.ms) AS ms FROM vb"
              " WHERE vb.website_id = $1 AND vb.day BETWEEN $2 AND $3 GROUP BY 1)"
              " SELECT extract(epoch FROM h.hour)::bigint * 1000, h.visitors,"
              " coalesce(s.visits, 0), h.pv, h.ev, coalesce(s.bounces, 0), coalesce(s.ms, 0)"
              " FROM h LEFT JOIN s USING (hour)",
              test::reference::visits()),
          site, date(range.from), date(range.to));
      std::map<std::int64_t, Totals> perHour;
      for (int i = 0; i < r.rows(); ++i) perHour[r.getInt(i, 0)] = totalsAt(r, i, 1);
      for (std::int64_t ms = startMs(range.from); ms < startMs(range.to + days{1});
           ms += 3'600'000) {
        const auto it = perHour.find(ms);
        json p = block(it == perHour.end() ? Totals{} : it->second);
        p["t"] = util::formatRfc3339Millis(ms);
        points.push_back(std::move(p));
      }
    }
    return {{"websiteId", site}, {"interval", name(interval)}, {"points", points}};
  }

  json expectedOverview(const std::string& site, const DateRange& range) {
    const auto perDay = expectedDays(site);
    const Totals all = sumOver(perDay, {sys_days{}, today_ + days{3660}});
    json rangeBlock = block(sumOver(perDay, range));
    rangeBlock["from"] = date(range.from);
    rangeBlock["to"] = date(range.to);
    return {{"websiteId", site},
            {"totalViews", all.pageviews},
            {"uniqueVisitors", all.visitors},
            {"total", block(all)},
            {"today", block(sumOver(perDay, {today_, today_}))},
            {"last7Days", block(sumOver(perDay, {today_ - days{6}, today_}))},
            {"range", rangeBlock},
            {"generatedAt", util::formatRfc3339Millis(now_)}};
  }

  // The ranges every answer is checked over.
  std::vector<std::pair<std::string, DateRange>> ranges() const {
    // The first day of the month holding the day 30 days ago: a month boundary with data on both
    // sides.
    const std::chrono::year_month_day ymd{today_ - days{30}};
    const sys_days boundary{ymd.year() / ymd.month() / 1};
    return {
        {"today", {today_, today_}},
        {"default", parseRange(std::nullopt, std::nullopt, today_)},
        {"month boundary", {boundary - days{6}, boundary + days{5}}},
        {"into the future", {today_ - days{2}, today_ + days{3}}},
        {"before the first event", {first_ - days{40}, first_ - days{1}}},
        {"first day", {first_, first_}},
        {"everything", {first_ - days{3}, today_ + days{1}}},
        {"longest", {today_ - days{kMaxRangeDays - 1}, today_}},
        {"31 days", {today_ - days{30}, today_}},
    };
  }

  // Every answer of every website over every range equals the direct count; returns them all.
  std::vector<json> expectExact(const std::string& state) {
    std::vector<json> answers;
    auto check = [&](const json& actual, const json& expected, const std::string& what) {
      EXPECT_EQ(actual, expected) << state << ": " << what;
      answers.push_back(actual);
    };
    for (const auto& site : sites_) {
      const DateRange week = parseRange(std::nullopt, std::nullopt, today_);
      check(overview(conn_, scopeOf(site, week), now_), expectedOverview(site, week),
            "overview " + site);
      for (const auto& [label, range] : ranges()) {
        const std::string what = label + " " + site;
        const Scope scope = scopeOf(site, range);
        for (int limit : {3, 100}) {
          check(topPages(conn_, scope, limit), expectedTop(site, range, "page", limit, true),
                "top-pages " + what);
        }
        for (const char* dimension : kDimensions) {
          check(breakdown(conn_, scope, *dimensionNamed(dimension), 100),
                expectedTop(site, range, dimension, 100),
                "breakdown " + std::string(dimension) + " " + what);
        }
        check(timeseries(conn_, scope, Interval::kDay), expectedSeries(site, range, Interval::kDay),
              "timeseries day " + what);
        if (range.days() <= kMaxHourRangeDays) {
          check(timeseries(conn_, scope, Interval::kHour),
                expectedSeries(site, range, Interval::kHour), "timeseries hour " + what);
        }
      }
    }
    return answers;
  }

  std::vector<std::string> rollupRows() {
    std::vector<std::string> out;
    for (const char* sql :
         {"SELECT website_id, date, page_views, unique_sessions, unique_visitors, events, visits,"
          " bounces, duration_ms FROM event_summary ORDER BY 1, 2",
          "SELECT * FROM visits ORDER BY website_id, date, started_at, session_id",
          "SELECT website_id, date, dimension, value, visitors, visits, pageviews, events,"
          " bounces, duration_ms FROM breakdown_daily ORDER BY 1, 2, 3, 4",
          "SELECT website_id, hour, visitors, views, events, visits, bounces, duration_ms"
          " FROM hourly_summary ORDER BY 1, 2"}) {
      auto r = conn_.exec(sql);
      for (int i = 0; i < r.rows(); ++i) {
        std::string line;
        for (int c = 0; c < r.cols(); ++c) line += std::string(r.get(i, c)) + "|";
        out.push_back(line);
      }
    }
    return out;
  }

  // An event as the writers store it.
  events::Event event(const std::string& site, std::int64_t ms, std::string page,
                      std::int64_t visitor) {
    events::Event e;
    e.id = util::uuidV7();
    e.websiteId = site;
    e.tsMillis = ms;
    e.eventType = "pageview";
    e.page = std::move(page);
    e.url = "https://a.example" + e.page;
    e.hostname = "a.example";
    e.sessionId = "late-" + std::to_string(visitor);
    e.visitorId = visitor;
    e.browser = "Chrome";
    e.os = "Linux";
    e.device = "desktop";
    return e;
  }

  bool dirty(const std::string& site, sys_days day) {
    auto r = conn_.execArgs(
        "SELECT dirty FROM aggregation_runs WHERE website_id = $1 AND date = $2", site, date(day));
    return r.rows() == 1 && r.getBool(0, 0);
  }

  test::TempDatabase db_;
  db::Connection conn_{db_.url(), std::chrono::seconds(10)};
  std::string owner_;
  std::vector<std::string> sites_;
  sys_days today_;
  sys_days first_;
  std::int64_t now_ = 0;
};

TEST_F(StatsTest, AnswersEqualDirectCountsBeforeDuringAndAfterFolding) {
  insertDataSet();
  // The invariant the sums rely on holds for the data set.
  EXPECT_EQ(conn_
                .exec("SELECT count(*) FROM (SELECT visitor_id FROM events"
                      " WHERE visitor_id IS NOT NULL GROUP BY visitor_id"
                      " HAVING count(DISTINCT (ts AT TIME ZONE 'UTC')::date) > 1) x")
                .getInt(0, 0),
            0);

  expectExact("nothing folded");

  // Partly folded: two stretches of final days, days never folded before, between and after
  // them, today (never final), a day folded before its end that received events afterwards,
  // and a final day that a late event made dirty.
  aggregation::foldRange(conn_, today_ - days{60}, today_ - days{20});
  aggregation::foldRange(conn_, today_ - days{19}, today_ - days{10});
  aggregation::foldRange(conn_, today_ - days{2}, today_);
  const sys_days early = today_ - days{45};
  seed::insertEvents(conn_, {row(sites_[0], startMs(early) + 3'600'000, "pageview", "/after-fold",
                                 "af", 4242, "late.example", "Edge", "Windows", "desktop", "NZ"),
                             row(sites_[0], startMs(early) + 7'200'000, "pageview", "/", "af", 4242,
                                 nullptr, "Edge", "Windows", "desktop", "NZ")});
  conn_.execArgs(
      "UPDATE aggregation_runs SET folded_at = ($1::date + 1)::timestamp AT TIME ZONE 'UTC'"
      " - interval '2 hours' WHERE date = $1::date",
      date(early));
  const sys_days late = today_ - days{30};
  db::Connection writer(db_.url(), std::chrono::seconds(10));
  ASSERT_EQ(ingest::EventStore::insertBatch(
                writer, std::vector<events::Event>{event(sites_[0], startMs(late) + 43'200'000,
                                                         "/late", 5151)}),
            1u);
  EXPECT_TRUE(dirty(sites_[0], late));
  const auto finals = aggregation::finalDays(conn_, sites_[0]);
  EXPECT_EQ(std::count(finals.begin(), finals.end(), early), 0);
  EXPECT_EQ(std::count(finals.begin(), finals.end(), late), 0);
  EXPECT_EQ(std::count(finals.begin(), finals.end(), today_ - days{20}), 1);
  EXPECT_EQ(std::count(finals.begin(), finals.end(), today_), 0);
  expectExact("partly folded");

  // Everything folded, then folded again: the same rollup rows and the same answers.
  aggregation::foldRange(conn_, first_ - days{3}, today_ + days{1});
  EXPECT_FALSE(dirty(sites_[0], late));
  const auto rollups = rollupRows();
  const auto answers = expectExact("all folded");
  aggregation::foldRange(conn_, first_ - days{3}, today_ + days{1});
  EXPECT_EQ(rollupRows(), rollups);
  EXPECT_EQ(expectExact("folded again"), answers);
}

TEST_F(StatsTest, FinalDaysAreReadFromRollupsAndOtherDaysFromEvents) {
  insertDataSet();
  aggregation::foldRange(conn_, first_, today_);
  const sys_days day = today_ - days{10};
  const DateRange range{day - days{1}, day + days{1}};
  const json before = topPages(conn_, scopeOf(sites_[0], range), 100);
  ASSERT_EQ(before, expectedTop(sites_[0], range, "page", 100, true));
  // A final day's rollup row changed behind the fold's back shows in the answer: it is read.
  const char* insert =
      "INSERT INTO breakdown_daily VALUES ($1, $2, 'page', '/rollup-only', 7, 8, 1000, 1000, 0,"
      " 0)";
  conn_.execArgs(insert, sites_[0], date(day));
  const json after = topPages(conn_, scopeOf(sites_[0], range), 100);
  ASSERT_FALSE(after["pages"].empty());
  EXPECT_EQ(after["pages"][0]["page"], "/rollup-only");
  EXPECT_EQ(after["pages"][0]["views"], 1000);
  EXPECT_EQ(after["pages"][0]["visitors"], 7);
  // So is it for a filter on that one value.
  Scope filtered = scopeOf(sites_[0], range);
  filtered.filters = {Filter{*dimensionNamed("page"), FilterOp::kIs, {"/rollup-only"}}};
  EXPECT_EQ(overview(conn_, filtered, now_)["range"]["visits"], 8);
  // Today is never final: its rollup rows are not read, its events are.
  conn_.execArgs(insert, sites_[0], date(today_));
  const DateRange todayOnly{today_, today_};
  EXPECT_EQ(topPages(conn_, scopeOf(sites_[0], todayOnly), 100),
            expectedTop(sites_[0], todayOnly, "page", 100, true));
}

TEST_F(StatsTest, LateEventsAreCountedAtOnceAndFoldedByTheNextScheduledRun) {
  insertDataSet();
  // Days 14 to 11 before today are never folded; the websites were created today, so the
  // scheduled fold leaves those days alone unless something marks them.
  aggregation::foldRange(conn_, first_, today_ - days{15});
  aggregation::foldRange(conn_, today_ - days{10}, today_);
  const sys_days old = today_ - days{20};
  const sys_days never = today_ - days{13};
  {
    const auto finals = aggregation::finalDays(conn_, sites_[1]);
    ASSERT_EQ(std::count(finals.begin(), finals.end(), old), 1);
    ASSERT_EQ(std::count(finals.begin(), finals.end(), never), 0);
  }
  const DateRange range{old - days{1}, old + days{1}};
  const json before = topPages(conn_, scopeOf(sites_[1], range), 100);

  // Through the writers' path: a late pageview of a new visitor on a final day, one on a day
  // never folded, and a redelivered batch (nothing new, still harmless).
  db::Connection writer(db_.url(), std::chrono::seconds(10));
  const std::vector<events::Event> late = {
      event(sites_[1], startMs(old) + 1000, "/late", 99'001),
      event(sites_[1], startMs(never) + 1000, "/older", 99'002),
      event(sites_[0], now_, "/today", 99'003)};
  ASSERT_EQ(ingest::EventStore::insertBatch(writer, late), 3u);
  ASSERT_EQ(ingest::EventStore::insertBatch(writer, late), 0u);
  EXPECT_TRUE(dirty(sites_[1], old));
  EXPECT_TRUE(dirty(sites_[1], never));
  EXPECT_FALSE(dirty(sites_[0], today_)) << "events of today mark nothing";
  EXPECT_FALSE(dirty(sites_[0], old)) << "only the website that received the event";

  // Counted at once: the stats read the dirty day from events.
  const json now = topPages(conn_, scopeOf(sites_[1], range), 100);
  EXPECT_NE(now, before);
  EXPECT_EQ(now, expectedTop(sites_[1], range, "page", 100, true));
  const DateRange neverRange{never, never};
  EXPECT_EQ(breakdown(conn_, scopeOf(sites_[1], neverRange), *dimensionNamed("page"), 10),
            expectedTop(sites_[1], neverRange, "page", 10));
  const DateRange week = parseRange(std::nullopt, std::nullopt, today_);
  EXPECT_EQ(overview(conn_, scopeOf(sites_[1], week), now_), expectedOverview(sites_[1], week));

  // The scheduled fold repairs both days, which are final again and still exact; the other
  // never-folded days stay so.
  ASSERT_TRUE(aggregation::tryFoldRecent(conn_));
  EXPECT_FALSE(dirty(sites_[1], old));
  EXPECT_FALSE(dirty(sites_[1], never));
  const auto finals = aggregation::finalDays(conn_, sites_[1]);
  EXPECT_EQ(std::count(finals.begin(), finals.end(), old), 1);
  EXPECT_EQ(std::count(finals.begin(), finals.end(), never), 1);
  EXPECT_EQ(conn_.execArgs("SELECT count(*) FROM aggregation_runs WHERE date = $1", date(never))
                .getInt(0, 0),
            1);
  EXPECT_EQ(
      conn_.execArgs("SELECT count(*) FROM aggregation_runs WHERE date = $1", date(never + days{1}))
          .getInt(0, 0),
      0);
  EXPECT_EQ(conn_
                .execArgs("SELECT pageviews FROM breakdown_daily WHERE website_id = $1"
                          " AND date = $2 AND dimension = 'page' AND value = '/late'",
                          sites_[1], date(old))
                .getInt(0, 0),
            1);
  EXPECT_EQ(topPages(conn_, scopeOf(sites_[1], range), 100), now);
  EXPECT_EQ(overview(conn_, scopeOf(sites_[1], week), now_), expectedOverview(sites_[1], week));
}

TEST_F(StatsTest, UnknownAndMalformedWebsites) {
  insertDataSet();
  const DateRange range{today_ - days{6}, today_};
  // An id nobody has: zeros and empty lists (the callers check existence and ownership).
  const std::string nobody = "0190d7a0-0000-7000-8000-00000000dead";
  EXPECT_EQ(topPages(conn_, scopeOf(nobody, range), 10)["pages"], json::array());
  EXPECT_EQ(overview(conn_, scopeOf(nobody, range), now_)["totalViews"], 0);
  // Upper-case ids are the same website, answered in lower case.
  std::string upper = sites_[0];
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(topPages(conn_, scopeOf(upper, range), 10),
            topPages(conn_, scopeOf(sites_[0], range), 10));
  EXPECT_THROW(timeseries(conn_, scopeOf(sites_[0], {today_ - days{31}, today_}), Interval::kHour),
               InvalidInput);
}

TEST(StatsRealtime, CountsSessionsOfTheLastFiveMinutes) {
  test::RedisProcess redisServer;
  redis::Client redis(redis::Url::parse(redisServer.url()), std::chrono::seconds(2));
  const std::string site = "0190d7a0-1c2e-7a3b-8f00-2b6c1d9e4f10";
  const std::int64_t now = 1'795'000'000'000;  // fixed, in milliseconds
  const std::int64_t s = now / 1000;
  const auto key = redis::realtimeKey(site);
  for (const auto& [score, session] : std::vector<std::pair<std::int64_t, std::string>>{
           {s, "now"}, {s - 299, "a"}, {s - 300, "edge"}, {s - 301, "gone"}, {s - 1700, "old"}}) {
    redis.command({"ZADD", key, std::to_string(score), session});
  }
  redis.command({"ZADD", redis::realtimeKey("0190d7a0-1c2e-7a3b-8f00-2b6c1d9e4f11"),
                 std::to_string(s), "other-site"});
  EXPECT_EQ(realtime(redis, site, now), json({{"websiteId", site},
                                              {"activeSessions", 3},
                                              {"windowSeconds", 300},
                                              {"asOf", util::formatRfc3339Millis(now)}}));
  EXPECT_EQ(realtime(redis, "0190d7a0-1c2e-7a3b-8f00-2b6c1d9e4f12", now)["activeSessions"], 0);
}

// Over HTTP, against a daemon with its own Redis.
class StatsHttp : public test::TrackingFixture {
 protected:
  // The daemon's own schedule would fold while a test looks at what is folded and what is not.
  std::string extraToml() override { return "[aggregation]\nenabled = false\n"; }

  void SetUp() override {
    TrackingFixture::SetUp();
    if (HasFatalFailure()) return;
    token_ = tokenFor(owner_);
    db::Connection conn(db_.url(), std::chrono::seconds(5));
    today_ = util::todayUtc();
    // A few days of events on example.com, the older ones folded.
    std::string sql =
        "INSERT INTO events (website_id, ts, event_type, page, referrer_host, visitor_id,"
        " session_id, browser, country) VALUES ";
    for (int d = 0; d < 10; ++d) {
      const sys_days day = today_ - days{d};
      for (int i = 0; i < 5 + d; ++i) {
        const std::int64_t ms = startMs(day) + (d == 0 ? 0 : i * 3'600'000);
        sql +=
            fmt::format("{}('{}', '{}', '{}', '/p{}', {}, {}, 's{}', 'Firefox', {})",
                        d + i ? "," : "", site_, util::formatRfc3339Millis(ms),
                        i % 4 == 3 ? "click" : "pageview", i % 3, i % 2 ? "'news.example'" : "NULL",
                        d * 100 + i % 4, d * 100 + i, i % 5 ? "'FR'" : "NULL");
      }
    }
    conn.exec(sql);
    aggregation::foldRange(conn, today_ - days{9}, today_ - days{3});
  }

  std::string tokenFor(const std::string& userId) {
    const std::int64_t now = util::nowMillis() / 1000;
    return auth::signToken({userId, now, now + 600}, secret_);
  }

  test::HttpResponse get(const std::string& path, const std::string& token) {
    std::vector<std::string> headers;
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    return test::httpRequest("GET", url(path), "", headers);
  }

  test::HttpResponse get(const std::string& path) { return get(path, token_); }

  std::string token_;
  sys_days today_;
};

TEST_F(StatsHttp, EveryEndpointIsAMissThenAHitWithTheSameBody) {
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  const DateRange range{today_ - days{8}, today_};
  const std::string dates = "from=" + date(range.from) + "&to=" + date(range.to);
  const Scope scope = scopeOf(site_, range);
  Scope filtered = scope;
  filtered.filters = {Filter{*dimensionNamed("country"), FilterOp::kIs, {"FR"}}};
  Scope compared = scope;
  compared.compare = Compare::kPreviousPeriod;
  const std::string fr = "&filters=" + urlEncode(R"([["is","country",["FR"]]])");
  const std::vector<std::pair<std::string, json>> cases = {
      {"/top-pages?" + dates + "&limit=2", topPages(conn, scope, 2)},
      {"/top-pages?" + dates, topPages(conn, scope, 10)},
      {"/top-pages?" + dates + fr, topPages(conn, filtered, 10)},
      {"/top-pages?" + dates + "&compare=previous_period", topPages(conn, compared, 10)},
      {"/timeseries?" + dates, timeseries(conn, scope, Interval::kDay)},
      {"/timeseries?" + dates + "&interval=hour", timeseries(conn, scope, Interval::kHour)},
      {"/timeseries?" + dates + fr, timeseries(conn, filtered, Interval::kDay)},
      {"/breakdown?" + dates + "&dimension=referrer",
       breakdown(conn, scope, *dimensionNamed("referrer"), 10)},
      {"/breakdown?" + dates + "&dimension=eventType&limit=1",
       breakdown(conn, scope, *dimensionNamed("eventType"), 1)},
      {"/breakdown?dimension=country",
       breakdown(conn, scopeOf(site_, parseRange({}, {}, today_)), *dimensionNamed("country"), 10)},
      {"/sources?" + dates, breakdown(conn, scope, *dimensionNamed("source"), 10)},
      {"/entry-pages?" + dates, breakdown(conn, scope, *dimensionNamed("entry_page"), 10)},
      {"/exit-pages?" + dates + "&limit=1",
       breakdown(conn, scope, *dimensionNamed("exit_page"), 1)},
  };
  // The filter narrows the answer; the comparison carries the previous period's numbers.
  ASSERT_LT(topPages(conn, filtered, 10)["pages"][0]["views"].get<int>(),
            topPages(conn, scope, 10)["pages"][0]["views"].get<int>());
  ASSERT_TRUE(topPages(conn, compared, 10)["pages"][0].contains("comparison"));
  for (const auto& [path, expected] : cases) {
    auto miss = get("/stats/" + site_ + path);
    ASSERT_EQ(miss.status, 200) << path << ": " << miss.body;
    EXPECT_EQ(miss.header("x-cache"), "MISS") << path;
    EXPECT_THAT(miss.header("content-type"), HasSubstr("application/json")) << path;
    EXPECT_EQ(json::parse(miss.body), expected) << path;
    auto hit = get("/stats/" + site_ + path);
    ASSERT_EQ(hit.status, 200) << path;
    EXPECT_EQ(hit.header("x-cache"), "HIT") << path;
    EXPECT_EQ(hit.body, miss.body) << path;
  }

  auto overviewMiss = get("/stats/" + site_ + "/overview");
  ASSERT_EQ(overviewMiss.status, 200) << overviewMiss.body;
  EXPECT_EQ(overviewMiss.header("x-cache"), "MISS");
  json body = json::parse(overviewMiss.body);
  EXPECT_THAT(body["generatedAt"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                      "\\.[0-9]{3}Z"));
  json expected = overview(conn, scopeOf(site_, parseRange({}, {}, today_)), util::nowMillis());
  body.erase("generatedAt");
  expected.erase("generatedAt");
  EXPECT_EQ(body, expected);
  auto overviewHit = get("/stats/" + site_ + "/overview");
  EXPECT_EQ(overviewHit.header("x-cache"), "HIT");
  EXPECT_EQ(overviewHit.body, overviewMiss.body);
  // The range block follows from/to: another question.
  auto overviewRange = get("/stats/" + site_ + "/overview?from=" + date(today_ - days{2}));
  EXPECT_EQ(overviewRange.header("x-cache"), "MISS");
  EXPECT_EQ(json::parse(overviewRange.body)["range"]["from"], date(today_ - days{2}));

  // Realtime: one session tracked now.
  ASSERT_EQ(
      track({{"websiteId", site_}, {"url", "https://example.com/"}, {"sessionId", "rt"}}).status,
      202);
  auto rt = get("/stats/" + site_ + "/realtime");
  ASSERT_EQ(rt.status, 200) << rt.body;
  EXPECT_EQ(rt.header("x-cache"), "MISS");
  json rtBody = json::parse(rt.body);
  EXPECT_EQ(rtBody["websiteId"], site_);
  EXPECT_EQ(rtBody["activeSessions"], 1);
  EXPECT_EQ(rtBody["windowSeconds"], 300);
  EXPECT_TRUE(rtBody["asOf"].is_string());

  // The cached entries live cache.ttl_seconds (30), realtime at most 5 s.
  redis::Client redis(redis::Url::parse(redis_.url()), std::chrono::seconds(2));
  const auto ttl = redis
                       .command({"TTL", redis::statsCacheKey(site_, "top-pages",
                                                             "tz=UTC&" + dates + "&limit=2")})
                       .integer();
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 30);
  const DateRange week = parseRange({}, {}, today_);
  const auto rtTtl = redis
                         .command({"TTL", redis::statsCacheKey(site_, "realtime",
                                                               "tz=UTC&from=" + date(week.from) +
                                                                   "&to=" + date(week.to))})
                         .integer();
  EXPECT_GT(rtTtl, 0);
  EXPECT_LE(rtTtl, 5);

  auto metrics = test::httpRequest("GET", daemon_->metricsUrl());
  EXPECT_THAT(metrics.body,
              HasSubstr("mp_stats_cache_requests_total{endpoint=\"top-pages\",result=\"hit\"} 4"));
  EXPECT_THAT(metrics.body,
              HasSubstr("mp_stats_cache_requests_total{endpoint=\"top-pages\",result=\"miss\"} 4"));
}

TEST_F(StatsHttp, AuthenticationOwnershipAndBadParameters) {
  const std::string base = "/stats/" + site_;
  auto anonymous = get(base + "/overview", "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(test::errorCode(anonymous), "unauthorized");
  EXPECT_THAT(anonymous.header("www-authenticate"), HasSubstr("Bearer"));
  EXPECT_EQ(get(base + "/top-pages", "not.a.token").status, 401);

  // Another user's website answers exactly as one that does not exist, on every endpoint.
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  const std::string other = tokenFor(seed::owner(conn, "other@example.com"));
  for (const char* endpoint :
       {"/overview", "/top-pages", "/realtime", "/timeseries", "/breakdown?dimension=os",
        "/sources", "/entry-pages", "/exit-pages"}) {
    auto foreign = get(base + endpoint, other);
    auto missing = get("/stats/0190d7a0-0000-7000-8000-00000000dead" + std::string(endpoint));
    auto malformed = get("/stats/not-a-uuid" + std::string(endpoint));
    EXPECT_EQ(foreign.status, 404) << endpoint;
    EXPECT_EQ(test::errorCode(foreign), "not_found") << endpoint;
    EXPECT_EQ(foreign.body, missing.body) << endpoint;
    EXPECT_EQ(missing.status, 404) << endpoint;
    EXPECT_EQ(malformed.status, 404) << endpoint;
  }

  // 400 invalid_request naming the parameter.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/top-pages?from=2026-13-01", "from"},
      {"/top-pages?to=yesterday", "to"},
      {"/overview?from=2026-11-30&to=2026-11-01", "from"},
      {"/realtime?to=2026-02-30", "to"},
      {"/top-pages?from=2026-11-30&to=2026-11-01", "after"},
      {"/top-pages?limit=0", "limit"},
      {"/top-pages?limit=101", "limit"},
      {"/top-pages?limit=ten", "limit"},
      {"/breakdown?dimension=plan", "dimension"},
      {"/breakdown", "dimension"},
      {"/breakdown?dimension=os&limit=-3", "limit"},
      {"/timeseries?interval=week", "interval"},
      {"/timeseries?interval=hour&from=2026-01-01&to=2026-03-01", "31 days"},
      {"/timeseries?from=1999-01-01&to=2026-01-01", "3660"},
      {"/top-pages?filters=nope", "filters"},
      {"/top-pages?filters=" + urlEncode(R"([["is","planet",["x"]]])"), "planet"},
      {"/top-pages?filters=" + urlEncode(R"([["near","page",["/"]]])"), "near"},
      {"/top-pages?filters=" + urlEncode(R"([["is","page",[]]])"), "filters"},
      {"/overview?filters=" + urlEncode(R"([["matches","page",["("]]])"), "regular expression"},
      {"/top-pages?compare=last_year", "compare"},
      {"/breakdown?dimension=time:day", "dimension"},
      {"/sources?limit=0", "limit"},
  };
  for (const auto& [path, mention] : bad) {
    auto r = get(base + path);
    EXPECT_EQ(r.status, 400) << path << ": " << r.body;
    EXPECT_EQ(test::errorCode(r), "invalid_request") << path;
    EXPECT_THAT(r.body, HasSubstr(mention)) << path;
  }
  EXPECT_EQ(get(base + "/overview", "").status, 401) << "401 before anything else";
}

TEST_F(StatsHttp, WithRedisDownAnswersComeFromTheDatabase) {
  const std::string path = "/stats/" + site_ + "/top-pages?limit=5";
  auto warm = get(path);
  ASSERT_EQ(warm.status, 200);
  redis_.stop();
  auto down = get(path);
  EXPECT_EQ(down.status, 200) << down.body;
  EXPECT_EQ(down.header("x-cache"), "MISS");
  EXPECT_EQ(down.body, warm.body);
  EXPECT_EQ(get("/stats/" + site_ + "/overview").status, 200);
  // Realtime lives in Redis: without it there is no answer to give.
  auto rt = get("/stats/" + site_ + "/realtime");
  EXPECT_EQ(rt.status, 503);
  EXPECT_EQ(test::errorCode(rt), "unavailable");
  // Back: caching resumes (a question not asked before, as Redis may have kept its data).
  redis_.start();
  const std::string other = "/stats/" + site_ + "/top-pages?limit=6";
  auto back = get(other);
  EXPECT_EQ(back.status, 200);
  EXPECT_EQ(back.header("x-cache"), "MISS");
  EXPECT_EQ(get(other).header("x-cache"), "HIT");
  auto metrics = test::httpRequest("GET", daemon_->metricsUrl());
  EXPECT_THAT(metrics.body,
              ::testing::ContainsRegex("mp_stats_cache_requests_total\\{endpoint=\"top-pages\","
                                       "result=\"error\"\\} [1-9]"));
}

TEST_F(StatsHttp, ALateServerSideEventShowsAtOnce) {
  // Server-side tracking may send events up to 30 days old: one for a folded, final day.
  const sys_days old = today_ - days{5};
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  const auto finals = aggregation::finalDays(conn, site_);
  ASSERT_EQ(std::count(finals.begin(), finals.end(), old), 1);
  const std::string path = "/stats/" + site_ + "/top-pages?from=" + date(old) + "&to=" + date(old);
  auto before = json::parse(get(path).body);
  ASSERT_EQ(before["pages"].size(), 3u);

  auto r = track({{"websiteId", site_},
                  {"url", "https://example.com/from-the-backend"},
                  {"timestamp", startMs(old) + 12 * 3'600'000}},
                 {"Authorization: Bearer " + token_});
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(waitForRows(5 * 10 + 45 + 1));
  EXPECT_TRUE(
      conn.execArgs("SELECT dirty FROM aggregation_runs WHERE website_id = $1 AND date = $2", site_,
                    date(old))
          .getBool(0, 0));
  // A new question (the cached one may serve its 30 s): the event is in it.
  auto after = json::parse(get(path + "&limit=20").body);
  ASSERT_EQ(after["pages"].size(), 4u);
  EXPECT_EQ(after, topPages(conn, scopeOf(site_, {old, old}), 20));
}

TEST_F(StatsHttp, RealtimeCountsSessionsByTheTimeOfTheirEvents) {
  // A backfilled event of two hours ago, one of four minutes ago, one now and one stamped a
  // minute ahead: three sessions had an event in the last five minutes.
  const std::int64_t now = util::nowMillis();
  const std::vector<std::pair<std::string, std::optional<std::int64_t>>> sessions = {
      {"backfilled", now - 2 * 3'600'000},
      {"recent", now - 4 * 60'000},
      {"live", std::nullopt},
      {"ahead", now + 60'000}};
  for (const auto& [session, timestamp] : sessions) {
    json body = {{"websiteId", site_}, {"url", "https://example.com/"}, {"sessionId", session}};
    if (timestamp) body["timestamp"] = *timestamp;
    const auto r = track(body);
    ASSERT_EQ(r.status, 202) << session << ": " << r.body;
  }
  redis::Client redis(redis::Url::parse(redis_.url()), std::chrono::seconds(2));
  EXPECT_EQ(realtime(redis, site_, util::nowMillis())["activeSessions"], 3);
  const auto rt = get("/stats/" + site_ + "/realtime");
  ASSERT_EQ(rt.status, 200) << rt.body;
  EXPECT_EQ(json::parse(rt.body)["activeSessions"], 3);
  // The session four minutes old leaves the window a minute from now, not five: its score is
  // its event's time. (The one stamped ahead counts from its arrival.)
  EXPECT_EQ(realtime(redis, site_, now + 90'000)["activeSessions"], 2);
  EXPECT_EQ(realtime(redis, site_, now + 301'000 + 5'000)["activeSessions"], 0);
}

}  // namespace
}  // namespace mp::stats
