// Folding events into visits and rollups: every row equals the same numbers computed from raw
// events in plain SQL, re-folds are
// idempotent, late events are picked up, concurrent runs take turns, and mpctl aggregate run.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "events/event.hpp"
#include "goals/goals.hpp"
#include "ingest/event_store.hpp"
#include "stats/stats.hpp"
#include "support/env.hpp"
#include "support/reference.hpp"
#include "support/seed.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::aggregation {
namespace {

namespace seed = test::seed;
using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr sys_days kFirstDay{std::chrono::year{2025} / 10 / 26};
constexpr sys_days kLastDay{std::chrono::year{2025} / 11 / 4};
constexpr int kDays = 10;

// Each pair: a rollup read back, and the same numbers computed from the visits by the definitions
// (support/reference.hpp, UTC days: the websites' zone), both as sorted whole result sets.
struct Comparison {
  const char* table;
  const char* rollup;
  std::string direct;
};

// An event dimension: per visit, the events with each value; then per value.
std::string eventDimension(const char* name, const char* value) {
  return fmt::format(
      "{}{} SELECT vb.website_id, vb.day, '{}', x.value, {} FROM x JOIN vb"
      " USING (website_id, day, k, vn) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
      test::reference::visits(), test::reference::eventValues(value), name,
      test::reference::sums("x.pv", "x.ev"));
}

std::string visitDimension(const char* name) {
  return fmt::format(
      "{} SELECT website_id, day, '{}', {}, {} FROM vb GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
      test::reference::visits(), name, name, test::reference::sums());
}

constexpr const char* kBreakdown =
    "SELECT website_id, date, dimension, value, visitors, visits, pageviews, events, bounces,"
    " duration_ms FROM breakdown_daily WHERE dimension = '{}' ORDER BY 1, 2, 3, 4";

const std::vector<Comparison>& comparisons() {
  static const std::vector<Comparison> kComparisons = {
      {"event_summary",
       "SELECT website_id, date, unique_visitors, visits, page_views, events, bounces,"
       " duration_ms FROM event_summary ORDER BY 1, 2",
       fmt::format("{} SELECT website_id, day, {} FROM vb GROUP BY 1, 2 ORDER BY 1, 2",
                   test::reference::visits(), test::reference::sums())},
      {"visits", "SELECT website_id, date, count(*) FROM visits GROUP BY 1, 2 ORDER BY 1, 2",
       fmt::format("{} SELECT website_id, day, count(*) FROM vb GROUP BY 1, 2 ORDER BY 1, 2",
                   test::reference::visits())},
      {"breakdown_daily country", "", visitDimension("country")},
      {"breakdown_daily browser", "", visitDimension("browser")},
      {"breakdown_daily referrer", "", visitDimension("referrer")},
      {"breakdown_daily page", "", eventDimension("page", "coalesce(page, '')")},
      {"breakdown_daily event_type", "", eventDimension("event_type", "event_type")},
      // Events by their own hour (visitors: those of the visits with an event in it), visits by
      // the hour they started.
      {"hourly_summary",
       "SELECT website_id, hour, visitors, views, events, visits, bounces, duration_ms"
       " FROM hourly_summary ORDER BY 1, 2",
       fmt::format(
           "{}, h AS (SELECT n.website_id, date_trunc('hour', n.ts, 'UTC') AS hour,"
           " count(DISTINCT vb.visitor) AS visitors,"
           " count(*) FILTER (WHERE n.event_type = 'pageview') AS views, count(*) AS events"
           " FROM n JOIN vb USING (website_id, day, k, vn) GROUP BY 1, 2),"
           " s AS (SELECT website_id, date_trunc('hour', started, 'UTC') AS hour,"
           " count(*) AS visits, count(*) FILTER (WHERE bounce) AS bounces, sum(ms) AS ms"
           " FROM vb GROUP BY 1, 2)"
           " SELECT h.website_id, h.hour, h.visitors, h.views, h.events, coalesce(s.visits, 0),"
           " coalesce(s.bounces, 0), coalesce(s.ms, 0) FROM h LEFT JOIN s USING (website_id, hour)"
           " ORDER BY 1, 2",
           test::reference::visits())},
  };
  return kComparisons;
}

class AggregationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    sites_ = seed::websites(conn_, seed::owner(conn_), {{"A", "a.example"}, {"B", "b.example"}});
    // The fold must not depend on the session's time zone (+05:45 moves hours and days).
    conn_.exec("SET TimeZone = 'Asia/Kathmandu'");
  }

  // A deterministic data set: 2 websites over kDays days crossing the October/November boundary,
  // about 3,000 events, with NULLs, custom events and events on both sides of midnight UTC.
  long insertEvents() {
    static const char* const kTypes[] = {"pageview", "pageview", "pageview",
                                         "pageview", "click",    "signup"};
    static const char* const kPages[] = {"/",       "/",       "/pricing", "/docs", "/docs/install",
                                         "/blog/a", "/blog/b", nullptr};
    static const char* const kReferrers[] = {nullptr, nullptr, "google.com", "news.ycombinator.com",
                                             "t.co"};
    static const char* const kBrowsers[] = {"Chrome", "Firefox", "Safari", nullptr};
    static const char* const kOses[] = {"Windows", "macOS", "Linux", "iOS", nullptr};
    static const char* const kDevices[] = {"desktop", "mobile", "tablet", nullptr};
    static const char* const kCountries[] = {"DE", "US", "FR", "JP", nullptr};
    std::mt19937 rng(20251028);
    auto pick = [&rng](const auto& list) {
      return list[std::uniform_int_distribution<std::size_t>(0, std::size(list) - 1)(rng)];
    };
    std::vector<seed::Event> events;
    for (std::size_t s = 0; s < sites_.size(); ++s) {
      for (int d = 0; d < kDays; ++d) {
        const sys_days day = kFirstDay + days{d};
        const int n = 100 + static_cast<int>(rng() % 100) + static_cast<int>(s) * 40;
        for (int i = 0; i < n; ++i) {
          // The first events of each day sit at the very edges of the UTC day.
          long ms = std::uniform_int_distribution<long>(0, 86'399'999)(rng);
          if (i == 0) ms = 0;
          if (i == 1) ms = 86'399'999;
          if (i == 2) ms = 86'399'000 + static_cast<long>(rng() % 999);
          // Day-scoped, as ingest makes visitor ids: nobody is seen on two UTC days.
          const long visitor = static_cast<long>(rng() % 60) + 1000 * d;
          const std::string ts =
              fmt::format("{} {:02}:{:02}:{:02}.{:03}+00", util::formatDate(day), ms / 3'600'000,
                          ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
          // One draw per statement: argument evaluation order is unspecified.
          const char* type = pick(kTypes);
          const char* page = pick(kPages);
          const bool noSession = rng() % 10 == 0;
          const std::string session = fmt::format("s{}-{}", visitor, rng() % 3);
          const bool noVisitor = rng() % 20 == 0;
          const char* referrer = pick(kReferrers);
          const char* browser = pick(kBrowsers);
          const char* os = pick(kOses);
          const char* device = pick(kDevices);
          const char* country = pick(kCountries);
          events.push_back({sites_[s], ts, type, seed::text(page),
                            noSession ? std::nullopt : std::optional<std::string>(session),
                            noVisitor ? std::nullopt : std::optional<long>(visitor * 7919 - 400000),
                            seed::text(referrer), seed::text(browser), seed::text(os),
                            seed::text(device), seed::text(country)});
        }
      }
    }
    return static_cast<long>(seed::insertEvents(conn_, events));
  }

  std::vector<std::string> rows(const std::string& sql) {
    auto r = conn_.exec(sql);
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      std::string line;
      for (int c = 0; c < r.cols(); ++c) line += std::string(r.get(i, c)) + "|";
      out.push_back(line);
    }
    return out;
  }

  // Every rollup equals its direct computation; returns the rollup rows for later comparison.
  std::vector<std::vector<std::string>> expectRollupsMatchEvents() {
    std::vector<std::vector<std::string>> snapshot;
    for (const auto& c : comparisons()) {
      const std::string table = c.table;
      auto rollup = rows(table.rfind("breakdown_daily ", 0) == 0
                             ? fmt::format(fmt::runtime(kBreakdown), table.substr(16))
                             : std::string(c.rollup));
      EXPECT_FALSE(rollup.empty()) << c.table;
      EXPECT_EQ(rollup, rows(c.direct)) << c.table;
      snapshot.push_back(std::move(rollup));
    }
    return snapshot;
  }

  // The top pages of the first website over `range`: page, views and visitors of each.
  nlohmann::json pages(const stats::DateRange& range) {
    stats::Scope scope;
    scope.websiteId = sites_[0];
    scope.range = range;
    nlohmann::json out = nlohmann::json::array();
    const nlohmann::json answer = stats::topPages(conn_, scope, 10);
    for (const auto& p : answer["pages"]) {
      out.push_back({{"page", p["page"]}, {"views", p["views"]}, {"visitors", p["visitors"]}});
    }
    return out;
  }

  test::TempDatabase db_;
  db::Connection conn_{db_.url(), std::chrono::seconds(10)};
  std::vector<std::string> sites_;
};

