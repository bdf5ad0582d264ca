// The query engine against the definitions: small hand-made event sets whose numbers are worked
// out by hand, and a random data set where every answer must equal the same question asked in
// plain SQL over the raw events (window functions, written here independently of the engine),
// before the days are folded, after, and with some days folded and others not.
#include "stats/engine.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "sites/sites.hpp"
#include "support/env.hpp"
#include "support/seed.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using stats::Dim;
using stats::DimensionKind;
using stats::Filter;
using stats::FilterOp;
using stats::Metric;
using std::chrono::days;
using std::chrono::sys_days;

const std::vector<Metric> kAllMetrics = {
    Metric::kVisitors,      Metric::kVisits,     Metric::kPageviews,    Metric::kEvents,
    Metric::kViewsPerVisit, Metric::kBounceRate, Metric::kVisitDuration};

Dim dim(const char* name) {
  return *stats::dimensionNamed(name);
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    owner_ = seed::owner(conn_);
    site_ = seed::website(conn_, owner_, "A", "a.example");
  }

  void insert(std::vector<seed::Event> events, const std::string& site = {}) {
    for (auto& e : events) e.website = site.empty() ? site_ : site;
    seed::insertEvents(conn_, events);
  }

  stats::Query query(sys_days from, sys_days to, const std::string& zone = "UTC") {
    stats::Query q;
    q.websiteId = site_;
    q.timeZone = zone;
    q.range = {from, to};
    q.metrics = kAllMetrics;
    return q;
  }

  stats::Totals totals(const stats::Query& q) {
    auto answer = stats::run(conn_, q);
    EXPECT_EQ(answer.rows.size(), 1u);
    return answer.rows.empty() ? stats::Totals{} : answer.rows[0].totals;
  }

  TempDatabase db_;
  db::Connection conn_{db_.url(), std::chrono::seconds(10)};
  std::string owner_;
  std::string site_;
};

constexpr sys_days kDay{std::chrono::year{2026} / 3 / 10};

TEST_F(EngineTest, VisitsBouncesAndDurationOfAHandMadeDay) {
  insert({
      // Visit 1 (visitor 1): two page views 4 minutes apart: not a bounce, 240 s.
      {.ts = "2026-03-10 09:00:00+00", .page = "/", .session = "a", .visitor = 1},
      {.ts = "2026-03-10 09:04:00+00", .page = "/pricing", .session = "a", .visitor = 1},
      // Visit 2 (visitor 1 again, 31 minutes later): one page view and a scroll ping sent as
      // non-interactive 60 s later: a bounce that lasted 60 s.
      {.ts = "2026-03-10 09:35:00+00", .page = "/blog", .session = "a", .visitor = 1},
      {.ts = "2026-03-10 09:36:00+00",
       .type = "scroll",
       .page = "/blog",
       .session = "a",
       .visitor = 1,
       .interactive = false},
      // Visit 3 (visitor 2): one page view and a signup: not a bounce, 30 s.
      {.ts = "2026-03-10 10:00:00+00", .page = "/", .session = "b", .visitor = 2},
      {.ts = "2026-03-10 10:00:30+00", .type = "Signup", .page = "/", .session = "b", .visitor = 2},
      // Visit 4 (visitor 3): a single page view: a bounce of 0 s.
      {.ts = "2026-03-10 11:00:00+00", .page = "/docs", .session = "c", .visitor = 3},
  });
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "from raw events" : "from the folded day");
    if (pass == 1) aggregation::foldRange(conn_, kDay, kDay);
    const auto t = totals(query(kDay, kDay));
    EXPECT_EQ(t.visitors, 3);
    EXPECT_EQ(t.visits, 4);
    EXPECT_EQ(t.pageviews, 5);
    EXPECT_EQ(t.events, 7);
    EXPECT_EQ(t.bounces, 2);
    EXPECT_EQ(t.durationMs, (240 + 60 + 30 + 0) * 1000);
    EXPECT_EQ(stats::value(Metric::kBounceRate, t), 50);     // 2 of 4
    EXPECT_EQ(stats::value(Metric::kVisitDuration, t), 83);  // 330 s / 4 = 82.5, half up
    EXPECT_DOUBLE_EQ(stats::value(Metric::kViewsPerVisit, t), 1.25);

    // Entry and exit pages.
    auto q = query(kDay, kDay);
    q.dimensions = {dim("entry_page")};
    auto entries = stats::run(conn_, q).rows;
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].dimensions[0], "/");  // visits 1 and 3
    EXPECT_EQ(entries[0].totals.visits, 2);
    EXPECT_EQ(entries[0].totals.bounces, 0);
    q.dimensions = {dim("exit_page")};
    auto exits = stats::run(conn_, q).rows;
    ASSERT_EQ(exits.size(), 4u);  // /pricing, /blog, /, /docs: one visit each
    for (const auto& row : exits) EXPECT_EQ(row.totals.visits, 1) << row.dimensions[0];

    // "Visits that saw /": page is / keeps visits 1 and 3, and counts only the matching views.
    q = query(kDay, kDay);
    q.filters = {Filter{dim("page"), FilterOp::kIs, {"/"}}};
    const auto home = totals(q);
    EXPECT_EQ(home.visits, 2);
    EXPECT_EQ(home.visitors, 2);
    EXPECT_EQ(home.pageviews, 2);
    EXPECT_EQ(home.events, 3);  // the two views and the signup sent from /
    EXPECT_EQ(home.bounces, 0);
  }
}

