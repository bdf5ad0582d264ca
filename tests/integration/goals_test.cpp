// Goals and funnels: the reports on a hand-made day whose numbers are worked out by hand (steps
// out of order, a page pattern, a goal event sent from another page), a random data set whose
// funnels must equal a walk over the visits of the definitions (support/reference.hpp), and the
// HTTP routes: managing goals and funnels, their errors, and their reports.
#include "goals/goals.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "sites/sites.hpp"
#include "stats/conversions.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/reference.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "users/users.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr sys_days kDay{std::chrono::year{2026} / 3 / 10};

class GoalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    owner_ = seed::owner(conn_);
    site_ = seed::website(conn_, owner_, "A", "a.example");
  }

  goals::Goal event(const std::string& name) {
    return goals::addGoal(conn_, site_, {.eventName = name});
  }
  goals::Goal page(const std::string& path) {
    return goals::addGoal(conn_, site_, {.pagePath = path});
  }

  stats::Scope scope(sys_days from, sys_days to) {
    stats::Scope s;
    s.websiteId = site_;
    s.range = {from, to};
    return s;
  }

  TempDatabase db_;
  db::Connection conn_{db_.url(), std::chrono::seconds(10)};
  std::string owner_;
  std::string site_;
};

TEST_F(GoalsTest, GoalsAndAFunnelOfAHandMadeDay) {
  const auto at = [](const char* time) { return fmt::format("2026-03-10 {}+00", time); };
  std::vector<seed::Event> events = {
      // Visit 1 (visitor 1): every step in order.
      {.ts = at("09:00:00"), .page = "/", .session = "s1", .visitor = 1},
      {.ts = at("09:01:00"), .page = "/pricing", .session = "s1", .visitor = 1},
      {.ts = at("09:02:00"), .type = "Signup", .page = "/pricing", .session = "s1", .visitor = 1},
      {.ts = at("09:03:00"), .page = "/thanks/pro", .session = "s1", .visitor = 1},
      // Visit 2 (visitor 2): /pricing before /: the funnel's second step never follows its first.
      {.ts = at("10:00:00"), .page = "/pricing", .session = "s2", .visitor = 2},
      {.ts = at("10:01:00"), .page = "/", .session = "s2", .visitor = 2},
      {.ts = at("10:02:00"), .type = "Signup", .page = "/", .session = "s2", .visitor = 2},
      // Visit 3 (visitor 3): two steps; visit 4 (visitor 3, 31 minutes later): a signup alone.
      {.ts = at("11:00:00"), .page = "/", .session = "s3", .visitor = 3},
      {.ts = at("11:01:00"), .page = "/pricing", .session = "s3", .visitor = 3},
      {.ts = at("11:32:00"), .type = "Signup", .page = "/pricing", .session = "s3", .visitor = 3},
      // Visit 5 (visitor 4): the signup is sent from /pricing, but /pricing was never viewed.
      {.ts = at("12:00:00"), .page = "/", .session = "s4", .visitor = 4},
      {.ts = at("12:01:00"), .type = "Signup", .page = "/pricing", .session = "s4", .visitor = 4},
      // Visit 6 (visitor 5): / and a page the pattern /thanks/* does not match ('*' stops at /).
      {.ts = at("13:00:00"), .page = "/", .session = "s5", .visitor = 5},
      {.ts = at("13:01:00"), .page = "/thanks/x/y", .session = "s5", .visitor = 5},
  };
  for (auto& e : events) e.website = site_;
  seed::insertEvents(conn_, events);
  const auto home = page("/");
  const auto pricing = page("/pricing");
  const auto signup = event("Signup");
  const auto thanks = page("/thanks/*");
  const auto funnel =
      goals::addFunnel(conn_, site_, "Signup flow", {home.id, pricing.id, signup.id, thanks.id});

  const auto conversionRows = [this] {
    return conn_
        .exec(
            "SELECT (SELECT count(*) FROM goal_daily) || '+' ||"
            " (SELECT count(*) FROM funnel_daily)")
        .get(0, 0);
  };
  static const char* const kPasses[] = {
      "from raw events", "from the folded day's goal and funnel rows",
      "from the folded day's visits (goals and funnel added after the fold)",
      "from the rows the visits job gave them"};
  for (int pass = 0; pass < 4; ++pass) {
    SCOPED_TRACE(kPasses[pass]);
    if (pass == 1) {
      aggregation::foldRange(conn_, kDay, kDay);
      EXPECT_EQ(conversionRows(), "4+4");
    }
    if (pass == 2) {
      conn_.exec("DELETE FROM goal_daily");
      conn_.exec("DELETE FROM funnel_daily");
    }
    if (pass == 3) {
      const auto done = aggregation::tryRefreshVisits(conn_);
      ASSERT_TRUE(done.has_value());
      EXPECT_EQ(done->conversionDays, 5) << "four goals and the funnel, one day";
      EXPECT_EQ(conversionRows(), "4+4");
    }
    const json report =
        stats::goalsReport(conn_, scope(kDay, kDay), goals::listGoals(conn_, site_));
    EXPECT_EQ(report["visitors"], 5);
    ASSERT_EQ(report["goals"].size(), 4u);
    // "/": visitors 1–5, one view each. "/pricing": viewed by 1, 2 and 3 (not 4, who only sent
    // an event from it). Signup: visitors 1–4 (3 in its second visit). "/thanks/*": 1 only.
    const std::vector<std::tuple<std::string, int, int, double>> expected = {
        {"/", 5, 5, 100.0},
        {"/pricing", 3, 3, 60.0},
        {"Signup", 4, 4, 80.0},
        {"/thanks/*", 1, 1, 20.0}};
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const auto& [name, visitors, count, rate] = expected[i];
      const json& row = report["goals"][i];
      EXPECT_EQ(row["name"], name);
      EXPECT_EQ(row["visitors"], visitors) << name;
      EXPECT_EQ(row["events"], count) << name;
      EXPECT_EQ(row["conversionRate"], rate) << name;
    }

    const json f = stats::funnelReport(conn_, scope(kDay, kDay), funnel);
    EXPECT_EQ(f["visitors"], 5);
    ASSERT_EQ(f["steps"].size(), 4u);
    // Step 1 (/): visits 1, 2, 3, 5, 6. Step 2 (/pricing after /): 1 and 3; visit 2 saw them
    // the other way round. Step 3 (Signup after that): visit 1 only; visitor 3 signed up in
    // another visit. Step 4: visit 1.
    const int reached[] = {5, 2, 1, 1};
    for (int i = 0; i < 4; ++i) EXPECT_EQ(f["steps"][i]["visitors"], reached[i]) << "step " << i;
    EXPECT_EQ(f["steps"][0]["conversionRate"], 100.0);
    EXPECT_EQ(f["steps"][0]["conversionRateStep"], 100.0);
    EXPECT_EQ(f["steps"][1]["dropoff"], 3);
    EXPECT_EQ(f["steps"][1]["dropoffRate"], 60.0);
    EXPECT_EQ(f["steps"][1]["conversionRate"], 40.0);
    EXPECT_EQ(f["steps"][2]["conversionRateStep"], 50.0);
    EXPECT_EQ(f["steps"][3]["conversionRate"], 20.0);
    EXPECT_EQ(f["steps"][3]["dropoff"], 0);

    // Compared with the previous day, which had nothing.
    auto compared = scope(kDay, kDay);
    compared.compare = stats::Compare::kPreviousPeriod;
    const json c = stats::funnelReport(conn_, compared, funnel);
    EXPECT_EQ(c["steps"][0]["visitors"], 5);
    EXPECT_EQ(c["steps"][0]["comparison"]["visitors"], 0);
    EXPECT_EQ(c["comparison"]["from"], "2026-03-09");

    // Filtered: visits that came in on /pricing are visit 2 only, which reaches step 1.
    auto filtered = scope(kDay, kDay);
    filtered.filters = {
        stats::Filter{*stats::dimensionNamed("entry_page"), stats::FilterOp::kIs, {"/pricing"}}};
    const json g = stats::funnelReport(conn_, filtered, funnel);
    EXPECT_EQ(g["visitors"], 1);
    EXPECT_EQ(g["steps"][0]["visitors"], 1);
    EXPECT_EQ(g["steps"][1]["visitors"], 0);
  }
}