TEST_F(AggregationTest, FoldedRollupsEqualDirectCountsOverEvents) {
  const long inserted = insertEvents();
  std::vector<sys_days> seen;
  const auto started = std::chrono::steady_clock::now();
  const auto result = foldRange(conn_, kFirstDay, kLastDay, std::nullopt,
                                [&](sys_days day, std::int64_t) { seen.push_back(day); });
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
  std::printf("folded %d days, %lld events in %.0f ms\n", result.days,
              static_cast<long long>(result.events), took.count());
  EXPECT_EQ(result.days, kDays);
  EXPECT_EQ(result.events, inserted);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kDays));
  EXPECT_EQ(seen.front(), kFirstDay);
  EXPECT_EQ(seen.back(), kLastDay);
  expectRollupsMatchEvents();

  // Unique visitors over a range crossing the month boundary: the sum of the days' counts is the
  // exact distinct count, as visitor ids are day-scoped.
  const char* range = "'2025-10-28' AND '2025-11-03'";
  EXPECT_EQ(rows(fmt::format("SELECT website_id, sum(unique_visitors) FROM event_summary"
                             " WHERE date BETWEEN {} GROUP BY 1 ORDER BY 1",
                             range)),
            rows(fmt::format("{} SELECT website_id, count(DISTINCT visitor) FROM vb"
                             " WHERE day BETWEEN {} GROUP BY 1 ORDER BY 1",
                             test::reference::visits(), range)));
  // Every website has a run row per day folded.
  EXPECT_EQ(rows("SELECT count(*) FROM aggregation_runs"),
            std::vector<std::string>{std::to_string(kDays * 2) + "|"});
}