TEST_F(EngineTest, DaysAreTheWebsitesAndAVisitAcrossItsMidnightIsTwo) {
  // 23:50 and 00:10 in New York (UTC-4 since March 8th): two local days, two visits; for a UTC
  // website the same events are one visit on March 11th.
  insert({
      {.ts = "2026-03-11 03:50:00+00", .page = "/late", .session = "s", .visitor = 7},
      {.ts = "2026-03-11 04:10:00+00", .page = "/early", .session = "s", .visitor = 7},
  });
  auto ny = query(kDay, kDay + days{1}, "America/New_York");
  ny.dimensions = {dim("time:day")};
  auto rows = stats::run(conn_, ny).rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].dimensions[0], "2026-03-10");
  EXPECT_EQ(rows[0].totals.visits, 1);
  EXPECT_EQ(rows[1].dimensions[0], "2026-03-11");
  EXPECT_EQ(rows[1].totals.visits, 1);
  EXPECT_EQ(rows[1].totals.bounces, 1);
  auto utc = query(kDay, kDay + days{1});
  EXPECT_EQ(totals(utc).visits, 1);
  EXPECT_EQ(totals(utc).bounces, 0);
  // Hours are the zone's too: 23:00 on the 10th and 00:00 on the 11th, as UTC instants.
  ny.dimensions = {dim("time:hour")};
  rows = stats::run(conn_, ny).rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].dimensions[0], "2026-03-11T03:00:00.000Z");
  EXPECT_EQ(rows[1].dimensions[0], "2026-03-11T04:00:00.000Z");
}

// The random data set and its reference SQL.
class EngineVersusSql : public EngineTest {
 protected:
  static constexpr int kDays = 6;
  static constexpr sys_days kFirst{std::chrono::year{2026} / 3 / 5};

  void SetUp() override {
    EngineTest::SetUp();
    other_ = seed::website(conn_, owner_, "B", "b.example");
    seed::insertEvents(conn_, randomEvents(20260305));
  }

