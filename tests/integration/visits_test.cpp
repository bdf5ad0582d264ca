// What a visit is (docs/metrics.md), on small hand-made event sets whose visits are worked out by
// hand here: the 30-minute inactivity gap, midnight in the website's time zone, the session key,
// entry and exit pages, bounces with non-interactive events, a visit's attributes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "stats/visit_sql.hpp"
#include "support/env.hpp"
#include "support/seed.hpp"

namespace mp::test {
namespace {

struct Visit {
  std::string date;
  std::string start;  // HH:MM:SS in the zone of the query
  std::string session;
  std::string end;
  long visitor;
  int pageviews;
  int events;
  int interactive;
  std::string entry;  // "" = none
  std::string exit;
  std::string source;
  std::string steps;
  std::string stepMs;
};

class VisitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    site_ = seed::website(conn_, seed::owner(conn_), "A", "a.example");
    // The rows must not depend on the session's own time zone.
    conn_.exec("SET TimeZone = 'Pacific/Chatham'");
  }

  void insert(std::vector<seed::Event> events) {
    for (auto& e : events) e.website = site_;
    seed::insertEvents(conn_, events);
  }

  // The visits of every event, in order of date, start and session key, times shown in `zone`.
  std::vector<Visit> visits(const std::string& zone) {
    const std::string sql =
        "SELECT date::text, to_char(started_at AT TIME ZONE $2, 'HH24:MI:SS'), session_id,"
        " to_char(ended_at AT TIME ZONE $2, 'HH24:MI:SS'), coalesce(visitor_id, -1), pageviews,"
        " events, interactive, coalesce(entry_page, ''), coalesce(exit_page, ''),"
        " coalesce(source, ''),"
        " array_to_string(ARRAY(SELECT CASE WHEN t = 'pageview' THEN 'p' || p ELSE 'e' || t END"
        " FROM unnest(step_types, step_pages) AS s(t, p)), ' '), array_to_string(step_ms, ' ')"
        " FROM (" +
        stats::visitRowsSql("ev.website_id = $1::uuid", "$2::text") + ") v(" +
        std::string(stats::kVisitColumns) + ") ORDER BY date, started_at, session_id";
    auto r = conn_.execArgs(sql, site_, zone);
    std::vector<Visit> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({std::string(r.get(i, 0)), std::string(r.get(i, 1)), std::string(r.get(i, 2)),
                     std::string(r.get(i, 3)), static_cast<long>(r.getInt(i, 4)),
                     static_cast<int>(r.getInt(i, 5)), static_cast<int>(r.getInt(i, 6)),
                     static_cast<int>(r.getInt(i, 7)), std::string(r.get(i, 8)),
                     std::string(r.get(i, 9)), std::string(r.get(i, 10)), std::string(r.get(i, 11)),
                     std::string(r.get(i, 12))});
    }
    return out;
  }

  TempDatabase db_;
  db::Connection conn_{db_.url(), std::chrono::seconds(10)};
  std::string site_;
};

TEST_F(VisitsTest, AGapOfMoreThanThirtyMinutesStartsANewVisit) {
  insert({
      {.ts = "2026-03-10 10:00:00+00", .page = "/", .session = "s", .visitor = 1},
      {.ts = "2026-03-10 10:20:00+00", .page = "/a", .session = "s", .visitor = 1},
      // Exactly 30 minutes after the previous event: the same visit (inactivity, not length).
      {.ts = "2026-03-10 10:50:00+00", .page = "/b", .session = "s", .visitor = 1},
      // 30 minutes and a millisecond: a new one.
      {.ts = "2026-03-10 11:20:00.001+00", .page = "/c", .session = "s", .visitor = 1},
  });
  const auto v = visits("UTC");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].start, "10:00:00");
  EXPECT_EQ(v[0].end, "10:50:00");
  EXPECT_EQ(v[0].pageviews, 3);
  EXPECT_EQ(v[0].entry, "/");
  EXPECT_EQ(v[0].exit, "/b");
  EXPECT_EQ(v[0].steps, "p/ p/a p/b");
  EXPECT_EQ(v[0].stepMs, "0 1200000 3000000");
  EXPECT_EQ(v[1].start, "11:20:00");
  EXPECT_EQ(v[1].pageviews, 1);
  EXPECT_EQ(v[1].entry, "/c");
  EXPECT_EQ(v[1].exit, "/c");
}

TEST_F(VisitsTest, AVisitEndsAtMidnightInTheWebsitesTimeZone) {
  // 23:50 and 00:10 in New York (EDT, UTC-4, since March 8th): 20 minutes apart, but on two
  // local days, so two visits; in UTC both are on March 11th: one visit.
  insert({
      {.ts = "2026-03-11 03:50:00+00", .page = "/late", .session = "s", .visitor = 7},
      {.ts = "2026-03-11 04:10:00+00", .page = "/early", .session = "s", .visitor = 7},
  });
  const auto ny = visits("America/New_York");
  ASSERT_EQ(ny.size(), 2u);
  EXPECT_EQ(ny[0].date, "2026-03-10");
  EXPECT_EQ(ny[0].start, "23:50:00");
  EXPECT_EQ(ny[0].exit, "/late");
  EXPECT_EQ(ny[1].date, "2026-03-11");
  EXPECT_EQ(ny[1].start, "00:10:00");
  EXPECT_EQ(ny[1].entry, "/early");
  const auto utc = visits("UTC");
  ASSERT_EQ(utc.size(), 1u);
  EXPECT_EQ(utc[0].date, "2026-03-11");
  EXPECT_EQ(utc[0].pageviews, 2);
  EXPECT_EQ(utc[0].stepMs, "0 1200000");
}

