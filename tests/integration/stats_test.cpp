// The stats answers against a direct SQL count over the raw events of a generated data set, in
// every state of aggregation (nothing folded; partly folded, with days folded too early, dirty
// and never folded; all re-folded twice), late events through the events writer, realtime from
// Redis, and the HTTP routes: authentication, ownership, parameters, the Redis cache.
#include "stats/stats.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
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
#include "support/env.hpp"
#include "support/http.hpp"
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

const Dimension kDimensions[] = {Dimension::kPage,     Dimension::kReferrer, Dimension::kBrowser,
                                 Dimension::kOs,       Dimension::kDevice,   Dimension::kCountry,
                                 Dimension::kEventType};

// The events column a dimension groups by, and whether only pageviews count.
std::pair<const char*, bool> columnOf(Dimension dimension) {
  switch (dimension) {
    case Dimension::kPage:
      return {"page", true};
    case Dimension::kReferrer:
      return {"referrer_host", true};
    case Dimension::kBrowser:
      return {"browser", true};
    case Dimension::kOs:
      return {"os", true};
    case Dimension::kDevice:
      return {"device", true};
    case Dimension::kCountry:
      return {"country", true};
    case Dimension::kEventType:
      return {"event_type", false};
  }
  return {"page", true};
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

  // Expected answers, straight from events.

  // A breakdown's answer, or (pages = true) the top-pages answer, for the page dimension.
  json expectedTop(const std::string& site, const DateRange& range, Dimension dimension, int limit,
                   bool pages = false) {
    const auto [column, pageviews] = columnOf(dimension);
    auto r = conn_.execArgs(
        fmt::format("SELECT coalesce({0}, ''), count(*), count(DISTINCT visitor_id) FROM events"
                    " WHERE website_id = $1 AND ts >= $2::timestamptz AND ts < $3::timestamptz{1}"
                    " GROUP BY 1 ORDER BY 2 DESC, coalesce({0}, '') COLLATE \"C\" LIMIT $4",
                    column, pageviews ? " AND event_type = 'pageview'" : ""),
        site, util::formatRfc3339Millis(startMs(range.from)),
        util::formatRfc3339Millis(startMs(range.to + days{1})), limit);
    const bool page = pages && dimension == Dimension::kPage;
    json rows = json::array();
    for (int i = 0; i < r.rows(); ++i) {
      rows.push_back({{page ? "page" : "value", r.get(i, 0)},
                      {"views", r.getInt(i, 1)},
                      {"visitors", r.getInt(i, 2)}});
    }
    if (page)
      return {
          {"websiteId", site}, {"from", date(range.from)}, {"to", date(range.to)}, {"pages", rows}};
    return {{"websiteId", site}, {"dimension", name(dimension)}, {"rows", rows}};
  }

  json expectedSeries(const std::string& site, const DateRange& range, Interval interval) {
    const bool hours = interval == Interval::kHour;
    const std::int64_t step = hours ? 3'600'000 : kDayMs;
    const int buckets = range.days() * (hours ? 24 : 1);
    auto r = conn_.execArgs(
        "SELECT i, count(e.ts) FILTER (WHERE e.event_type = 'pageview'),"
        " count(DISTINCT e.visitor_id) FROM generate_series(0, $3::int - 1) i"
        " LEFT JOIN events e ON e.website_id = $1"
        " AND e.ts >= $2::timestamptz + make_interval(secs => i * $4::bigint / 1000)"
        " AND e.ts < $2::timestamptz + make_interval(secs => (i + 1) * $4::bigint / 1000)"
        " GROUP BY i ORDER BY i",
        site, util::formatRfc3339Millis(startMs(range.from)), buckets, step);
    json points = json::array();
    for (int i = 0; i < r.rows(); ++i) {
      const std::int64_t start = startMs(range.from) + i * step;
      points.push_back(
          {{"t", hours ? util::formatRfc3339Millis(start) : date(range.from + days{i})},
           {"views", r.getInt(i, 1)},
           {"visitors", r.getInt(i, 2)}});
    }
    return {{"websiteId", site}, {"interval", name(interval)}, {"points", points}};
  }

  json expectedOverview(const std::string& site) {
    auto r = conn_.execArgs(
        "SELECT count(*) FILTER (WHERE event_type = 'pageview'), count(DISTINCT visitor_id),"
        " count(*) FILTER (WHERE event_type = 'pageview' AND ts >= $2 AND ts < $3),"
        " count(DISTINCT visitor_id) FILTER (WHERE ts >= $2 AND ts < $3),"
        " count(*) FILTER (WHERE event_type = 'pageview' AND ts >= $4 AND ts < $3),"
        " count(DISTINCT visitor_id) FILTER (WHERE ts >= $4 AND ts < $3)"
        " FROM events WHERE website_id = $1",
        site, util::formatRfc3339Millis(startMs(today_)),
        util::formatRfc3339Millis(startMs(today_ + days{1})),
        util::formatRfc3339Millis(startMs(today_ - days{6})));
    return {{"websiteId", site},
            {"totalViews", r.getInt(0, 0)},
            {"uniqueVisitors", r.getInt(0, 1)},
            {"today", {{"views", r.getInt(0, 2)}, {"visitors", r.getInt(0, 3)}}},
            {"last7Days", {{"views", r.getInt(0, 4)}, {"visitors", r.getInt(0, 5)}}},
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
      check(overview(conn_, site, now_), expectedOverview(site), "overview " + site);
      for (const auto& [label, range] : ranges()) {
        const std::string what = label + " " + site;
        for (int limit : {3, 100}) {
          check(topPages(conn_, site, range, limit),
                expectedTop(site, range, Dimension::kPage, limit, true), "top-pages " + what);
        }
        for (const Dimension dimension : kDimensions) {
          check(breakdown(conn_, site, range, dimension, 100),
                expectedTop(site, range, dimension, 100),
                "breakdown " + std::string(name(dimension)) + " " + what);
        }
        check(timeseries(conn_, site, range, Interval::kDay),
              expectedSeries(site, range, Interval::kDay), "timeseries day " + what);
        if (range.days() <= kMaxHourRangeDays) {
          check(timeseries(conn_, site, range, Interval::kHour),
                expectedSeries(site, range, Interval::kHour), "timeseries hour " + what);
        }
      }
    }
    return answers;
  }

  std::vector<std::string> rollupRows() {
    std::vector<std::string> out;
    for (const char* sql :
         {"SELECT website_id, date, page_views, unique_sessions, unique_visitors, events"
          " FROM event_summary ORDER BY 1, 2",
          "SELECT website_id, date, page, views, visitors FROM page_daily ORDER BY 1, 2, 3",
          "SELECT website_id, date, dimension, value, views, visitors FROM dimension_daily"
          " ORDER BY 1, 2, 3, 4",
          "SELECT website_id, week, page, views, visitors FROM page_weekly ORDER BY 1, 2, 3",
          "SELECT website_id, week, dimension, value, views, visitors FROM dimension_weekly"
          " ORDER BY 1, 2, 3, 4",
          "SELECT website_id, hour, views, visitors FROM hourly_summary ORDER BY 1, 2"}) {
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
  const json before = topPages(conn_, sites_[0], range, 100);
  ASSERT_EQ(before, expectedTop(sites_[0], range, Dimension::kPage, 100, true));
  // A final day's rollup row changed behind the fold's back shows in the answer: it is read.
  conn_.execArgs("INSERT INTO page_daily VALUES ($1, $2, '/rollup-only', 1000, 7)", sites_[0],
                 date(day));
  const json after = topPages(conn_, sites_[0], range, 100);
  ASSERT_FALSE(after["pages"].empty());
  EXPECT_EQ(after["pages"][0], json({{"page", "/rollup-only"}, {"views", 1000}, {"visitors", 7}}));
  // Today is never final: its rollup rows are not read, its events are.
  conn_.execArgs("INSERT INTO page_daily VALUES ($1, $2, '/rollup-only', 1000, 7)", sites_[0],
                 date(today_));
  const DateRange todayOnly{today_, today_};
  EXPECT_EQ(topPages(conn_, sites_[0], todayOnly, 100),
            expectedTop(sites_[0], todayOnly, Dimension::kPage, 100, true));

  // A whole final week (Monday to Sunday) is read from its weekly rows, its days are not.
  sys_days monday = today_ - days{30};
  while (std::chrono::weekday{monday} != std::chrono::Monday) monday -= days{1};
  const DateRange week{monday - days{1}, monday + days{7}};
  ASSERT_EQ(breakdown(conn_, sites_[1], week, Dimension::kBrowser, 100),
            expectedTop(sites_[1], week, Dimension::kBrowser, 100));
  conn_.execArgs("INSERT INTO dimension_weekly VALUES ($1, $2, 'browser', 'Weekly', 5000, 9)",
                 sites_[1], date(monday));
  conn_.execArgs("INSERT INTO dimension_daily VALUES ($1, $2, 'browser', 'Daily', 6000, 9)",
                 sites_[1], date(monday + days{2}));
  const json weekly = breakdown(conn_, sites_[1], week, Dimension::kBrowser, 1);
  EXPECT_EQ(weekly["rows"], json::parse(R"([{"value":"Weekly","views":5000,"visitors":9}])"));
  // A week cut by the range is read day by day.
  const DateRange partial{monday + days{1}, monday + days{7}};
  EXPECT_EQ(breakdown(conn_, sites_[1], partial, Dimension::kBrowser, 1)["rows"],
            json::parse(R"([{"value":"Daily","views":6000,"visitors":9}])"));
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
  const json before = topPages(conn_, sites_[1], range, 100);

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
  const json now = topPages(conn_, sites_[1], range, 100);
  EXPECT_NE(now, before);
  EXPECT_EQ(now, expectedTop(sites_[1], range, Dimension::kPage, 100, true));
  const DateRange neverRange{never, never};
  EXPECT_EQ(breakdown(conn_, sites_[1], neverRange, Dimension::kPage, 10),
            expectedTop(sites_[1], neverRange, Dimension::kPage, 10));
  EXPECT_EQ(overview(conn_, sites_[1], now_), expectedOverview(sites_[1]));

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
                .execArgs("SELECT views FROM page_daily WHERE website_id = $1 AND date = $2"
                          " AND page = '/late'",
                          sites_[1], date(old))
                .getInt(0, 0),
            1);
  EXPECT_EQ(topPages(conn_, sites_[1], range, 100), now);
  EXPECT_EQ(overview(conn_, sites_[1], now_), expectedOverview(sites_[1]));
}

TEST_F(StatsTest, UnknownAndMalformedWebsites) {
  insertDataSet();
  const DateRange range{today_ - days{6}, today_};
  // An id nobody has: zeros and empty lists (the callers check existence and ownership).
  const std::string nobody = "0190d7a0-0000-7000-8000-00000000dead";
  EXPECT_EQ(topPages(conn_, nobody, range, 10)["pages"], json::array());
  EXPECT_EQ(overview(conn_, nobody, now_)["totalViews"], 0);
  // Upper-case ids are the same website, answered in lower case.
  std::string upper = sites_[0];
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(topPages(conn_, upper, range, 10), topPages(conn_, sites_[0], range, 10));
  EXPECT_THROW(topPages(conn_, "not-a-uuid", range, 10), NotFound);
  EXPECT_THROW(timeseries(conn_, sites_[0], {today_ - days{31}, today_}, Interval::kHour),
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
  const std::vector<std::pair<std::string, json>> cases = {
      {"/top-pages?" + dates + "&limit=2", topPages(conn, site_, range, 2)},
      {"/top-pages?" + dates, topPages(conn, site_, range, 10)},
      {"/timeseries?" + dates, timeseries(conn, site_, range, Interval::kDay)},
      {"/timeseries?" + dates + "&interval=hour", timeseries(conn, site_, range, Interval::kHour)},
      {"/breakdown?" + dates + "&dimension=referrer",
       breakdown(conn, site_, range, Dimension::kReferrer, 10)},
      {"/breakdown?" + dates + "&dimension=eventType&limit=1",
       breakdown(conn, site_, range, Dimension::kEventType, 1)},
      {"/breakdown?dimension=country",
       breakdown(conn, site_, parseRange({}, {}, today_), Dimension::kCountry, 10)},
  };
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
  json expected = overview(conn, site_, util::nowMillis());
  body.erase("generatedAt");
  expected.erase("generatedAt");
  EXPECT_EQ(body, expected);
  auto overviewHit = get("/stats/" + site_ + "/overview?from=2020-01-01");
  EXPECT_EQ(overviewHit.header("x-cache"), "HIT") << "from/to do not change the overview";
  EXPECT_EQ(overviewHit.body, overviewMiss.body);

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
  const auto ttl =
      redis.command({"TTL", redis::statsCacheKey(site_, "top-pages", dates + "&limit=2")})
          .integer();
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 30);
  const auto rtTtl = redis.command({"TTL", redis::statsCacheKey(site_, "realtime", "")}).integer();
  EXPECT_GT(rtTtl, 0);
  EXPECT_LE(rtTtl, 5);

  auto metrics = test::httpRequest("GET", daemon_->metricsUrl());
  EXPECT_THAT(metrics.body,
              HasSubstr("mp_stats_cache_requests_total{endpoint=\"top-pages\",result=\"hit\"} 2"));
  EXPECT_THAT(metrics.body,
              HasSubstr("mp_stats_cache_requests_total{endpoint=\"top-pages\",result=\"miss\"} 2"));
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
       {"/overview", "/top-pages", "/realtime", "/timeseries", "/breakdown?dimension=os"}) {
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
  EXPECT_EQ(after, topPages(conn, site_, {old, old}, 20));
}

}  // namespace
}  // namespace mp::stats