  // Visitors 1 to 400, each with one to three bursts of events on random days, some crossing
  // midnight in UTC and in the zones below, some with gaps just over or under 30 minutes.
  std::vector<seed::Event> randomEvents(unsigned seed) const {
    std::mt19937 rng(seed);
    static const char* const kPages[] = {"/", "/", "/pricing", "/docs", "/blog/a", "/blog/b"};
    static const char* const kCountries[] = {"DE", "US", "FR", nullptr};
    static const char* const kSources[] = {nullptr, nullptr, "Google", "Hacker News", "news"};
    std::vector<seed::Event> events;
    for (int visitor = 1; visitor <= 400; ++visitor) {
      const int bursts = 1 + static_cast<int>(rng() % 3);
      for (int b = 0; b < bursts; ++b) {
        long long ms =
            seed::dayStartMs(kFirst) + static_cast<long long>(rng() % (kDays * 86'400ULL)) * 1000;
        const int n = 1 + static_cast<int>(rng() % 5);
        const char* country = kCountries[rng() % 4];
        const char* source = kSources[rng() % 5];
        const std::string session = rng() % 3 == 0 ? fmt::format("c{}-{}", visitor, b) : "";
        for (int i = 0; i < n; ++i) {
          const bool custom = rng() % 5 == 0;
          seed::Event e{.website = rng() % 10 == 0 ? other_ : site_,
                        .ts = util::formatRfc3339Millis(ms),
                        .type = custom ? (rng() % 2 ? "Signup" : "scroll") : "pageview",
                        .page = std::string(kPages[rng() % 6]),
                        .visitor = visitor,
                        .country = seed::text(country),
                        .source = i == 0 ? seed::text(source) : std::nullopt,
                        .props = custom ? std::optional<std::string>(fmt::format(
                                              R"({{"plan": "{}"}})", rng() % 2 ? "pro" : "free"))
                                        : std::nullopt,
                        .interactive = !(custom && rng() % 2)};
          if (!session.empty()) e.session = session;
          events.push_back(e);
          ms += static_cast<long long>(rng() % 2 ? 29 * 60 + rng() % 120 : rng() % 600) * 1000;
        }
      }
    }
    return events;
  }

  // Visits of the website by the definitions, in plain SQL: per day of `zone` and session key
  // (session id, else visitor id), a new visit where the gap to the previous event exceeds 30
  // minutes; a visit's attributes and visitor are those of its first event.
  std::string referenceVisits(const std::string& zone) const {
    return fmt::format(
        "WITH e AS (SELECT ev.*, (ev.ts AT TIME ZONE '{1}')::date AS day,"
        " coalesce(ev.session_id, 'v' || ev.visitor_id, 'e' || ev.id) AS k"
        " FROM events ev WHERE ev.website_id = '{0}'),"
        " g AS (SELECT e.*, CASE WHEN lag(e.ts) OVER (PARTITION BY e.day, e.k ORDER BY e.ts, e.id)"
        " >= e.ts - interval '30 minutes' THEN 0 ELSE 1 END AS nv FROM e),"
        " n AS (SELECT g.*, sum(g.nv) OVER (PARTITION BY g.day, g.k ORDER BY g.ts, g.id) AS vn"
        " FROM g)"
        " SELECT n.day, n.k, n.vn,"
        " (array_agg(n.visitor_id ORDER BY n.ts, n.id))[1] AS visitor,"
        " (array_agg(coalesce(n.country, '') ORDER BY n.ts, n.id))[1] AS country,"
        " (array_agg(coalesce(n.source, '') ORDER BY n.ts, n.id))[1] AS source,"
        " min(n.ts) AS started, max(n.ts) AS ended,"
        " count(*) FILTER (WHERE n.event_type <> 'pageview' AND n.interactive) AS ia,"
        " count(*) FILTER (WHERE n.event_type = 'pageview') AS pv, count(*) AS ev,"
        " array_agg(n.event_type ORDER BY n.ts, n.id) AS types,"
        " array_agg(n.page ORDER BY n.ts, n.id) AS pages,"
        " array_agg(n.props ORDER BY n.ts, n.id) AS props"
        " FROM n GROUP BY n.day, n.k, n.vn",
        site_, zone);
  }

  // The totals of the visits that `where` keeps (SQL over the reference visit r), with `pv` and
  // `ev` the page views and events of each that count, per day summed over the range.
  stats::Totals reference(const std::string& zone, sys_days from, sys_days to,
                          const std::string& where = "true", const std::string& pv = "r.pv",
                          const std::string& ev = "r.ev") {
    const std::string sql = fmt::format(
        "SELECT coalesce(sum(visitors), 0)::bigint, coalesce(sum(visits), 0)::bigint,"
        " coalesce(sum(pv), 0)::bigint, coalesce(sum(ev), 0)::bigint,"
        " coalesce(sum(bounces), 0)::bigint, coalesce(sum(ms), 0)::bigint FROM ("
        " SELECT r.day, count(DISTINCT r.visitor) AS visitors, count(*) AS visits,"
        " sum({3}) AS pv, sum({4}) AS ev,"
        " count(*) FILTER (WHERE r.pv < 2 AND r.ia = 0) AS bounces,"
        " sum((extract(epoch FROM r.ended - r.started) * 1000)::bigint) AS ms"
        " FROM ({0}) r WHERE r.day BETWEEN '{1}' AND '{2}' AND ({5}) GROUP BY r.day) d",
        referenceVisits(zone), util::formatDate(from), util::formatDate(to), pv, ev, where);
    auto r = conn_.exec(sql);
    return {r.getInt(0, 0), r.getInt(0, 1), r.getInt(0, 2),
            r.getInt(0, 3), r.getInt(0, 4), r.getInt(0, 5)};
  }

  void expectSame(const stats::Totals& got, const stats::Totals& want, const std::string& what) {
    EXPECT_EQ(got.visitors, want.visitors) << what;
    EXPECT_EQ(got.visits, want.visits) << what;
    EXPECT_EQ(got.pageviews, want.pageviews) << what;
    EXPECT_EQ(got.events, want.events) << what;
    EXPECT_EQ(got.bounces, want.bounces) << what;
    EXPECT_EQ(got.durationMs, want.durationMs) << what;
  }

  // Every question below, for `zone`, against the reference.
  void compareAll(const std::string& zone) {
    const sys_days from = kFirst + days{1};
    const sys_days to = kFirst + days{kDays - 2};
    const std::string matching =
        "(SELECT count(*) FROM unnest(r.types, r.pages) AS s(t, p) WHERE {})";
    const std::string pageCount = fmt::format(fmt::runtime(matching), "s.p = '/pricing'");
    const std::string pagePv =
        fmt::format(fmt::runtime(matching), "s.p = '/pricing' AND s.t = 'pageview'");
    struct Case {
      std::string name;
      std::vector<Filter> filters;
      std::string where, pv, ev;
    };
    const std::vector<Case> cases = {
        {"no filter", {}, "true", "r.pv", "r.ev"},
        {"country is DE",
         {Filter{dim("country"), FilterOp::kIs, {"DE"}}},
         "r.country = 'DE'",
         "r.pv",
         "r.ev"},
        {"source is Direct",
         {Filter{dim("source"), FilterOp::kIs, {""}}},
         "r.source = ''",
         "r.pv",
         "r.ev"},
        {"source contains o",
         {Filter{dim("source"), FilterOp::kContains, {"o"}}},
         "strpos(r.source, 'o') > 0",
         "r.pv",
         "r.ev"},
        {"country matches ^(D|F)",
         {Filter{dim("country"), FilterOp::kMatches, {"^(D|F)"}}},
         "r.country ~ '^(D|F)'",
         "r.pv",
         "r.ev"},
        {"page is /pricing",
         {Filter{dim("page"), FilterOp::kIs, {"/pricing"}}},
         pageCount + " > 0",
         pagePv,
         pageCount},
        {"prop:plan is pro",
         {Filter{dim("prop:plan"), FilterOp::kIs, {"pro"}}},
         "(SELECT count(*) FROM unnest(r.props) AS p(x) WHERE p.x->>'plan' = 'pro') > 0",
         "(SELECT count(*) FROM unnest(r.types, r.props) AS s(t, x) WHERE s.x->>'plan' = 'pro'"
         " AND s.t = 'pageview')",
         "(SELECT count(*) FROM unnest(r.props) AS p(x) WHERE p.x->>'plan' = 'pro')"},
        {"country is DE and page is /pricing",
         {Filter{dim("country"), FilterOp::kIs, {"DE"}},
          Filter{dim("page"), FilterOp::kIs, {"/pricing"}}},
         "r.country = 'DE' AND " + pageCount + " > 0",
         pagePv,
         pageCount},
    };
    for (const auto& c : cases) {
      auto q = query(from, to, zone);
      q.filters = c.filters;
      expectSame(totals(q), reference(zone, from, to, c.where, c.pv, c.ev), zone + ": " + c.name);
    }
    // Breakdowns: each value's row equals the filter on that value.
    for (const char* name : {"country", "source", "page", "entry_page", "exit_page"}) {
      auto q = query(from, to, zone);
      q.dimensions = {dim(name)};
      for (const auto& row : stats::run(conn_, q).rows) {
        const std::string value = row.dimensions[0];
        std::string where;
        std::string pv = "r.pv";
        std::string ev = "r.ev";
        const std::string quoted = "'" + value + "'";
        if (std::string(name) == "page") {
          const std::string count =
              fmt::format(fmt::runtime(matching), "coalesce(s.p, '') = " + quoted);
          where = count + " > 0";
          pv = fmt::format(fmt::runtime(matching),
                           "coalesce(s.p, '') = " + quoted + " AND s.t = 'pageview'");
          ev = count;
        } else if (std::string(name) == "entry_page" || std::string(name) == "exit_page") {
          const bool entry = std::string(name) == "entry_page";
          where = fmt::format(
              "(SELECT p FROM unnest(r.types, r.pages) WITH ORDINALITY AS s(t, p, i)"
              " WHERE s.t = 'pageview' ORDER BY i {} LIMIT 1) = {}",
              entry ? "ASC" : "DESC", quoted);
        } else {
          where = fmt::format("r.{} = {}", name, quoted);
        }
        expectSame(row.totals, reference(zone, from, to, where, pv, ev),
                   zone + ": " + name + " = " + value);
      }
    }
    // A breakdown filtered on its own dimension: the rows of the values kept, as unfiltered.
    for (const char* name : {"country", "page"}) {
      auto q = query(from, to, zone);
      q.dimensions = {dim(name)};
      const auto all = stats::run(conn_, q).rows;
      ASSERT_GE(all.size(), 3u) << name;
      q.filters = {Filter{dim(name), FilterOp::kIs, {all[2].dimensions[0], all[0].dimensions[0]}}};
      const auto kept = stats::run(conn_, q).rows;
      ASSERT_EQ(kept.size(), 2u) << name;
      for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(kept[i].dimensions, all[i * 2].dimensions) << name;
        expectSame(kept[i].totals, all[i * 2].totals,
                   zone + ": " + name + " filtered on itself, " + kept[i].dimensions[0]);
      }
    }
    // Pages under one country or source: each row as the two filters give it.
    for (const auto& [name, value] :
         {std::pair<std::string, std::string>{"country", "DE"}, {"source", "Google"}}) {
      auto q = query(from, to, zone);
      q.dimensions = {dim("page")};
      q.filters = {Filter{dim(name.c_str()), FilterOp::kIs, {value}}};
      const auto rows = stats::run(conn_, q).rows;
      ASSERT_GE(rows.size(), 3u) << name;
      for (const auto& row : rows) {
        const std::string on = "coalesce(s.p, '') = '" + row.dimensions[0] + "'";
        const std::string count = fmt::format(fmt::runtime(matching), on);
        expectSame(
            row.totals,
            reference(zone, from, to, fmt::format("r.{} = '{}' AND {} > 0", name, value, count),
                      fmt::format(fmt::runtime(matching), on + " AND s.t = 'pageview'"), count),
            zone + ": pages under " + name + " " + value + ", " + row.dimensions[0]);
      }
    }
    // Pages under a prop value: the events that have it, under their own pages.
    {
      auto q = query(from, to, zone);
      q.dimensions = {dim("page")};
      q.filters = {Filter{dim("prop:plan"), FilterOp::kIs, {"pro"}}};
      const auto rows = stats::run(conn_, q).rows;
      ASSERT_GE(rows.size(), 3u);
      for (const auto& row : rows) {
        const std::string on =
            "s.x->>'plan' = 'pro' AND coalesce(s.p, '') = '" + row.dimensions[0] + "'";
        const std::string events =
            "(SELECT count(*) FROM unnest(r.types, r.pages, r.props) AS s(t, p, x) WHERE {})";
        const std::string count = fmt::format(fmt::runtime(events), on);
        expectSame(
            row.totals,
            reference(zone, from, to, count + " > 0",
                      fmt::format(fmt::runtime(events), on + " AND s.t = 'pageview'"), count),
            zone + ": pages under plan pro, " + row.dimensions[0]);
      }
    }
    // Days and hours add up to the whole.
    auto q = query(from, to, zone);
    const auto whole = totals(q);
    for (const char* t : {"time:day", "time:hour"}) {
      q.dimensions = {dim(t)};
      stats::Totals sum;
      for (const auto& row : stats::run(conn_, q).rows) {
        sum.visits += row.totals.visits;
        sum.pageviews += row.totals.pageviews;
        sum.events += row.totals.events;
        sum.bounces += row.totals.bounces;
        sum.durationMs += row.totals.durationMs;
      }
      EXPECT_EQ(sum.visits, whole.visits) << t;
      EXPECT_EQ(sum.pageviews, whole.pageviews) << t;
      EXPECT_EQ(sum.events, whole.events) << t;
      EXPECT_EQ(sum.bounces, whole.bounces) << t;
      EXPECT_EQ(sum.durationMs, whole.durationMs) << t;
    }
  }

  std::string other_;
};

TEST_F(EngineVersusSql, FromRawEvents) {
  compareAll("UTC");
}

TEST_F(EngineVersusSql, FromFoldedDays) {
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  compareAll("UTC");
}

TEST_F(EngineVersusSql, SomeDaysFoldedOthersNot) {
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  conn_.execArgs("UPDATE aggregation_runs SET dirty = true WHERE date = $1::date",
                 util::formatDate(kFirst + days{3}));
  compareAll("UTC");
}

// The stored visits of the website, in a comparable form.
std::string visitsDigest(db::Connection& conn) {
  return std::string(
      conn.exec("SELECT md5(string_agg(v::text, '|' ORDER BY v.website_id, v.date, v.started_at,"
                " v.session_id)) FROM visits v")
          .get(0, 0));
}

// Events written after the fold, into folded days (late events: the writers mark those days
// dirty): the stats read the stored visits and sessionise again only what the new events touch,
// until a refresh stores the changed visits, which are then those a fold makes.
TEST_F(EngineVersusSql, FoldedDaysAndEventsWrittenSince) {
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  const std::string folded = visitsDigest(conn_);
  // New bursts of the same visitors: some join, bridge or extend their stored visits, some
  // come before them, some stand alone.
  seed::insertEvents(conn_, randomEvents(7));
  conn_.exec("UPDATE aggregation_runs SET dirty = true");
  compareAll("UTC");

  const auto refreshed = aggregation::tryRefreshVisits(conn_);
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_GE(refreshed->days, kDays);  // every day got new events
  EXPECT_NE(visitsDigest(conn_), folded);
  compareAll("UTC");
  const auto again = aggregation::tryRefreshVisits(conn_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->days, 0) << "nothing new since the refresh";

  const std::string stored = visitsDigest(conn_);
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  EXPECT_EQ(visitsDigest(conn_), stored) << "the refresh stored what a fold stores";
}

// A question that finds kLiveBacklogEvents or more events written since a day's stored visits
// (which it then sessionises again) calls the backlog hook, with which the daemon has its
// scheduler refresh them now; one that finds fewer, or none after a refresh, does not.
TEST_F(EngineTest, ManyEventsWrittenSinceTheStoredVisitsCallTheBacklogHook) {
  const auto add = [&](int n, int offset) {
    conn_.execArgs(
        "INSERT INTO events (website_id, ts, page, session_id) SELECT $1,"
        " '2026-03-10 08:00:00+00'::timestamptz + (i + $3) * interval '1 second', '/p' || (i % 9),"
        " 's' || (i % 7) FROM generate_series(1, $2) AS i",
        site_, n, offset);
  };
  add(50, 0);
  aggregation::foldRange(conn_, kDay, kDay);
  // Not final (late events arrived), so the stats read its stored visits and what came since.
  conn_.exec("UPDATE aggregation_runs SET dirty = true");
  std::vector<std::int64_t> calls;
  std::mutex callsMutex;
  stats::setLiveBacklogHook([&](const std::string& websiteId, std::int64_t events) {
    std::lock_guard lock(callsMutex);
    EXPECT_EQ(websiteId, site_) << "the website asked about";
    calls.push_back(events);
  });
  struct Clear {
    ~Clear() { stats::setLiveBacklogHook(nullptr); }
  } clear;

  add(100, 1000);
  EXPECT_EQ(totals(query(kDay, kDay)).pageviews, 150);
  EXPECT_TRUE(calls.empty()) << "100 new events are no backlog";

  add(static_cast<int>(stats::kLiveBacklogEvents), 5000);
  EXPECT_EQ(totals(query(kDay, kDay)).pageviews, 150 + stats::kLiveBacklogEvents);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], 100 + stats::kLiveBacklogEvents);

  ASSERT_TRUE(aggregation::tryRefreshVisits(conn_).has_value());
  EXPECT_EQ(totals(query(kDay, kDay)).pageviews, 150 + stats::kLiveBacklogEvents);
  EXPECT_EQ(calls.size(), 1u) << "nothing is behind after the refresh";
}