// Whether `page` matches the goal pattern `glob` ('*' for any text without '/', '**' for any
// text), written plainly.
bool globMatches(const std::string& glob, const std::string& page) {
  if (glob.empty()) return page.empty();
  if (glob[0] == '*') {
    const bool any = glob.size() > 1 && glob[1] == '*';
    const std::string rest = glob.substr(any ? 2 : 1);
    for (std::size_t i = 0; i <= page.size(); ++i) {
      if (globMatches(rest, page.substr(i))) return true;
      if (i < page.size() && page[i] == '/' && !any) return false;
    }
    return false;
  }
  return !page.empty() && page[0] == glob[0] && globMatches(glob.substr(1), page.substr(1));
}

TEST_F(GoalsTest, FunnelsEqualAWalkOverTheVisitsOfTheDefinitions) {
  const sys_days first = kDay;
  constexpr int kDays = 4;
  std::mt19937 rng(310);
  static const char* const kPages[] = {"/",         "/pricing", "/docs",  "/blog/a",
                                       "/blog/b/c", "/thanks",  "/a.b/x", "/blog/"};
  std::vector<seed::Event> events;
  for (int visitor = 1; visitor <= 600; ++visitor) {
    long long ms =
        seed::dayStartMs(first) + static_cast<long long>(rng() % (kDays * 86'400ULL)) * 1000;
    const int n = 1 + static_cast<int>(rng() % 14);
    for (int i = 0; i < n; ++i) {
      const bool custom = rng() % 4 == 0;
      events.push_back({.website = site_,
                        .ts = util::formatRfc3339Millis(ms),
                        .type = custom ? (rng() % 2 ? "Signup" : "Download") : "pageview",
                        .page = std::string(kPages[rng() % 8]),
                        .session = fmt::format("s{}", visitor),
                        .visitor = visitor});
      ms += static_cast<long long>(rng() % 3 == 0 ? 40 * 60 : rng() % 300) * 1000;
    }
  }
  seed::insertEvents(conn_, events);
  const std::vector<goals::Goal> steps = {page("/"), page("/blog/*"), event("Signup"),
                                          page("/a.b/**")};
  const auto funnel =
      goals::addFunnel(conn_, site_, "f", {steps[0].id, steps[1].id, steps[2].id, steps[3].id});

  // The reference: each visit's events in order, walked here step by step.
  const auto expected = [&](sys_days from, sys_days to) {
    auto r = conn_.execArgs(
        fmt::format("{} SELECT n.day::text, vb.visitor, array_to_string(array_agg(n.event_type"
                    " ORDER BY n.ts, n.id), chr(1)), array_to_string(array_agg(coalesce(n.page, '')"
                    " ORDER BY n.ts, n.id), chr(1)) FROM n JOIN vb USING (website_id, day, k, vn)"
                    " WHERE n.website_id = $1 AND n.day BETWEEN $2 AND $3"
                    " GROUP BY n.day, n.k, n.vn, vb.visitor",
                    reference::visits()),
        site_, util::formatDate(from), util::formatDate(to));
    std::vector<std::set<std::string>> reachedBy(steps.size());  // "day:visitor"
    const auto split = [](std::string_view text) {
      std::vector<std::string> out;
      std::size_t start = 0;
      for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '\x01') {
          out.emplace_back(text.substr(start, i - start));
          start = i + 1;
        }
      }
      return out;
    };
    for (int i = 0; i < r.rows(); ++i) {
      const auto types = split(r.get(i, 2));
      const auto pages = split(r.get(i, 3));
      std::size_t step = 0;
      for (std::size_t e = 0; e < types.size() && step < steps.size(); ++e) {
        const auto& goal = steps[step];
        const bool hit = goal.kind == goals::Kind::kEvent
                             ? types[e] == goal.target
                             : types[e] == "pageview" && globMatches(goal.target, pages[e]);
        if (hit)
          reachedBy[step++].insert(std::string(r.get(i, 0)) + ":" + std::string(r.get(i, 1)));
      }
    }
    std::vector<std::int64_t> out;
    for (const auto& s : reachedBy) out.push_back(static_cast<std::int64_t>(s.size()));
    return out;
  };
  const auto actual = [&](sys_days from, sys_days to) {
    const json f = stats::funnelReport(conn_, scope(from, to), funnel);
    std::vector<std::int64_t> out;
    for (const auto& s : f["steps"]) out.push_back(s["visitors"].get<std::int64_t>());
    return out;
  };
  const sys_days last = first + days{kDays};
  const auto want = expected(first, last);
  ASSERT_GT(want[3], 0) << "the data set reaches the last step";
  EXPECT_EQ(actual(first, last), want) << "from raw events";
  aggregation::foldRange(conn_, first, first + days{2});
  const auto rowsOf = [&] {
    return conn_.execArgs("SELECT count(*) FROM funnel_daily WHERE funnel_id = $1::uuid", funnel.id)
        .getInt(0, 0);
  };
  EXPECT_EQ(rowsOf(), 3 * 4) << "the fold wrote every step of the folded days";
  EXPECT_EQ(actual(first, last), want) << "some days folded, read from their funnel rows";
  EXPECT_EQ(actual(first + days{1}, first + days{1}), expected(first + days{1}, first + days{1}));

  // A funnel made after its days were folded: they are walked until the visits job gives them
  // their rows.
  conn_.exec("DELETE FROM funnel_daily");
  EXPECT_EQ(actual(first, last), want) << "folded days without funnel rows";
  const auto refreshed = aggregation::tryRefreshVisits(conn_);
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_EQ(refreshed->conversionDays, 3) << "the funnel's; its goals kept theirs";
  EXPECT_EQ(rowsOf(), 3 * 4);
  EXPECT_EQ(actual(first, last), want) << "rows given by the visits job";

  // A filter is answered from the visits, folded or not.
  stats::Scope filtered = scope(first, last);
  filtered.filters = {stats::Filter{*stats::dimensionNamed("page"), stats::FilterOp::kIs, {"/"}}};
  const json f = stats::funnelReport(conn_, filtered, funnel);
  EXPECT_EQ(f["steps"][0]["visitors"], want[0]) << "every visit reaching step 1 viewed /";

  aggregation::foldRange(conn_, first, last);
  EXPECT_EQ(actual(first, last), want) << "all days folded";
  ASSERT_TRUE(goals::deleteFunnel(conn_, site_, funnel.id));
  EXPECT_EQ(conn_.exec("SELECT count(*) FROM funnel_daily").getInt(0, 0), 0)
      << "a funnel's rows go with it";
}

