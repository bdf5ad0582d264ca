// mpctl export: the ZIP of CSV files in Plausible's export layout, read back with Python's
// zipfile and csv (as another tool would read it): the file set, the headers, the engine's
// numbers per day, CSV quoting, the raw events with --raw, and bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "db/connection.hpp"
#include "stats/engine.hpp"
#include "stats/query.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;
using std::chrono::days;

// Every CSV file of a ZIP as {"name": [[cell, ...], ...]}, read by Python's zipfile and csv;
// testzip() checks every entry's CRC.
json readZip(const std::string& path) {
  const auto r = runProcess(
      {"/usr/bin/python3", "-c",
       "import csv, io, json, sys, zipfile\n"
       "z = zipfile.ZipFile(sys.argv[1])\n"
       "bad = z.testzip()\n"
       "assert bad is None, bad\n"
       "out = {}\n"
       "for n in z.namelist():\n"
       "    out[n] = list(csv.reader(io.TextIOWrapper(z.open(n), 'utf-8', newline='')))\n"
       "print(json.dumps(out))\n",
       path});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  return r.exitCode == 0 ? json::parse(r.out) : json::object();
}

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    migrateDatabase(db_.url());
    db::Connection conn(db_.url(), 5s);
    site_ = seed::website(conn, seed::owner(conn), "Shop", "shop.example");
    today_ = std::chrono::floor<days>(std::chrono::system_clock::now());
    first_ = today_ - days{3};
    const auto at = [](std::chrono::sys_days d, const char* time) {
      return util::formatDate(d) + " " + time + "+00";
    };
    std::vector<seed::Event> events = {
        {site_,
         at(first_, "10:00:00"),
         "pageview",
         "/",
         "s1",
         1,
         {},
         "Chrome",
         "Linux",
         "Desktop",
         "DE"},
        {site_,
         at(first_, "10:02:00"),
         "pageview",
         "/a,b \"c\"",
         "s1",
         1,
         {},
         "Chrome",
         "Linux",
         "Desktop",
         "DE"},
        {site_,
         at(first_, "10:03:00"),
         "Signup",
         "/a,b \"c\"",
         "s1",
         1,
         {},
         "Chrome",
         "Linux",
         "Desktop",
         "DE"},
        {site_, at(first_ + days{1}, "12:00:00"), "pageview", "/", "s2", 2, "www.google.com",
         "Firefox", "Windows", "Desktop", "FR", "Google"},
        {site_,
         at(first_ + days{2}, "08:00:00"),
         "pageview",
         "/",
         "s3",
         3,
         {},
         "Safari",
         "iOS",
         "Mobile",
         "US"},
        {site_,
         at(first_ + days{2}, "08:00:30"),
         "pageview",
         "/b",
         "s3",
         3,
         {},
         "Safari",
         "iOS",
         "Mobile",
         "US"},
        // Before the range: in no file.
        {site_, at(first_ - days{1}, "12:00:00"), "pageview", "/old", "s0", 9, {}},
    };
    seed::insertEvents(conn, events);
  }

  ProcessResult mpctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {mpctlPath(), "-c", "/dev/null"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, "", {{"MP_DATABASE_URL", db_.url()}, {"MP_REDIS_URL", redisUrl()}},
                      120s);
  }

  std::string compact(std::chrono::sys_days d) {
    std::string s = util::formatDate(d);
    std::erase(s, '-');
    return s;
  }

  TempDatabase db_;
  TempDir dir_;
  std::string site_;
  std::chrono::sys_days today_, first_;
};