TEST_F(VisitsTest, TheSessionKeyIsTheSessionIdElseTheVisitorElseTheEvent) {
  insert({
      // Two session ids of one visitor interleaved: two visits.
      {.ts = "2026-03-10 10:00:00+00", .page = "/x", .session = "a", .visitor = 1},
      {.ts = "2026-03-10 10:01:00+00", .page = "/y", .session = "b", .visitor = 1},
      {.ts = "2026-03-10 10:02:00+00", .page = "/x2", .session = "a", .visitor = 1},
      // No session id: keyed by the visitor id.
      {.ts = "2026-03-10 12:00:00+00", .page = "/v", .visitor = 5},
      {.ts = "2026-03-10 12:05:00+00", .page = "/w", .visitor = 5},
      // Neither: each event is a visit of its own.
      {.ts = "2026-03-10 13:00:00+00", .page = "/n"},
      {.ts = "2026-03-10 13:00:01+00", .page = "/n"},
  });
  const auto v = visits("UTC");
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].session, "a");
  EXPECT_EQ(v[0].steps, "p/x p/x2");
  EXPECT_EQ(v[1].session, "b");
  EXPECT_EQ(v[1].steps, "p/y");
  EXPECT_EQ(v[2].session, "v5");
  EXPECT_EQ(v[2].pageviews, 2);
  EXPECT_EQ(v[3].visitor, -1);
  EXPECT_EQ(v[3].session.substr(0, 1), "e");
  EXPECT_NE(v[3].session, v[4].session);
}

TEST_F(VisitsTest, CountsInteractiveEventsAndKeepsEveryEventInOrder) {
  insert({
      {.ts = "2026-03-10 09:00:00+00", .page = "/post", .session = "s", .visitor = 1},
      // Scroll depth: a custom event sent with "interactive": false.
      {.ts = "2026-03-10 09:00:30+00",
       .type = "scroll",
       .page = "/post",
       .session = "s",
       .visitor = 1,
       .props = R"({"depth": 75})",
       .interactive = false},
      {.ts = "2026-03-10 09:01:00+00",
       .type = "Signup",
       .page = "/post",
       .session = "t",
       .visitor = 2},
  });
  const auto v = visits("UTC");
  ASSERT_EQ(v.size(), 2u);
  // s: one page view and a non-interactive event: still a bounce by the definition.
  EXPECT_EQ(v[0].pageviews, 1);
  EXPECT_EQ(v[0].events, 2);
  EXPECT_EQ(v[0].interactive, 0);
  EXPECT_EQ(v[0].steps, "p/post escroll");
  EXPECT_EQ(v[0].end, "09:00:30");
  // t: a custom event only: no entry or exit page, one interactive event.
  EXPECT_EQ(v[1].pageviews, 0);
  EXPECT_EQ(v[1].interactive, 1);
  EXPECT_EQ(v[1].entry, "");
  EXPECT_EQ(v[1].exit, "");
  EXPECT_EQ(v[1].steps, "eSignup");
  auto props =
      conn_.execArgs("SELECT v.step_props[2]->>'depth', v.step_props[1] IS NULL FROM (" +
                         stats::visitRowsSql("ev.website_id = $1::uuid", "'UTC'::text") + ") v(" +
                         std::string(stats::kVisitColumns) + ") WHERE v.session_id = 's'",
                     site_);
  EXPECT_EQ(props.get(0, 0), "75");
  EXPECT_TRUE(props.getBool(0, 1));
}

TEST_F(VisitsTest, AVisitHasTheAttributesOfItsFirstEvent) {
  insert({
      {.ts = "2026-03-10 09:00:00+00",
       .page = "/landing",
       .session = "s",
       .visitor = 1,
       .country = "DE",
       .source = "Google",
       .channel = "Organic Search"},
      // Later events of the visit came from the site itself: no source of their own.
      {.ts = "2026-03-10 09:02:00+00",
       .page = "/pricing",
       .session = "s",
       .visitor = 9,
       .country = "FR"},
  });
  const auto v = visits("UTC");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].source, "Google");
  EXPECT_EQ(v[0].visitor, 1);
  EXPECT_EQ(v[0].entry, "/landing");
  EXPECT_EQ(v[0].exit, "/pricing");
  auto country = conn_.execArgs("SELECT country, channel FROM (" +
                                    stats::visitRowsSql("ev.website_id = $1::uuid", "'UTC'::text") +
                                    ") v(" + std::string(stats::kVisitColumns) + ")",
                                site_);
  EXPECT_EQ(country.get(0, 0), "DE");
  EXPECT_EQ(country.get(0, 1), "Organic Search");
}

}  // namespace
}  // namespace mp::test