TEST_F(AggregationTest, RefoldingGivesIdenticalRowsAndPicksUpLateEvents) {
  insertEvents();
  foldRange(conn_, kFirstDay, kLastDay);
  const auto first = expectRollupsMatchEvents();
  foldRange(conn_, kFirstDay, kLastDay);
  EXPECT_EQ(expectRollupsMatchEvents(), first);

  // A late event for a folded day: a new page and a new visitor at 23:59:59.999 on Oct 31.
  seed::insertEvents(
      conn_, {{sites_[1], "2025-10-31 23:59:59.999+00", "pageview", "/late", "late-s", 424242,
               "late.example", "Edge", "Windows", "desktop", "NZ"}});
  EXPECT_NE(rows(comparisons()[0].rollup), rows(comparisons()[0].direct));
  const auto result = foldRange(conn_, sys_days{std::chrono::year{2025} / 10 / 31},
                                sys_days{std::chrono::year{2025} / 10 / 31}, sites_[1]);
  EXPECT_EQ(result.days, 1);
  expectRollupsMatchEvents();
  EXPECT_EQ(rows(fmt::format("SELECT pageviews, visitors FROM breakdown_daily WHERE website_id ="
                             " '{}' AND date = '2025-10-31' AND dimension = 'page'"
                             " AND value = '/late'",
                             sites_[1])),
            std::vector<std::string>{"1|1|"});
}

