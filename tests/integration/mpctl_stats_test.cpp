// mpctl stats end to end: its JSON is the HTTP API's answer, its table and CSV carry the same
// rows, and bad input and unknown websites have the documented exit codes.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Cells of a line: split at runs of blanks (tables), or at each comma (CSV; the test values hold
// no comma or quote).
std::vector<std::string> cells(const std::string& line, bool csv) {
  std::vector<std::string> out;
  if (csv) {
    std::string cell;
    std::istringstream in(line);
    while (std::getline(in, cell, ',')) out.push_back(cell);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
  }
  std::istringstream in(line);
  for (std::string cell; in >> cell;) out.push_back(cell);
  return out;
}

class MpctlStats : public TrackingFixture {
 protected:
  // The daemon's own schedule would fold while a test looks at what is folded and what is not.
  std::string extraToml() override { return "[aggregation]\nenabled = false\n"; }

  void SetUp() override {
    TrackingFixture::SetUp();
    if (HasFatalFailure()) return;
    const std::int64_t now = util::nowMillis() / 1000;
    token_ = auth::signToken({owner_, now, now + 600}, secret_);
    today_ = util::todayUtc();
    db::Connection conn(db_.url(), std::chrono::seconds(5));
    // Twelve days of events on example.com (visitor ids day-scoped), the older ones folded; NULL
    // referrers and countries are the "" values.
    std::vector<seed::Event> events;
    for (int d = 0; d < 12; ++d) {
      for (int i = 0; i < 4 + d % 5; ++i) {
        const std::int64_t ms = seed::dayStartMs(today_ - days{d}) + (d == 0 ? 0 : i * 5'400'000);
        events.push_back({.website = site_,
                          .ts = util::formatRfc3339Millis(ms),
                          .type = i % 3 == 2 ? "signup" : "pageview",
                          .page = fmt::format("/page-{}", i % 4),
                          .session = fmt::format("s{}", d * 100 + i),
                          .visitor = d * 100 + i % 3,
                          .referrer = seed::text(i % 2 ? "search.example" : nullptr),
                          .browser = i % 2 ? "Firefox" : "Chrome",
                          .os = "Linux",
                          .device = "desktop",
                          .country = seed::text(i % 3 ? "SE" : nullptr)});
      }
    }
    seed::insertEvents(conn, events);
    aggregation::foldRange(conn, today_ - days{11}, today_ - days{4});
    // One live session for realtime, stored before any answer is cached.
    const long stored = rowCount();
    ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/"}, {"sessionId", "live"}})
                  .status,
              202);
    ASSERT_TRUE(waitForRows(stored + 1));
    config_ = dir_.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n[redis]\nurl = \"" +
                                        redis_.url() + "\"\n");
  }

  ProcessResult mpctl(std::vector<std::string> args,
                      const std::filesystem::path& config = std::filesystem::path()) {
    args.insert(args.begin(),
                {mpctlPath(), "-c", (config.empty() ? config_ : config).string(), "stats"});
    return runProcess(args);
  }

  json http(const std::string& path) {
    auto r =
        httpRequest("GET", url("/stats/" + site_ + path), "", {"Authorization: Bearer " + token_});
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body);
  }

  std::string token_;
  sys_days today_;
  TempDir dir_;
  std::filesystem::path config_;
};