// Days folded before page breakdowns existed (0013) are read from their visits until the visits
// job gives them their rows.
TEST_F(EngineVersusSql, PageBreakdownsOfDaysFoldedBeforeThem) {
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  const std::string rows = "SELECT count(*) FROM page_breakdown_daily";
  const auto folded = conn_.exec(rows).getInt(0, 0);
  ASSERT_GT(folded, 0);
  conn_.exec("DELETE FROM page_breakdown_daily");
  conn_.exec("UPDATE aggregation_runs SET page_breakdowns = false");
  compareAll("UTC");
  const auto refreshed = aggregation::tryRefreshVisits(conn_);
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_EQ(refreshed->conversionDays, 2 * (kDays + 1)) << "two websites";
  EXPECT_EQ(conn_.exec(rows).getInt(0, 0), folded);
  compareAll("UTC");
}

// A change of time zone leaves no stored visits to read: the days are read from raw events.
TEST_F(EngineVersusSql, AChangeOfTimeZoneDropsTheStoredVisits) {
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  conn_.execArgs("UPDATE aggregation_runs SET dirty = true WHERE date = $1::date",
                 util::formatDate(kFirst + days{2}));
  sites::WebsiteChanges change;
  change.timeZone = "Asia/Kathmandu";
  ASSERT_TRUE(sites::update(conn_, site_, change));
  EXPECT_EQ(conn_
                .execArgs("SELECT count(*) FROM aggregation_runs WHERE website_id = $1::uuid"
                          " AND seen IS NOT NULL",
                          site_)
                .getInt(0, 0),
            0);
  compareAll("Asia/Kathmandu");
  const auto refreshed = aggregation::tryRefreshVisits(conn_);
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_EQ(refreshed->days, 0);
  compareAll("Asia/Kathmandu");
}

TEST_F(EngineVersusSql, InAnotherTimeZone) {
  conn_.execArgs("UPDATE websites SET time_zone = 'Asia/Kathmandu' WHERE id = $1::uuid", site_);
  compareAll("Asia/Kathmandu");
  aggregation::foldRange(conn_, kFirst, kFirst + days{kDays});
  compareAll("Asia/Kathmandu");
}

}  // namespace
}  // namespace mp::test