TEST_F(GoalsTest, BadGoalsAndFunnelsAreRefusedNamingTheField) {
  const auto refusal = [](const std::function<void()>& f) -> std::pair<std::string, std::string> {
    try {
      f();
    } catch (const InvalidInput& e) {
      return {e.field(), e.what()};
    } catch (const Conflict& e) {
      return {e.code(), e.what()};
    }
    return {"accepted", ""};
  };
  EXPECT_EQ(refusal([&] { goals::addGoal(conn_, site_, {}); }).first, "eventName");
  EXPECT_EQ(
      refusal([&] { goals::addGoal(conn_, site_, {.eventName = "a", .pagePath = "/"}); }).first,
      "pagePath");
  EXPECT_EQ(refusal([&] { goals::addGoal(conn_, site_, {.eventName = "  "}); }).first, "eventName");
  EXPECT_EQ(
      refusal([&] { goals::addGoal(conn_, site_, {.eventName = std::string(65, 'x')}); }).first,
      "eventName");
  EXPECT_EQ(refusal([&] { goals::addGoal(conn_, site_, {.pagePath = "pricing"}); }).first,
            "pagePath");
  const auto signup = event("Signup");
  EXPECT_EQ(signup.name, "Signup");
  EXPECT_EQ(refusal([&] { event("Signup"); }).first, "goal_exists");
  const auto home = goals::addGoal(conn_, site_, {.pagePath = "/", .name = "Home page"});
  EXPECT_EQ(home.name, "Home page");
  EXPECT_EQ(home.pageRegex, R"((?s)^\/$)");
  EXPECT_EQ(page("/50%_off*").pageRegex, R"((?s)^\/50\%\_off[^/]*$)");
  EXPECT_EQ(page("/docs/**").pageRegex, R"((?s)^\/docs\/.*$)");

  EXPECT_EQ(refusal([&] { goals::addFunnel(conn_, site_, "f", {home.id}); }).first, "steps");
  EXPECT_EQ(refusal([&] {
              goals::addFunnel(conn_, site_, "f", {home.id, home.id});
            }).first,
            "steps");
  EXPECT_EQ(refusal([&] {
              goals::addFunnel(conn_, site_, "", {home.id, signup.id});
            }).first,
            "name");
  const std::string other = seed::website(conn_, owner_, "B", "b.example");
  const auto foreign = goals::addGoal(conn_, other, {.eventName = "Signup"});
  EXPECT_THAT(refusal([&] {
                goals::addFunnel(conn_, site_, "f", {home.id, foreign.id});
              }).second,
              HasSubstr("no goal"));
  const auto f = goals::addFunnel(conn_, site_, "f", {home.id, signup.id});
  EXPECT_EQ(refusal([&] {
              goals::addFunnel(conn_, site_, "f", {signup.id, home.id});
            }).first,
            "funnel_exists");
  EXPECT_EQ(refusal([&] { goals::deleteGoal(conn_, site_, home.id); }).first, "goal_in_use");
  EXPECT_FALSE(goals::deleteGoal(conn_, other, home.id)) << "another website's goal";
  EXPECT_TRUE(goals::deleteFunnel(conn_, site_, f.id));
  EXPECT_TRUE(goals::deleteGoal(conn_, site_, home.id));
  EXPECT_FALSE(goals::deleteGoal(conn_, site_, "not-a-uuid"));
}