TEST_F(MpctlStats, JsonIsTheHttpAnswer) {
  const std::string from = util::formatDate(today_ - days{9});
  const std::string to = util::formatDate(today_);
  struct Case {
    std::vector<std::string> args;
    std::string path;
  };
  std::vector<Case> cases = {
      {{"top-pages", site_, "--from", from, "--to", to, "--limit", "3"},
       "/top-pages?from=" + from + "&to=" + to + "&limit=3"},
      {{"top-pages", "example.com"}, "/top-pages"},
      {{"timeseries", site_, "--from", from}, "/timeseries?from=" + from},
      {{"timeseries", site_, "--interval", "hour", "--to", to},
       "/timeseries?interval=hour&to=" + to},
  };
  for (const char* report : {"sources", "entry-pages", "exit-pages"}) {
    cases.push_back({{report, site_, "--from", from, "--filter", "browser=Firefox"},
                     "/" + std::string(report) + "?from=" + from +
                         "&filters=%5B%5B%22is%22%2C%22browser%22%2C%5B%22Firefox%22%5D%5D%5D"});
  }
  cases.push_back({{"overview", site_, "--from", from, "--compare", "previous_period"},
                   "/overview?from=" + from + "&compare=previous_period"});
  for (const char* dimension : {"page", "referrer", "browser", "os", "device", "country",
                                "eventType", "entry_page", "source", "channel"}) {
    cases.push_back({{"breakdown", site_, "--dimension", dimension, "--from", from},
                     "/breakdown?dimension=" + std::string(dimension) + "&from=" + from});
  }
  for (auto& [args, path] : cases) {
    args.insert(args.end(), {"--format", "json"});
    auto r = mpctl(args);
    ASSERT_EQ(r.exitCode, 0) << path << ": " << r.err;
    json fromCli = json::parse(r.out);
    json fromHttp = http(path);
    fromCli.erase("generatedAt");  // the overview's: the moment each was computed
    fromHttp.erase("generatedAt");
    EXPECT_EQ(fromCli, fromHttp) << path;
  }

  auto overview = mpctl({"overview", site_, "--format", "json"});
  ASSERT_EQ(overview.exitCode, 0) << overview.err;
  json fromCli = json::parse(overview.out);
  json fromHttp = http("/overview");
  EXPECT_TRUE(fromCli["generatedAt"].is_string());
  fromCli.erase("generatedAt");
  fromHttp.erase("generatedAt");
  EXPECT_EQ(fromCli, fromHttp);
  EXPECT_GT(fromCli["totalViews"].get<long>(), 0);

  auto realtime = mpctl({"realtime", site_, "--format", "json"});
  ASSERT_EQ(realtime.exitCode, 0) << realtime.err;
  json rt = json::parse(realtime.out);
  EXPECT_EQ(rt["activeSessions"], 1);
  EXPECT_EQ(rt["activeSessions"], http("/realtime")["activeSessions"]);
  EXPECT_EQ(rt["windowSeconds"], 300);
}

// The header of a list: its first column, then the metrics (CSV names them as the JSON does).
std::vector<std::string> header(bool csv, const char* first, const char* firstHeader) {
  if (csv) return {first, "views", "visitors", "visits", "bounceRate", "visitDuration"};
  return {firstHeader, "VIEWS", "VISITORS", "VISITS", "BOUNCE%", "DURATION(S)"};
}

// The cells of a row: its value, then the metrics of `block` as the JSON has them.
std::vector<std::string> numbers(const std::string& value, const json& block) {
  return {value,
          block["views"].dump(),
          block["visitors"].dump(),
          block["visits"].dump(),
          block["bounceRate"].dump(),
          block["visitDuration"].dump()};
}