// Ingest accepts a url and a referrer of 2,048 characters, up to 8 KiB of UTF-8: such a page or
// referrer host must fold like any other, not fail the fold of its whole day (a btree entry holds
// at most 2,704 bytes, so the rollup keys must not hold the text whole).
TEST_F(AggregationTest, PagesAndValuesTooLongForAnIndexEntryAreFolded) {
  insertEvents();
  // Random Cyrillic text does not compress: 2,040 characters are 4,080 bytes.
  conn_.execArgs(
      "INSERT INTO events (website_id, ts, event_type, page, session_id, visitor_id,"
      " referrer_host, browser, os, device, country)"
      " SELECT $1::uuid, '2025-10-30 12:00:00+00', e, p, 'long-s', 4242, r, 'Chrome', 'Linux',"
      " 'desktop', 'DE' FROM (SELECT '/' || string_agg(chr(1040 + (random() * 60)::int), '') p,"
      " string_agg(chr(1040 + (random() * 60)::int), '') || '.example' r"
      " FROM generate_series(1, 2040)) x, (VALUES ('pageview'), ('pageview'), ('signup')) t(e)",
      sites_[0]);
  const auto result = foldRange(conn_, kFirstDay, kLastDay);
  EXPECT_EQ(result.days, kDays);
  expectRollupsMatchEvents();
  EXPECT_EQ(rows(fmt::format("SELECT pageviews, visitors FROM breakdown_daily WHERE website_id ="
                             " '{}' AND dimension = 'page' AND octet_length(value) > 4000",
                             sites_[0])),
            std::vector<std::string>{"2|1|"});
  EXPECT_EQ(rows(fmt::format("SELECT visits, pageviews FROM breakdown_daily WHERE website_id ="
                             " '{}' AND dimension = 'referrer' AND octet_length(value) > 4000",
                             sites_[0])),
            std::vector<std::string>{"1|2|"});
  EXPECT_EQ(rows(fmt::format("SELECT count(*) FROM visits WHERE website_id = '{}'"
                             " AND octet_length(entry_page) > 4000",
                             sites_[0])),
            std::vector<std::string>{"1|"});
}