// A website's goals and funnels go with it, and with its account; the goals a funnel holds do not
// stop that (its website's foreign keys delete the goals before the funnels).
TEST_F(GoalsTest, AWebsiteWithAFunnelIsDeletedWithItsAccountToo) {
  const auto rows = [&] {
    return conn_
        .exec(
            "SELECT (SELECT count(*) FROM goals) || ' ' || (SELECT count(*) FROM funnels)"
            " || ' ' || (SELECT count(*) FROM funnel_steps) || ' ' || (SELECT count(*) FROM"
            " websites)")
        .get(0, 0);
  };
  const auto withFunnel = [&](const std::string& site) {
    const auto home = goals::addGoal(conn_, site, {.pagePath = "/"});
    const auto signup = goals::addGoal(conn_, site, {.eventName = "Signup"});
    goals::addFunnel(conn_, site, "Sign up", {home.id, signup.id});
  };
  withFunnel(site_);
  const std::string other = seed::website(conn_, owner_, "B", "b.example");
  withFunnel(other);
  const std::string third = seed::website(conn_, owner_, "C", "c.example");
  withFunnel(third);
  EXPECT_EQ(rows(), "6 3 6 3");

  EXPECT_FALSE(sites::removeOwned(conn_, seed::owner(conn_, "else@example.com"), site_));
  EXPECT_TRUE(sites::removeOwned(conn_, owner_, site_));
  EXPECT_EQ(rows(), "4 2 4 2");
  EXPECT_TRUE(sites::remove(conn_, other));
  EXPECT_EQ(rows(), "2 1 2 1");
  EXPECT_EQ(users::remove(conn_, seed::kOwnerEmail).websiteIds, std::vector<std::string>{third});
  EXPECT_EQ(rows(), "0 0 0 0");
}