TEST_F(MpctlStats, TableAndCsvCarryTheSameRows) {
  const std::string from = util::formatDate(today_ - days{11});
  for (const bool csv : {false, true}) {
    const std::string format = csv ? "csv" : "table";
    // A list: header, then one line per row of the HTTP answer.
    struct Case {
      std::vector<std::string> args;
      std::string path;
      std::string list;
      std::string key;
      std::vector<std::string> header;
    };
    const std::vector<Case> cases = {
        {{"top-pages", site_, "--from", from},
         "/top-pages?from=" + from,
         "pages",
         "page",
         header(csv, "page", "PAGE")},
        {{"breakdown", site_, "--from", from, "--dimension", "referrer"},
         "/breakdown?dimension=referrer&from=" + from,
         "rows",
         "value",
         header(csv, "value", "VALUE")},
        {{"breakdown", site_, "--from", from, "--dimension", "country", "--limit", "1"},
         "/breakdown?dimension=country&limit=1&from=" + from,
         "rows",
         "value",
         header(csv, "value", "VALUE")},
        {{"timeseries", site_, "--from", from},
         "/timeseries?from=" + from,
         "points",
         "t",
         header(csv, "t", "TIME")},
    };
    for (auto [args, path, list, key, header] : cases) {
      args.insert(args.end(), {"--format", format});
      auto r = mpctl(args);
      ASSERT_EQ(r.exitCode, 0) << path << ": " << r.err;
      const auto out = lines(r.out);
      const json expected = http(path)[list];
      ASSERT_EQ(out.size(), expected.size() + 1) << format << " " << path << ":\n" << r.out;
      EXPECT_EQ(cells(out[0], csv), header) << format << " " << path;
      for (std::size_t i = 0; i < expected.size(); ++i) {
        std::string value = expected[i][key].get<std::string>();
        // A table shows an empty value as "(none)"; CSV keeps it empty.
        if (value.empty() && !csv) value = "(none)";
        EXPECT_EQ(cells(out[i + 1], csv), numbers(value, expected[i]))
            << format << " " << path << " row " << i;
      }
    }

    auto overview = mpctl({"overview", site_, "--format", format});
    ASSERT_EQ(overview.exitCode, 0) << overview.err;
    const json o = http("/overview");
    const auto rows = lines(overview.out);
    ASSERT_EQ(rows.size(), 5u) << overview.out;
    std::vector<std::string> head = header(csv, "period", "PERIOD");
    head.push_back(csv ? "viewsPerVisit" : "VIEWS/VISIT");
    EXPECT_EQ(cells(rows[0], csv), head);
    const std::pair<const char*, const char*> periods[] = {{"all-time", "total"},
                                                           {"today", "today"},
                                                           {"last-7-days", "last7Days"},
                                                           {"range", "range"}};
    for (std::size_t i = 0; i < std::size(periods); ++i) {
      auto expected = numbers(periods[i].first, o[periods[i].second]);
      expected.push_back(o[periods[i].second]["viewsPerVisit"].dump());
      EXPECT_EQ(cells(rows[i + 1], csv), expected) << periods[i].first;
    }

    auto realtime = mpctl({"realtime", site_, "--format", format});
    ASSERT_EQ(realtime.exitCode, 0) << realtime.err;
    const auto rt = lines(realtime.out);
    ASSERT_EQ(rt.size(), 2u) << realtime.out;
    EXPECT_EQ(cells(rt[0], csv),
              csv ? (std::vector<std::string>{"activeSessions", "windowSeconds", "asOf"})
                  : (std::vector<std::string>{"SESSIONS", "WINDOW", "TIME"}));
    const auto values = cells(rt[1], csv);
    ASSERT_EQ(values.size(), 3u);
    EXPECT_EQ(values[0], "1");
    EXPECT_EQ(values[1], "300");
    EXPECT_THAT(values[2], ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z"));
  }
}

TEST_F(MpctlStats, BadInputIsExit2AndUnknownWebsitesExit6) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"top-pages", site_, "--from", "2026-02-30"}, "from"},
      {{"top-pages", site_, "--to", "today"}, "to"},
      {{"top-pages", site_, "--from", "2026-11-20", "--to", "2026-11-10"}, "after"},
      {{"top-pages", site_, "--limit", "0"}, "limit"},
      {{"breakdown", site_, "--limit", "500", "--dimension", "os"}, "limit"},
      {{"breakdown", site_, "--dimension", "plan"}, "dimension"},
      {{"breakdown", site_}, "dimension"},
      {{"timeseries", site_, "--interval", "minute"}, "interval"},
      {{"timeseries", site_, "--interval", "hour", "--from", "2026-01-01", "--to", "2026-03-01"},
       "31 days"},
  };
  for (const auto& [args, mention] : bad) {
    auto r = mpctl(args);
    EXPECT_EQ(r.exitCode, exit_code::kUsage) << args[0] << " " << mention << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(mention));
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(mpctl({"overview"}).exitCode, exit_code::kUsage) << "WEBSITE is required";
  for (const char* unknown :
       {"0190d7a0-0000-7000-8000-00000000dead", "nowhere.example", "not a website!"}) {
    auto r = mpctl({"top-pages", unknown});
    EXPECT_EQ(r.exitCode, exit_code::kNotFound) << unknown << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("no website"));
  }
  // Redis out of reach: realtime cannot be answered (exit 5); the others need only PostgreSQL.
  const auto noRedis = dir_.write("noredis.toml", "[database]\nurl = \"" + db_.url() +
                                                      "\"\n[redis]\nurl = \"redis://127.0.0.1:" +
                                                      std::to_string(freePort()) + "\"\n");
  EXPECT_EQ(mpctl({"realtime", site_}, noRedis).exitCode, exit_code::kUnavailable);
  EXPECT_EQ(mpctl({"overview", site_}, noRedis).exitCode, exit_code::kOk);
}