TEST_F(AggregationTest, ConcurrentRunsTakeTurnsAndBothSucceed) {
  insertEvents();
  std::mutex mutex;
  std::vector<int> order;
  std::vector<FoldResult> results(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      try {
        db::Connection conn(db_.url(), std::chrono::seconds(10));
        results[static_cast<std::size_t>(t)] =
            foldRange(conn, kFirstDay, kLastDay, std::nullopt, [&](sys_days, std::int64_t) {
              const std::lock_guard<std::mutex> guard(mutex);
              order.push_back(t);
            });
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(results[0].days, kDays);
  EXPECT_EQ(results[1].days, kDays);
  // Serialised by the advisory lock: all days of one run, then all days of the other.
  ASSERT_EQ(order.size(), static_cast<std::size_t>(2 * kDays));
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (i != static_cast<std::size_t>(kDays)) {
      EXPECT_EQ(order[i], order[i - 1]) << "at " << i;
    }
  }
  EXPECT_NE(order.front(), order.back());
  expectRollupsMatchEvents();
}

TEST_F(AggregationTest, TryFoldRecentStepsAsideWhileAnotherRunHoldsTheLock) {
  db::Connection other(db_.url(), std::chrono::seconds(10));
  other.execArgs("SELECT pg_advisory_lock($1)", kFoldLockKey);
  EXPECT_FALSE(tryFoldRecent(conn_));
  other.execArgs("SELECT pg_advisory_unlock($1)", kFoldLockKey);

  // 'now' is the transaction's start, as now() is.
  seed::insertEvents(
      conn_, {{.website = sites_[0], .ts = "now", .page = "/now", .session = "n1", .visitor = 1}});
  EXPECT_TRUE(tryFoldRecent(conn_));
  // The websites were created today: today is all there is to fold for them.
  EXPECT_EQ(rows("SELECT count(*), min(date) = (now() AT TIME ZONE 'UTC')::date"
                 " FROM aggregation_runs"),
            std::vector<std::string>{"2|t|"});
  expectRollupsMatchEvents();
  // The lock was released: another session can take it at once.
  EXPECT_TRUE(other.execArgs("SELECT pg_try_advisory_lock($1)", kFoldLockKey).getBool(0, 0));
}

TEST_F(AggregationTest, FoldedSpanCoversOnlyFinalGapFreeDays) {
  EXPECT_EQ(foldedThrough(conn_, sites_[0]), std::nullopt);
  foldRange(conn_, kFirstDay, kLastDay);
  auto span = foldedSpan(conn_, sites_[0]);
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->from, kFirstDay);
  EXPECT_EQ(span->through, kLastDay);
  // A gap after the span: days beyond it stay unfolded.
  foldRange(conn_, kLastDay + days{2}, kLastDay + days{3});
  EXPECT_EQ(foldedThrough(conn_, sites_[0]), kLastDay);
  // Today can still receive events, so it is never final.
  const auto today = util::todayUtc();
  foldRange(conn_, today - days{1}, today, sites_[1]);
  EXPECT_EQ(foldedThrough(conn_, sites_[1]), kLastDay);
}

// The aggregation_runs rows of one website as "date|folded_at|dirty" lines.
std::map<std::string, std::string> runsOf(db::Connection& conn, const std::string& site) {
  auto r = conn.execArgs(
      "SELECT date::text, folded_at::text, dirty FROM aggregation_runs WHERE website_id = $1",
      site);
  std::map<std::string, std::string> out;
  for (int i = 0; i < r.rows(); ++i) {
    out[std::string(r.get(i, 0))] = std::string(r.get(i, 1)) + "|" + std::string(r.get(i, 2));
  }
  return out;
}