// Over HTTP.
class GoalsHttp : public TrackingFixture {
 protected:
  void SetUp() override {
    TrackingFixture::SetUp();
    if (HasFatalFailure()) return;
    const std::int64_t now = util::nowMillis() / 1000;
    token_ = auth::signToken({owner_, now, now + 600}, secret_);
  }

  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& token = "") {
    std::vector<std::string> headers = {"Authorization: Bearer " +
                                        (token.empty() ? token_ : token)};
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return httpRequest(method, url(path), body, headers);
  }

  std::string token_;
};

TEST_F(GoalsHttp, ManageGoalsAndFunnelsAndReadTheirReports) {
  const std::string base = "/websites/" + site_;
  auto signup = call("POST", base + "/goals", R"({"eventName":"Signup"})");
  ASSERT_EQ(signup.status, 201) << signup.body;
  const json signupGoal = json::parse(signup.body);
  EXPECT_EQ(signupGoal["type"], "event");
  EXPECT_EQ(signupGoal["eventName"], "Signup");
  auto pricing = call("POST", base + "/goals", R"({"pagePath":"/pricing","name":"Pricing"})");
  ASSERT_EQ(pricing.status, 201) << pricing.body;
  const json pricingGoal = json::parse(pricing.body);
  EXPECT_EQ(pricingGoal["pagePath"], "/pricing");

  const std::vector<std::tuple<std::string, int, std::string>> bad = {
      {R"({"eventName":"Signup"})", 409, "goal_exists"},
      {R"({})", 400, "invalid_request"},
      {R"({"eventName":"a","pagePath":"/"})", 400, "invalid_request"},
      {R"({"pagePath":"pricing"})", 400, "invalid_request"},
      {R"({"eventName":7})", 400, "invalid_request"},
      {R"([1])", 400, "invalid_request"},
  };
  for (const auto& [body, status, code] : bad) {
    auto r = call("POST", base + "/goals", body);
    EXPECT_EQ(r.status, status) << body << ": " << r.body;
    EXPECT_EQ(errorCode(r), code) << body;
  }
  auto list = call("GET", base + "/goals");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body)["goals"].size(), 2u);

  const std::string steps =
      json({{"name", "Buy"}, {"steps", {pricingGoal["id"], signupGoal["id"]}}}).dump();
  auto funnel = call("POST", base + "/funnels", steps);
  ASSERT_EQ(funnel.status, 201) << funnel.body;
  const std::string funnelId = json::parse(funnel.body)["id"];
  EXPECT_EQ(json::parse(funnel.body)["steps"][1]["eventName"], "Signup");
  EXPECT_EQ(call("POST", base + "/funnels", steps).status, 409);
  auto oneStep = call("POST", base + "/funnels",
                      json({{"name", "One"}, {"steps", {signupGoal["id"]}}}).dump());
  EXPECT_EQ(oneStep.status, 400);
  EXPECT_THAT(oneStep.body, HasSubstr("2 to 8"));
  EXPECT_EQ(call("GET", base + "/funnels/" + funnelId).status, 200);
  EXPECT_EQ(json::parse(call("GET", base + "/funnels").body)["funnels"].size(), 1u);

  // A goal that a funnel uses stays until the funnel goes.
  const std::string signupPath = base + "/goals/" + signupGoal["id"].get<std::string>();
  auto inUse = call("DELETE", signupPath);
  EXPECT_EQ(inUse.status, 409);
  EXPECT_EQ(errorCode(inUse), "goal_in_use");

  // Events: a visit that views /pricing then signs up; another that only views /pricing.
  ASSERT_EQ(
      track({{"websiteId", site_}, {"url", "https://example.com/pricing"}, {"sessionId", "a"}})
          .status,
      202);
  ASSERT_EQ(track({{"websiteId", site_},
                   {"url", "https://example.com/pricing"},
                   {"eventType", "Signup"},
                   {"sessionId", "a"}})
                .status,
            202);
  ASSERT_EQ(
      track({{"websiteId", site_}, {"url", "https://example.com/pricing"}, {"sessionId", "b"}},
            {"User-Agent: " + std::string(kChromeWindows), "X-Forwarded-For: 192.0.2.9"})
          .status,
      202);
  ASSERT_TRUE(waitForRows(3));
  auto goalsReport = call("GET", "/stats/" + site_ + "/goals");
  ASSERT_EQ(goalsReport.status, 200) << goalsReport.body;
  const json g = json::parse(goalsReport.body);
  ASSERT_EQ(g["goals"].size(), 2u);
  EXPECT_EQ(g["goals"][0]["name"], "Signup");
  EXPECT_EQ(g["goals"][0]["events"], 1);
  EXPECT_EQ(g["goals"][1]["name"], "Pricing");
  EXPECT_EQ(g["goals"][1]["events"], 2);
  EXPECT_EQ(g["goals"][1]["visitors"], g["visitors"]);
  auto funnelReport = call("GET", "/stats/" + site_ + "/funnels/" + funnelId);
  ASSERT_EQ(funnelReport.status, 200) << funnelReport.body;
  const json f = json::parse(funnelReport.body);
  EXPECT_EQ(f["name"], "Buy");
  EXPECT_EQ(f["steps"][0]["visits"], 2);
  EXPECT_EQ(f["steps"][1]["visits"], 1);
  EXPECT_EQ(f["steps"][1]["dropoff"].get<int>(),
            f["steps"][0]["visitors"].get<int>() - f["steps"][1]["visitors"].get<int>());

  // A new goal shows in the report at once: the cached answer was dropped.
  ASSERT_EQ(call("POST", base + "/goals", R"({"pagePath":"/*"})").status, 201);
  EXPECT_EQ(json::parse(call("GET", "/stats/" + site_ + "/goals").body)["goals"].size(), 3u);

  EXPECT_EQ(call("GET", "/stats/" + site_ + "/funnels/0190d7a0-0000-7000-8000-00000000dead").status,
            404);
  EXPECT_EQ(call("GET", "/stats/" + site_ + "/funnels/nope").status, 404);
  EXPECT_EQ(call("DELETE", base + "/funnels/" + funnelId).status, 204);
  EXPECT_EQ(call("DELETE", base + "/funnels/" + funnelId).status, 404);
  EXPECT_EQ(call("DELETE", signupPath).status, 204);
  EXPECT_EQ(call("DELETE", signupPath).status, 404);

  // Someone else's website answers as one that does not exist; no token is 401.
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  const std::int64_t now = util::nowMillis() / 1000;
  const std::string other =
      auth::signToken({seed::owner(conn, "o@example.com"), now, now + 600}, secret_);
  for (const char* path : {"/goals", "/funnels"}) {
    auto foreign = call("GET", base + path, "", other);
    EXPECT_EQ(foreign.status, 404) << path;
    EXPECT_EQ(errorCode(foreign), "not_found");
  }
  EXPECT_EQ(call("GET", "/stats/" + site_ + "/goals", "", other).status, 404);
  EXPECT_EQ(httpRequest("GET", url(base + "/goals")).status, 401);
}

}  // namespace
}  // namespace mp::test