TEST_F(MpctlStats, GoalsAndFunnelsAreManagedAndReportedAsOverHttp) {
  const auto run = [this](std::vector<std::string> args) {
    args.insert(args.begin(), {mpctlPath(), "-c", config_.string()});
    return runProcess(args);
  };
  // Goals by the website's domain or id; the id is the last word's parenthesised value.
  auto signup = run({"goal", "add", "example.com", "--event", "signup"});
  ASSERT_EQ(signup.exitCode, 0) << signup.err;
  EXPECT_THAT(signup.out, HasSubstr("(event signup) to example.com"));
  auto page = run({"goal", "add", site_, "--page", "/page-*", "--name", "Any page"});
  ASSERT_EQ(page.exitCode, 0) << page.err;
  auto listed = run({"goal", "list", site_, "--format", "json"});
  ASSERT_EQ(listed.exitCode, 0) << listed.err;
  const json goals = json::parse(listed.out);
  ASSERT_EQ(goals.size(), 2u);
  EXPECT_EQ(goals[0]["target"], "signup");
  EXPECT_EQ(goals[1]["name"], "Any page");
  const std::string signupId = goals[0]["id"];
  const std::string pageId = goals[1]["id"];

  const std::vector<std::tuple<std::vector<std::string>, int, std::string>> bad = {
      {{"goal", "add", site_}, exit_code::kUsage, "--event"},
      {{"goal", "add", site_, "--event", "a", "--page", "/"}, exit_code::kUsage, "excludes"},
      {{"goal", "add", site_, "--page", "page"}, exit_code::kUsage, "--page"},
      {{"goal", "add", site_, "--event", "signup"}, exit_code::kConflict, "already"},
      {{"goal", "add", "nowhere.example", "--event", "x"}, exit_code::kNotFound, "no website"},
      {{"funnel", "add", site_, "--name", "One", "--step", signupId}, exit_code::kUsage, "2 to 8"},
      {{"goal", "del", site_, "0190d7a0-0000-7000-8000-00000000dead"},
       exit_code::kNotFound,
       "no goal"},
  };
  for (const auto& [args, code, mention] : bad) {
    auto r = run(args);
    EXPECT_EQ(r.exitCode, code) << args[1] << " " << mention << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(mention)) << args[1];
  }

  auto funnel = run({"funnel", "add", site_, "--name", "Pages then signup", "--step", pageId,
                     "--step", signupId});
  ASSERT_EQ(funnel.exitCode, 0) << funnel.err;
  auto funnels = run({"funnel", "list", site_, "--format", "json"});
  ASSERT_EQ(funnels.exitCode, 0) << funnels.err;
  const std::string funnelId = json::parse(funnels.out)[0]["id"];
  auto inUse = run({"goal", "del", site_, signupId});
  EXPECT_EQ(inUse.exitCode, exit_code::kConflict) << inUse.err;
  EXPECT_THAT(inUse.err, HasSubstr("Pages then signup"));

  // The reports are the HTTP answers.
  const std::string from = util::formatDate(today_ - days{9});
  auto goalsReport = run({"stats", "goals", site_, "--from", from, "--format", "json"});
  ASSERT_EQ(goalsReport.exitCode, 0) << goalsReport.err;
  EXPECT_EQ(json::parse(goalsReport.out), http("/goals?from=" + from));
  EXPECT_GT(json::parse(goalsReport.out)["goals"][0]["visitors"].get<int>(), 0);
  auto funnelReport = run({"stats", "funnel", site_, funnelId, "--from", from, "--format", "json"});
  ASSERT_EQ(funnelReport.exitCode, 0) << funnelReport.err;
  EXPECT_EQ(json::parse(funnelReport.out), http("/funnels/" + funnelId + "?from=" + from));
  auto table = run({"stats", "funnel", site_, funnelId, "--from", from});
  ASSERT_EQ(table.exitCode, 0) << table.err;
  EXPECT_EQ(cells(lines(table.out).at(0), false),
            (std::vector<std::string>{"STEP", "GOAL", "VISITORS", "DROPOFF", "FROM_FIRST%",
                                      "FROM_PREVIOUS%"}));
  EXPECT_EQ(run({"stats", "funnel", site_, "0190d7a0-0000-7000-8000-00000000dead"}).exitCode,
            exit_code::kNotFound);

  EXPECT_EQ(run({"funnel", "del", site_, funnelId}).exitCode, 0);
  EXPECT_EQ(run({"goal", "del", site_, signupId}).exitCode, 0);
  EXPECT_EQ(json::parse(run({"goal", "list", site_, "--format", "json"}).out).size(), 1u);
}

}  // namespace
}  // namespace mp::test