TEST_F(AggregationTest, TryFoldRecentFoldsEveryDayThatIsNotFinal) {
  conn_.exec("UPDATE websites SET created_at = now() - interval '50 days'");
  const sys_days today = util::todayUtc();
  for (int back : {40, 30, 3, 1, 0}) {
    seed::insertEvents(conn_, {{.website = sites_[0],
                                .ts = util::formatDate(today - days{back}) + " 00:00:00+00",
                                .page = fmt::format("/d{}", back),
                                .session = "s",
                                .visitor = 1000 + back}});
  }
  // First run: every day of the window since the websites exist, for both; nothing older.
  ASSERT_TRUE(tryFoldRecent(conn_));
  EXPECT_EQ(rows("SELECT count(*), count(DISTINCT date), min(date), max(date), bool_or(dirty)"
                 " FROM aggregation_runs"),
            std::vector<std::string>{
                fmt::format("{}|{}|{}|{}|f|", 2 * (kRecentDays + 1), kRecentDays + 1,
                            util::formatDate(today - days{kRecentDays}), util::formatDate(today))});
  EXPECT_EQ(rows(fmt::format("SELECT events FROM event_summary WHERE date = '{}'",
                             util::formatDate(today - days{30}))),
            std::vector<std::string>{"1|"});
  EXPECT_EQ(rows(fmt::format("SELECT count(*) FROM event_summary WHERE date = '{}'",
                             util::formatDate(today - days{40}))),
            std::vector<std::string>{"0|"});

  // Then: a day folded before it settled, a dirty day (one website), a day never folded.
  const sys_days early = today - days{20};
  const sys_days marked = today - days{25};
  const sys_days missing = today - days{15};
  conn_.execArgs(
      "UPDATE aggregation_runs SET folded_at = ($1::date + 1)::timestamp AT TIME ZONE 'UTC'"
      " + interval '59 minutes' WHERE date = $1::date",
      util::formatDate(early));
  conn_.execArgs("UPDATE aggregation_runs SET dirty = true WHERE website_id = $1 AND date = $2",
                 sites_[1], util::formatDate(marked));
  conn_.execArgs("DELETE FROM aggregation_runs WHERE date = $1", util::formatDate(missing));
  const auto before0 = runsOf(conn_, sites_[0]);
  const auto before1 = runsOf(conn_, sites_[1]);
  ASSERT_TRUE(tryFoldRecent(conn_));
  const auto after0 = runsOf(conn_, sites_[0]);
  const auto after1 = runsOf(conn_, sites_[1]);
  for (int back = 0; back <= kRecentDays; ++back) {
    const sys_days day = today - days{back};
    const std::string d = util::formatDate(day);
    ASSERT_TRUE(after0.count(d) && after1.count(d)) << d;
    EXPECT_THAT(after0.at(d), ::testing::EndsWith("|f")) << d;
    EXPECT_THAT(after1.at(d), ::testing::EndsWith("|f")) << d;
    if (back == 1) continue;  // yesterday is final or not depending on the time of day
    const bool both = day == today || day == early || day == missing;
    EXPECT_EQ(before0.count(d) == 0 || after0.at(d) != before0.at(d), both) << d;
    EXPECT_EQ(before1.count(d) == 0 || after1.at(d) != before1.at(d), both || day == marked) << d;
  }
}