TEST_F(Export, TheArchiveHoldsPlausiblesFilesWithTheEnginesNumbersPerDay) {
  const auto file = (dir_.path() / "export.zip").string();
  const auto to = first_ + days{2};
  const auto r = mpctl({"export", "shop.example", "--from", util::formatDate(first_), "--to",
                        util::formatDate(to), "-o", file});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("10 files"));
  EXPECT_FALSE(std::filesystem::exists(file + ".part"));
  const auto zip = readZip(file);
  const std::string suffix = "_" + compact(first_) + "_" + compact(to) + ".csv";
  for (const char* table :
       {"imported_visitors", "imported_sources", "imported_pages", "imported_entry_pages",
        "imported_exit_pages", "imported_custom_events", "imported_locations", "imported_devices",
        "imported_browsers", "imported_operating_systems"}) {
    EXPECT_TRUE(zip.contains(table + suffix)) << table << suffix << "\n" << zip.dump();
  }
  const auto& visitors = zip[std::string("imported_visitors") + suffix];
  ASSERT_EQ(visitors.size(), 4U) << visitors.dump();  // header + 3 days
  EXPECT_EQ(visitors[0],
            json({"date", "visitors", "pageviews", "bounces", "visits", "visit_duration"}));
  // Each day's numbers are the engine's for that day.
  db::Connection conn(db_.url(), 5s);
  for (int i = 0; i < 3; ++i) {
    const auto d = first_ + days{i};
    stats::Query q;
    q.websiteId = site_;
    q.range = {d, d};
    q.metrics = {stats::Metric::kVisitors, stats::Metric::kVisits, stats::Metric::kPageviews,
                 stats::Metric::kBounceRate, stats::Metric::kVisitDuration};
    const auto t = stats::run(conn, q).rows.at(0).totals;
    const auto& row = visitors[static_cast<std::size_t>(i + 1)];
    EXPECT_EQ(row[0], util::formatDate(d));
    EXPECT_EQ(row[1], std::to_string(t.visitors));
    EXPECT_EQ(row[2], std::to_string(t.pageviews));
    EXPECT_EQ(row[3], std::to_string(t.bounces));
    EXPECT_EQ(row[4], std::to_string(t.visits));
    EXPECT_EQ(row[5], std::to_string((t.durationMs + 500) / 1000));
  }
  EXPECT_EQ(visitors[1][2], "2");    // first day: two page views
  EXPECT_EQ(visitors[1][5], "180");  // one visit of three minutes

  // A page with a comma and quotes survives CSV; hostname comes first, as Plausible writes it.
  const auto& pages = zip[std::string("imported_pages") + suffix];
  EXPECT_EQ(pages[0], json({"date", "hostname", "page", "visits", "visitors", "pageviews"}));
  bool quoted = false;
  for (const auto& row : pages) {
    if (row[2] == "/a,b \"c\"") {
      quoted = true;
      EXPECT_EQ(row[1], "shop.example");
      EXPECT_EQ(row[5], "1");
    }
    EXPECT_NE(row[2], "/old");
  }
  EXPECT_TRUE(quoted) << pages.dump();
  const auto& events = zip[std::string("imported_custom_events") + suffix];
  ASSERT_EQ(events.size(), 2U) << events.dump();
  EXPECT_EQ(events[1], json({util::formatDate(first_), "Signup", "", "", "1", "1"}));
  const auto& sources = zip[std::string("imported_sources") + suffix];
  bool google = false;
  for (const auto& row : sources) google = google || row[1] == "Google";
  EXPECT_TRUE(google) << sources.dump();
  // The visits of each session file add up to the day's visits: no visit is left out (one
  // without a UTM or entry page counts under "").
  for (const char* table :
       {"imported_sources", "imported_entry_pages", "imported_exit_pages", "imported_locations",
        "imported_devices", "imported_browsers", "imported_operating_systems"}) {
    const auto& rows = zip[table + suffix];
    const auto visitsAt =
        std::find(rows[0].begin(), rows[0].end(),
                  json(std::string(table == std::string("imported_entry_pages")  ? "entrances"
                                   : table == std::string("imported_exit_pages") ? "exits"
                                                                                 : "visits")));
    ASSERT_NE(visitsAt, rows[0].end()) << table;
    const auto column = static_cast<std::size_t>(visitsAt - rows[0].begin());
    std::map<std::string, long> perDay;
    for (std::size_t i = 1; i < rows.size(); ++i) {
      perDay[rows[i][0]] += std::stol(rows[i][column].get<std::string>());
    }
    for (std::size_t i = 1; i < visitors.size(); ++i) {
      EXPECT_EQ(std::to_string(perDay[visitors[i][0]]), visitors[i][4])
          << table << " on " << visitors[i][0];
    }
  }
  const auto& countries = zip[std::string("imported_locations") + suffix];
  ASSERT_EQ(countries.size(), 4U) << countries.dump();
  EXPECT_EQ(countries[3][1], "US");
  const auto& browsers = zip[std::string("imported_browsers") + suffix];
  EXPECT_EQ(browsers[0][1], "browser");
  EXPECT_EQ(browsers[1][1], "Chrome");
}