TEST_F(AggregationTest, ALateEventForYesterdayIsCountedAtOnceAndFoldedByTheNextRun) {
  conn_.exec("UPDATE websites SET created_at = now() - interval '3 days'");
  const sys_days today = util::todayUtc();
  const sys_days yesterday = today - days{1};
  for (int i = 0; i < 5; ++i) {
    seed::insertEvents(conn_,
                       {{.website = sites_[0],
                         .ts = fmt::format("{} 0{}:00:00+00", util::formatDate(yesterday), i),
                         .page = "/",
                         .session = fmt::format("s{}", i),
                         .visitor = 100 + i % 2}});
  }
  foldRange(conn_, yesterday, today);
  const stats::DateRange range{yesterday, yesterday};
  EXPECT_EQ(pages(range), nlohmann::json::parse(R"([{"page":"/","views":5,"visitors":2}])"));

  // Through the writers' path, as a queue drained after an outage would bring it.
  events::Event late;
  late.id = util::uuidV7();
  late.websiteId = sites_[0];
  late.tsMillis = (static_cast<std::int64_t>(today.time_since_epoch().count()) * 86'400 - 1) * 1000;
  late.eventType = "pageview";
  late.page = "/late";
  late.url = "https://a.example/late";
  late.hostname = "a.example";
  late.sessionId = "late";
  late.visitorId = 4242;
  db::Connection writer(db_.url(), std::chrono::seconds(10));
  ASSERT_EQ(ingest::EventStore::insertBatch(writer, std::vector<events::Event>{late}), 1u);
  EXPECT_EQ(rows(fmt::format("SELECT dirty FROM aggregation_runs WHERE website_id = '{}'"
                             " AND date = '{}'",
                             sites_[0], util::formatDate(yesterday))),
            std::vector<std::string>{"t|"});
  // The stats count it at once: the day is read from events until it is folded again.
  const auto expected = nlohmann::json::parse(
      R"([{"page":"/","views":5,"visitors":2},{"page":"/late","views":1,"visitors":1}])");
  EXPECT_EQ(pages(range), expected);

  ASSERT_TRUE(tryFoldRecent(conn_));
  EXPECT_EQ(rows("SELECT bool_or(dirty) FROM aggregation_runs"), std::vector<std::string>{"f|"});
  expectRollupsMatchEvents();
  EXPECT_EQ(rows(fmt::format("SELECT pageviews, visitors FROM breakdown_daily WHERE date = '{}'"
                             " AND dimension = 'page' AND value = '/late'",
                             util::formatDate(yesterday))),
            std::vector<std::string>{"1|1|"});
  EXPECT_EQ(pages(range), expected);
}

TEST_F(AggregationTest, AMarkMadeDuringAFoldMakesItFoldTheDayAgain) {
  insertEvents();
  foldRange(conn_, kFirstDay, kLastDay);
  const sys_days day = kFirstDay + days{3};
  const std::string d = util::formatDate(day);

  // A writer's transaction: a late event and its mark, not committed yet.
  db::Connection writer(db_.url(), std::chrono::seconds(10));
  writer.exec("BEGIN");
  writer.execArgs(
      "INSERT INTO events (website_id, ts, event_type, page, session_id, visitor_id)"
      " VALUES ($1, ($2::date)::timestamp AT TIME ZONE 'UTC' + interval '5 hours', 'pageview',"
      " '/during', 'during', 777777)",
      sites_[0], d);
  writer.execArgs(
      "UPDATE aggregation_runs SET dirty = true WHERE website_id = $1 AND date = $2::date",
      sites_[0], d);

  // A fold of that day takes its snapshot without the event, then waits for the marked row.
  FoldResult result;
  std::string error;
  std::thread fold([&] {
    try {
      db::Connection conn(db_.url(), std::chrono::seconds(10));
      result = foldRange(conn, day, day);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  bool waiting = false;
  for (int i = 0; i < 1500 && !waiting; ++i) {
    waiting = conn_
                  .exec(
                      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                      " AND wait_event_type = 'Lock' AND query LIKE '%aggregation_runs%'")
                  .getInt(0, 0) > 0;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  writer.exec("COMMIT");
  fold.join();
  ASSERT_TRUE(waiting) << "the fold never waited for the writer's row";
  EXPECT_EQ(error, "");
  // Its upsert failed to serialise, so it folded the day again with the event in view.
  EXPECT_EQ(result.days, 1);
  EXPECT_EQ(rows(fmt::format(
                "SELECT count(*) FROM events WHERE (ts AT TIME ZONE 'UTC')::date = '{}'", d)),
            std::vector<std::string>{std::to_string(result.events) + "|"});
  EXPECT_EQ(rows(fmt::format("SELECT dirty FROM aggregation_runs WHERE website_id = '{}'"
                             " AND date = '{}'",
                             sites_[0], d)),
            std::vector<std::string>{"f|"});
  expectRollupsMatchEvents();
}

class AggregateCliTest : public AggregationTest {
 protected:
  test::ProcessResult mpctl(std::vector<std::string> args, const std::string& command = "run") {
    const auto config = dir_.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n");
    args.insert(args.begin(), {test::mpctlPath(), "-c", config.string(), "aggregate", command});
    return test::runProcess(args, "", {{"MP_DATABASE_URL", db_.url()}});
  }
  test::TempDir dir_;
};

TEST_F(AggregateCliTest, RunFoldsTheRangeAndReportsIt) {
  insertEvents();
  auto run = mpctl({"--from", "2025-10-28", "--to", "2025-11-03"});
  ASSERT_EQ(run.exitCode, exit_code::kOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("folded 7 days, "));
  EXPECT_THAT(run.out, HasSubstr(" events in "));
  // Not a terminal: no per-day progress lines.
  EXPECT_THAT(run.out, Not(HasSubstr("folded 2025-")));
  EXPECT_EQ(rows("SELECT min(date), max(date), count(DISTINCT website_id) FROM event_summary"),
            std::vector<std::string>{"2025-10-28|2025-11-03|2|"});
  EXPECT_EQ(rows("SELECT sum(events) FROM event_summary"),
            rows("SELECT count(*) FROM events WHERE ts >= '2025-10-28 00:00+00'"
                 " AND ts < '2025-11-04 00:00+00'"));

  auto one = mpctl({"--from", "2025-10-26", "--to", "2025-10-26", "--website", sites_[0]});
  ASSERT_EQ(one.exitCode, exit_code::kOk) << one.err;
  EXPECT_THAT(one.out, HasSubstr("folded 1 day, "));
  EXPECT_EQ(rows("SELECT website_id FROM event_summary WHERE date = '2025-10-26'"),
            std::vector<std::string>{sites_[0] + "|"});
}

TEST_F(AggregateCliTest, RefreshGivesAFunnelTheRowsOfDaysFoldedBeforeIt) {
  insertEvents();
  ASSERT_EQ(mpctl({"--from", "2025-10-28", "--to", "2025-11-03"}).exitCode, exit_code::kOk);
  const auto home = goals::addGoal(conn_, sites_[0], {.pagePath = "/"});
  const auto any = goals::addGoal(conn_, sites_[0], {.pagePath = "/**"});
  goals::addFunnel(conn_, sites_[0], "home then anything", {home.id, any.id});

  auto refresh = mpctl({}, "refresh");
  ASSERT_EQ(refresh.exitCode, exit_code::kOk) << refresh.err;
  EXPECT_THAT(
      refresh.out,
      HasSubstr("refreshed the visits of 0 days, goal, funnel and page rows of 21 days in "));
  EXPECT_EQ(rows("SELECT count(*), min(date), max(date) FROM funnel_daily"),
            std::vector<std::string>{"14|2025-10-28|2025-11-03|"});
  EXPECT_EQ(rows("SELECT count(*), count(DISTINCT goal_id) FROM goal_daily"),
            std::vector<std::string>{"14|2|"});
  auto again = mpctl({}, "refresh");
  ASSERT_EQ(again.exitCode, exit_code::kOk) << again.err;
  EXPECT_THAT(again.out, HasSubstr("goal, funnel and page rows of 0 days"));
}

TEST_F(AggregateCliTest, BadRangesAndUnknownWebsitesAreRefused) {
  auto reversed = mpctl({"--from", "2025-11-03", "--to", "2025-10-28"});
  EXPECT_EQ(reversed.exitCode, exit_code::kUsage);
  EXPECT_THAT(reversed.err, HasSubstr("after"));
  auto malformed = mpctl({"--from", "2025-13-01", "--to", "2025-12-01"});
  EXPECT_EQ(malformed.exitCode, exit_code::kUsage);
  EXPECT_THAT(malformed.err, HasSubstr("2025-13-01"));
  auto unknown = mpctl({"--website", "0190d7a0-0000-7000-8000-00000000dead"});
  EXPECT_EQ(unknown.exitCode, exit_code::kNotFound);
  EXPECT_THAT(unknown.err, HasSubstr("no website"));
  auto defaults = mpctl({});
  EXPECT_EQ(defaults.exitCode, exit_code::kOk) << defaults.err;
  EXPECT_THAT(defaults.out, HasSubstr("folded 2 days, 0 events in "));
  EXPECT_EQ(rows("SELECT count(*) FROM aggregation_runs"), std::vector<std::string>{"4|"});
}

}  // namespace
}  // namespace mp::aggregation