TEST_F(Export, RawAddsEveryEventOfTheRange) {
  const auto file = (dir_.path() / "raw.zip").string();
  const auto r = mpctl({"export", site_, "--from", util::formatDate(first_), "--raw", "-o", file});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("6 raw events"));
  const auto zip = readZip(file);
  const std::string name = "events_" + compact(first_) + "_" + compact(today_) + ".csv";
  ASSERT_TRUE(zip.contains(name)) << zip.dump();
  const auto& rows = zip[name];
  ASSERT_EQ(rows.size(), 7U);
  EXPECT_EQ(rows[0][0], "ts");
  EXPECT_EQ(rows[0][2], "event_type");
  EXPECT_EQ(rows[2][3], "/a,b \"c\"");
}

TEST_F(Export, BadInputIsAClearErrorAndLeavesNoFile) {
  const auto file = (dir_.path() / "bad.zip").string();
  auto r = mpctl({"export", "shop.example", "--from", "2026-13-01", "-o", file});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--from"));
  r = mpctl({"export", "shop.example", "--from", util::formatDate(today_), "--to",
             util::formatDate(today_ - days{1}), "-o", file});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("before"));
  r = mpctl({"export", "nosuch.example", "-o", file});
  EXPECT_EQ(r.exitCode, 6) << r.err;
  r = mpctl({"export", "shop.example", "-o", (dir_.path() / "no/such/dir/x.zip").string()});
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot write"));
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".part"));
}

TEST_F(Export, TheOwnerDownloadsTheSameArchiveOverHttp) {
  RedisProcess redis;
  DaemonOptions options(db_.url());
  options.redisUrl = redis.url();
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  {
    db::Connection conn(db_.url(), 5s);
    seed::owner(conn, "other@example.com");
  }

  const auto owner = bearerFor(daemon.baseUrl(), seed::kOwnerEmail);
  const auto to = first_ + days{2};
  const std::string url = daemon.baseUrl() + "/websites/" + site_ +
                          "/export?from=" + util::formatDate(first_) +
                          "&to=" + util::formatDate(to);
  auto r = httpRequest("GET", url, "", {owner}, 60000);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/zip");
  EXPECT_EQ(r.header("content-disposition"),
            "attachment; filename=\"shop_example_" + compact(today_) + ".zip\"");
  const auto downloaded = dir_.write("http.zip", r.body).string();
  const auto cli = (dir_.path() / "cli.zip").string();
  ASSERT_EQ(mpctl({"export", "shop.example", "--from", util::formatDate(first_), "--to",
                   util::formatDate(to), "-o", cli})
                .exitCode,
            0);
  const auto a = readZip(downloaded);
  EXPECT_EQ(a.size(), 10U);
  EXPECT_EQ(a, readZip(cli)) << "the route and mpctl write the same files";

  // Only the owner; a bad date is a 400 in the API's shape.
  EXPECT_EQ(httpRequest("GET", url).status, 401);
  EXPECT_EQ(httpRequest("GET", url, "", {bearerFor(daemon.baseUrl(), "other@example.com")}).status,
            404);
  auto bad = httpRequest("GET", daemon.baseUrl() + "/websites/" + site_ + "/export?from=2026-02-30",
                         "", {owner});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(errorCode(bad), "invalid_request");
  bad = httpRequest("GET",
                    url.substr(0, url.find('?')) + "?from=" + util::formatDate(today_) +
                        "&to=" + util::formatDate(first_),
                    "", {owner});
  EXPECT_EQ(bad.status, 400) << bad.body;
}

}  // namespace
}  // namespace mp::test
