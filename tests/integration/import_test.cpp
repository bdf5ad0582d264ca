// mpctl import: Plausible's CSV export (our own export read back, and hand-made files), Umami's
// and GoatCounter's event exports; the stats of imported days, idempotence, resumption, bad rows
// listed with their lines and nothing written, days MetricPulse tracked itself left alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "db/connection.hpp"
#include "importing/importer.hpp"
#include "sites/sites.hpp"
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
using ::testing::Not;
using json = nlohmann::json;
using namespace std::chrono_literals;
using stats::Metric;
using std::chrono::days;

const std::vector<Metric> kMetrics = {Metric::kVisitors,   Metric::kVisits,
                                      Metric::kPageviews,  Metric::kEvents,
                                      Metric::kBounceRate, Metric::kVisitDuration};

class Import : public ::testing::Test {
 protected:
  void SetUp() override {
    migrateDatabase(db_.url());
    db::Connection conn(db_.url(), 5s);
    owner_ = seed::owner(conn);
    tracked_ = seed::website(conn, owner_, "Shop", "shop.example");
    empty_ = seed::website(conn, owner_, "New shop", "new.example");
    today_ = std::chrono::floor<days>(std::chrono::system_clock::now());
    first_ = today_ - days{5};
    const auto at = [](std::chrono::sys_days d, const char* time) {
      return util::formatDate(d) + " " + time + "+00";
    };
    std::vector<seed::Event> events = {
        {tracked_,
         at(first_, "10:00:00"),
         "pageview",
         "/",
         "s1",
         1,
         {},
         "Chrome",
         "Linux",
         "desktop",
         "DE"},
        {tracked_,
         at(first_, "10:02:00"),
         "pageview",
         "/pricing",
         "s1",
         1,
         {},
         "Chrome",
         "Linux",
         "desktop",
         "DE"},
        {tracked_,
         at(first_, "10:03:00"),
         "Signup",
         "/pricing",
         "s1",
         1,
         {},
         "Chrome",
         "Linux",
         "desktop",
         "DE"},
        {tracked_,
         at(first_, "11:00:00"),
         "pageview",
         "/",
         "s4",
         4,
         {},
         "Firefox",
         "Windows",
         "desktop",
         "FR"},
        {tracked_, at(first_ + days{1}, "12:00:00"), "pageview", "/", "s2", 2, "www.google.com",
         "Firefox", "Windows", "desktop", "FR", "Google"},
        {tracked_,
         at(first_ + days{2}, "08:00:00"),
         "pageview",
         "/",
         "s3",
         3,
         {},
         "Safari",
         "iOS",
         "mobile",
         "US"},
        {tracked_,
         at(first_ + days{2}, "08:00:30"),
         "pageview",
         "/blog",
         "s3",
         3,
         {},
         "Safari",
         "iOS",
         "mobile",
         "US"},
    };
    seed::insertEvents(conn, events);
  }

  ProcessResult mpctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {mpctlPath(), "-c", "/dev/null"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, "", {{"MP_DATABASE_URL", db_.url()}, {"MP_REDIS_URL", redisUrl()}},
                      120s);
  }

  // The export of the tracked site's three days, as Plausible's ZIP.
  std::string exportTracked() {
    const auto file = (dir_.path() / "export.zip").string();
    const auto r = mpctl({"export", "shop.example", "--from", util::formatDate(first_), "--to",
                          util::formatDate(first_ + days{2}), "-o", file});
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    return file;
  }

  stats::Answer ask(const std::string& site, std::vector<std::string> dims = {},
                    std::vector<stats::Filter> filters = {}) {
    db::Connection conn(db_.url(), 5s);
    stats::Query q;
    q.websiteId = site;
    q.range = {first_ - days{1}, first_ + days{3}};
    q.metrics = kMetrics;
    for (const auto& d : dims) q.dimensions.push_back(*stats::dimensionNamed(d));
    q.filters = std::move(filters);
    return stats::run(conn, q);
  }

  std::int64_t count(const std::string& sql) {
    db::Connection conn(db_.url(), 5s);
    return conn.exec(sql).getInt(0, 0);
  }

  void write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }

  sites::Website website(const std::string& id) {
    db::Connection conn(db_.url(), 5s);
    return *sites::findById(conn, id);
  }

  TempDatabase db_;
  TempDir dir_;
  std::string owner_, tracked_, empty_;
  std::chrono::sys_days today_, first_;
};

// Each row's dimension values → totals, for comparing answers.
std::map<std::vector<std::string>, stats::Totals> rowsOf(const stats::Answer& a) {
  std::map<std::vector<std::string>, stats::Totals> out;
  for (const auto& r : a.rows) out[r.dimensions] = r.totals;
  return out;
}

TEST_F(Import, PlausiblesExportOfASiteGivesAnotherSiteTheSameStats) {
  const auto zip = exportTracked();
  const auto r = mpctl({"import", "new.example", "--from", "plausible-csv", zip});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("days:     3"));
  EXPECT_THAT(r.out, HasSubstr("0 skipped"));

  const auto original = ask(tracked_);
  const auto imported = ask(empty_);
  ASSERT_EQ(imported.rows.size(), 1U);
  const auto& t = imported.rows[0].totals;
  const auto& o = original.rows[0].totals;
  EXPECT_EQ(t.visitors, o.visitors);
  EXPECT_EQ(t.visits, o.visits);
  EXPECT_EQ(t.pageviews, o.pageviews);
  EXPECT_EQ(t.events, o.events);
  EXPECT_EQ(t.bounces, o.bounces);
  EXPECT_EQ(t.durationMs, o.durationMs);
  EXPECT_EQ(stats::value(Metric::kBounceRate, t), stats::value(Metric::kBounceRate, o));
  ASSERT_TRUE(imported.imported);
  EXPECT_EQ(imported.imported->days, 3);
  EXPECT_TRUE(imported.imported->included);
  EXPECT_TRUE(imported.imported->unavailable.empty());
  EXPECT_FALSE(original.imported);  // the tracked site has no imported days

  // Breakdowns by each dimension Plausible's files hold, and the daily series.
  for (const char* dim : {"time:day", "page", "entry_page", "exit_page", "source", "country",
                          "browser", "os", "device", "event_type"}) {
    const auto a = rowsOf(ask(tracked_, {dim}));
    const auto b = rowsOf(ask(empty_, {dim}));
    ASSERT_EQ(a.size(), b.size()) << dim;
    for (const auto& [values, totals] : a) {
      ASSERT_TRUE(b.count(values)) << dim << " " << values[0];
      EXPECT_EQ(b.at(values).visitors, totals.visitors) << dim << " " << values[0];
      EXPECT_EQ(b.at(values).pageviews, totals.pageviews) << dim << " " << values[0];
      // Plausible's files count custom events per day and per event name only.
      if (std::string(dim) == "time:day" || std::string(dim) == "event_type") {
        EXPECT_EQ(b.at(values).events, totals.events) << dim << " " << values[0];
      }
    }
  }
  // Per page, Plausible gives no bounces, durations or custom events: the answer says so.
  const auto pages = ask(empty_, {"page"});
  ASSERT_TRUE(pages.imported);
  EXPECT_THAT(pages.imported->unavailable,
              ::testing::ElementsAre(Metric::kEvents, Metric::kBounceRate, Metric::kVisitDuration));
  EXPECT_THAT(ask(empty_, {"country"}).imported->unavailable,
              ::testing::ElementsAre(Metric::kEvents));
  // A page filter reads the page's rows; a country filter the country's.
  const auto pricing =
      ask(empty_, {}, {{*stats::dimensionNamed("page"), stats::FilterOp::kIs, {"/pricing"}}});
  EXPECT_EQ(pricing.rows.at(0).totals.pageviews, 1);
  const auto france =
      ask(empty_, {}, {{*stats::dimensionNamed("country"), stats::FilterOp::kIs, {"FR"}}});
  EXPECT_EQ(france.rows.at(0).totals.visitors, 2);
  // What daily aggregates cannot answer is left out and said.
  const auto hours = ask(empty_, {"time:hour"});
  ASSERT_TRUE(hours.imported);
  EXPECT_FALSE(hours.imported->included);
  EXPECT_THAT(hours.imported->reason, HasSubstr("hours"));
  EXPECT_TRUE(hours.rows.empty());
  const auto twoDims = ask(empty_, {"country", "browser"});
  EXPECT_FALSE(twoDims.imported->included);
}

TEST_F(Import, TheSameFileTwiceChangesNothing) {
  const auto zip = exportTracked();
  ASSERT_EQ(mpctl({"import", "new.example", "--from", "plausible-csv", zip}).exitCode, 0);
  const auto rows = count("SELECT count(*) FROM imported_daily");
  EXPECT_GT(rows, 0);
  const auto again = mpctl({"import", "new.example", "--from", "plausible-csv", zip});
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already imported"));
  EXPECT_EQ(count("SELECT count(*) FROM imported_daily"), rows);
  EXPECT_EQ(count("SELECT count(*) FROM imports"), 1);
  // The same files unzipped are the same input.
  const auto dir = dir_.path() / "unzipped";
  std::filesystem::create_directories(dir);
  ASSERT_EQ(runProcess({"/usr/bin/python3", "-c",
                        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
                        zip, dir.string()})
                .exitCode,
            0);
  const auto unzipped = mpctl({"import", "new.example", "--from", "plausible-csv", dir.string()});
  EXPECT_THAT(unzipped.out, HasSubstr("already imported"));
  EXPECT_EQ(count("SELECT count(*) FROM imports"), 1);

  // Listed, and deleted with everything it brought.
  const auto list = mpctl({"import", "list", "new.example", "--format", "json"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  const auto listed = json::parse(list.out);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0]["source"], "plausible-csv");
  EXPECT_EQ(listed[0]["days"], 3);
  const auto del = mpctl({"import", "delete", "new.example", listed[0]["id"].get<std::string>()});
  ASSERT_EQ(del.exitCode, 0) << del.err;
  EXPECT_EQ(count("SELECT count(*) FROM imported_daily"), 0);
  EXPECT_EQ(ask(empty_).rows.at(0).totals.visitors, 0);
  EXPECT_EQ(mpctl({"import", "delete", "new.example", listed[0]["id"].get<std::string>()}).exitCode,
            6);
}

TEST_F(Import, DaysMetricPulseTrackedAreLeftAlone) {
  // The export imported into the tracked site itself: every day holds tracked events.
  const auto zip = exportTracked();
  const auto before = ask(tracked_).rows.at(0).totals;
  const auto r = mpctl({"import", "shop.example", "--from", "plausible-csv", zip});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("days:     0"));
  EXPECT_THAT(r.out, HasSubstr("the day holds events MetricPulse tracked itself"));
  EXPECT_EQ(ask(tracked_).rows.at(0).totals.visitors, before.visitors);
  EXPECT_EQ(count("SELECT count(*) FROM imported_daily"), 0);
}

TEST_F(Import, BadRowsAreListedWithTheirLinesAndNothingIsImported) {
  const auto dir = dir_.path() / "plausible";
  const std::string d1 = util::formatDate(first_);
  write(dir / "imported_visitors_20250101_20250102.csv",
        "date,visitors,pageviews,bounces,visits,visit_duration\n" + d1 +
            ",3,5,1,3,120\n"
            "2025-13-01,1,1,1,1,1\n" +
            d1 + ",x,1,1,1,1\n");
  write(dir / "imported_pages_20250101_20250102.csv",
        "date,hostname,page,visits\n" + d1 + ",new.example,/,3\n");
  write(dir / "notes.txt", "not a table\n");
  const auto r = mpctl({"import", "new.example", "--from", "plausible-csv", dir.string()});
  EXPECT_EQ(r.exitCode, 8) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("imported_visitors_20250101_20250102.csv:3: date \"2025-13-01\""));
  EXPECT_THAT(
      r.err, HasSubstr("imported_visitors_20250101_20250102.csv:4: visitors \"x\" is not a whole"));
  EXPECT_THAT(r.err, HasSubstr("imported_pages_20250101_20250102.csv:1: the header has no column "
                               "visitors, pageviews"));
  EXPECT_THAT(r.err, HasSubstr("nothing was imported"));
  EXPECT_EQ(count("SELECT count(*) FROM imports"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM imported_daily"), 0);

  // Not a Plausible export at all, an unknown format, a missing file.
  write(dir_.path() / "other" / "x.csv", "a,b\n1,2\n");
  const auto other =
      mpctl({"import", "new.example", "--from", "plausible-csv", (dir_.path() / "other").string()});
  EXPECT_EQ(other.exitCode, 2);
  EXPECT_THAT(other.err, HasSubstr("not a Plausible export"));
  const auto format = mpctl({"import", "new.example", "--from", "matomo", dir.string()});
  EXPECT_EQ(format.exitCode, 2);
  EXPECT_THAT(format.err, HasSubstr("plausible-csv, umami-csv or goatcounter-csv"));
  const auto missing = mpctl({"import", "new.example", "--from", "plausible-csv", "/nonexistent"});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_THAT(missing.err, HasSubstr("no such file"));
}

// Umami's export: website_event.csv (and session.csv with the sessions' attributes).
std::string umamiEvents(std::chrono::sys_days d) {
  const std::string day = util::formatDate(d);
  return "website_id,session_id,visit_id,event_id,hostname,url_path,url_query,referrer_path,"
         "referrer_query,referrer_domain,page_title,event_type,event_name,created_at\n"
         "w,sa,va,e1,new.example,/,,/search,,www.google.com,Home,1,," +
         day +
         " 09:00:00\n"
         "w,sa,va,e2,new.example,/pricing,,,,,Pricing,1,," +
         day +
         " 09:01:00\n"
         "w,sa,va,e3,new.example,/pricing,,,,,Pricing,2,Signup," +
         day +
         " 09:01:30\n"
         "w,sb,vb,e4,new.example,/blog,utm_source=newsletter&utm_campaign=may,,,,Blog,1,," +
         day +
         "T18:00:00.000Z\n"
         "w,sa,vc,e5,new.example,/,,,,,Home,1,," +
         day + " 20:00:00\n";
}

TEST_F(Import, UmamisEventsBecomeEventsWithVisitsSourcesAndGoals) {
  const auto dir = dir_.path() / "umami";
  write(dir / "website_event.csv", umamiEvents(first_));
  write(dir / "session.csv",
        "session_id,website_id,hostname,browser,os,device,screen,language,country\n"
        "sa,w,new.example,chrome,Windows 10,laptop,1920x1080,en,DE\n"
        "sb,w,new.example,ios,iOS,mobile,390x844,en,US\n");
  const auto r = mpctl({"import", "new.example", "--from", "umami-csv", dir.string()});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("5 imported"));
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM import_staged_events"), 0);

  const auto all = ask(empty_);
  const auto& t = all.rows.at(0).totals;
  EXPECT_EQ(t.visitors, 2);  // Umami sessions sa and sb
  EXPECT_EQ(t.visits, 3);    // visits va, vb, vc
  EXPECT_EQ(t.pageviews, 4);
  EXPECT_EQ(t.events, 5);
  EXPECT_FALSE(all.imported);  // events, not aggregates: nothing is missing
  const auto sources = rowsOf(ask(empty_, {"source"}));
  EXPECT_EQ(sources.at({"Google"}).visits, 1);
  EXPECT_EQ(sources.at({"newsletter"}).visits, 1);
  const auto browsers = rowsOf(ask(empty_, {"browser"}));
  EXPECT_EQ(browsers.at({"Chrome"}).visitors, 1);
  EXPECT_EQ(browsers.at({"Mobile Safari"}).visitors, 1);
  const auto devices = rowsOf(ask(empty_, {"device"}));
  EXPECT_EQ(devices.at({"desktop"}).visits, 2);  // a laptop is a desktop
  const auto goals = rowsOf(ask(empty_, {"event_type"}));
  EXPECT_EQ(goals.at({"Signup"}).events, 1);

  const auto again = mpctl({"import", "new.example", "--from", "umami-csv", dir.string()});
  EXPECT_THAT(again.out, HasSubstr("already imported"));
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 5);
}

TEST_F(Import, AnUmamiFileWithABadRowImportsNothing) {
  const auto dir = dir_.path() / "umami";
  std::string text = umamiEvents(first_);
  text += "w,sc,vd,e6,new.example,/,,,,,Home,3,," + util::formatDate(first_) + " 21:00:00\n";
  text += "w,sc,vd,e7,new.example,/,,,,,Home,1,,yesterday\n";
  write(dir / "website_event.csv", text);
  const auto r = mpctl({"import", "new.example", "--from", "umami-csv", dir.string()});
  EXPECT_EQ(r.exitCode, 8) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("website_event.csv:7: event_type \"3\" is neither"));
  EXPECT_THAT(r.err, HasSubstr("website_event.csv:8: created_at \"yesterday\" is not a time"));
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM imports"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM import_staged_events"), 0);
}

TEST_F(Import, AnInterruptedEventImportResumesWhereItStopped) {
  const auto dir = dir_.path() / "umami";
  write(dir / "website_event.csv", umamiEvents(first_));
  db::Connection conn(db_.url(), 5s);
  const auto site = website(empty_);
  importing::ImportOptions options;
  options.format = importing::Format::kUmamiCsv;
  options.today = today_;
  options.batchRows = 2;
  // A first run stopped after its first checkpoint (two rows staged and committed): a second
  // run stopped before the staged rows became events; a third finishes.
  {
    importing::InputFiles input(dir.string());
    importing::ImportOptions first = options;
    first.progress = [](std::string_view phase, std::uint64_t, std::uint64_t) {
      if (phase == "checking") throw std::runtime_error("interrupted");
    };
    EXPECT_THROW(importing::runImport(conn, site, input, first), std::runtime_error);
  }
  EXPECT_EQ(count("SELECT staged_lines FROM imports"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM import_staged_events"), 2);
  // The second resumes after it, stages the rest and stops before they become events: staged,
  // not visible.
  {
    importing::InputFiles input(dir.string());
    importing::ImportOptions first = options;
    first.progress = [](std::string_view phase, std::uint64_t, std::uint64_t) {
      if (phase == "importing") throw std::runtime_error("interrupted");
    };
    EXPECT_THROW(importing::runImport(conn, site, input, first), std::runtime_error);
  }
  EXPECT_EQ(count("SELECT staged_lines FROM imports"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM imports WHERE status = 'staging'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM import_staged_events"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 0);
  EXPECT_EQ(ask(empty_).rows.at(0).totals.pageviews, 0);
  // The third finds it and finishes it.
  importing::InputFiles input(dir.string());
  const auto summary = importing::runImport(conn, site, input, options);
  EXPECT_TRUE(summary.resumed);
  EXPECT_EQ(summary.rowsImported, 5);
  EXPECT_EQ(count("SELECT count(*) FROM imports WHERE status = 'complete'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 5);
  EXPECT_EQ(ask(empty_).rows.at(0).totals.pageviews, 4);
}

TEST_F(Import, AnImportThatKeepsNoDayIsNotRecordedAndCanBeRunAgainOnceItsDaysAreFree) {
  // An aggregate import holds the first day; an Umami file of that day and a Plausible file of
  // it keep nothing, and are not recorded.
  const std::string d1 = util::formatDate(first_);
  const auto holder = dir_.path() / "holder";
  write(holder / "imported_visitors.csv",
        "date,visitors,pageviews,bounces,visits,visit_duration\n" + d1 + ",7,9,2,7,300\n");
  ASSERT_EQ(mpctl({"import", "new.example", "--from", "plausible-csv", holder.string()}).exitCode,
            0);
  const auto umami = dir_.path() / "umami";
  write(umami / "website_event.csv", umamiEvents(first_));
  const auto plausible = dir_.path() / "plausible";
  write(plausible / "imported_visitors.csv",
        "date,visitors,pageviews,bounces,visits,visit_duration\n" + d1 + ",3,5,1,3,120\n");
  for (const auto& [format, input] :
       {std::pair{"umami-csv", umami.string()}, std::pair{"plausible-csv", plausible.string()}}) {
    const auto r = mpctl({"import", "new.example", "--from", format, input});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("nothing imported into new.example"));
    EXPECT_THAT(r.out, HasSubstr("the day was imported before"));
    EXPECT_THAT(r.out, Not(HasSubstr("already imported")));
  }
  EXPECT_EQ(count("SELECT count(*) FROM imports"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM import_staged_events"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 0);
  EXPECT_EQ(ask(empty_).rows.at(0).totals.visitors, 7);

  // Once the holder is deleted, the Umami file is imported after all.
  const auto listed = json::parse(mpctl({"import", "list", "new.example", "--format", "json"}).out);
  ASSERT_EQ(listed.size(), 1U);
  ASSERT_EQ(mpctl({"import", "delete", "new.example", listed[0]["id"].get<std::string>()}).exitCode,
            0);
  const auto again = mpctl({"import", "new.example", "--from", "umami-csv", umami.string()});
  ASSERT_EQ(again.exitCode, 0) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("imported new.example from umami-csv"));
  EXPECT_THAT(again.out, HasSubstr("5 imported"));
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 5);

  // A file that kept some of its days is recorded; run again, it says how to judge the skipped
  // ones again.
  const auto partial = dir_.path() / "partial";
  write(partial / "imported_visitors.csv",
        "date,visitors,pageviews,bounces,visits,visit_duration\n" + d1 + ",3,5,1,3,120\n" +
            util::formatDate(first_ - days{1}) + ",2,2,1,2,60\n");
  const auto kept = mpctl({"import", "new.example", "--from", "plausible-csv", partial.string()});
  ASSERT_EQ(kept.exitCode, 0) << kept.out << kept.err;
  EXPECT_THAT(kept.out, HasSubstr("1 imported, 1 skipped"));
  const auto rerun = mpctl({"import", "new.example", "--from", "plausible-csv", partial.string()});
  ASSERT_EQ(rerun.exitCode, 0) << rerun.out << rerun.err;
  EXPECT_THAT(rerun.out, HasSubstr("already imported"));
  EXPECT_THAT(rerun.out, HasSubstr("to judge their days again: mpctl import delete new.example "));
}

TEST_F(Import, WhileAnImportOfTheWebsiteRunsASecondImportOrADeletionIsRefused) {
  const auto zip = exportTracked();
  ASSERT_EQ(mpctl({"import", "new.example", "--from", "plausible-csv", zip}).exitCode, 0);
  const auto id = json::parse(mpctl({"import", "list", "new.example", "--format", "json"}).out)
                      .at(0)["id"]
                      .get<std::string>();
  const auto umami = dir_.path() / "umami";
  write(umami / "website_event.csv", umamiEvents(first_ - days{1}));
  const auto rows = count("SELECT count(*) FROM imported_daily");
  {
    // Another session holds the website's import lock, as a running import does.
    db::Connection running(db_.url(), 5s);
    ASSERT_TRUE(
        running
            .execArgs("SELECT pg_try_advisory_lock($1::bigint)", importing::importLockKey(empty_))
            .getBool(0, 0));
    const auto second = mpctl({"import", "new.example", "--from", "umami-csv", umami.string()});
    EXPECT_EQ(second.exitCode, 7) << second.out << second.err;
    EXPECT_THAT(second.err, HasSubstr("another import into new.example is running"));
    const auto del = mpctl({"import", "delete", "new.example", id});
    EXPECT_EQ(del.exitCode, 7) << del.out << del.err;
    EXPECT_THAT(del.err, HasSubstr("try again once it has finished"));
    EXPECT_EQ(count("SELECT count(*) FROM imports"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM imported_daily"), rows);
    EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 0);
    // Another website's imports go on.
    const auto other = mpctl({"import", "shop.example", "--from", "umami-csv", umami.string()});
    EXPECT_EQ(other.exitCode, 0) << other.out << other.err;
  }
  // Once it is released (the session ended), both go through.
  const auto second = mpctl({"import", "new.example", "--from", "umami-csv", umami.string()});
  EXPECT_EQ(second.exitCode, 0) << second.out << second.err;
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE website_id = '" + empty_ + "'"), 5);
  EXPECT_EQ(mpctl({"import", "delete", "new.example", id}).exitCode, 0);
  EXPECT_EQ(count("SELECT count(*) FROM imported_daily"), 0);
}

TEST_F(Import, GoatCountersExportSkipsBotsAndKeepsEvents) {
  const std::string day = util::formatDate(first_);
  const auto file = dir_.path() / "goatcounter-export.csv";
  write(file,
        "2Path,Title,Event,UserAgent,Browser,System,Session,Bot,Referrer,Referrer scheme,"
        "Screen size,Location,FirstVisit,Date\n"
        "/,Home,false,,Firefox 120,Windows 10,g1,0,news.ycombinator.com/item,h,\"1920,1080,1\","
        "US-TX,true," +
            day +
            "T10:00:00Z\n"
            "/about,About,false,,Firefox 120,Windows 10,g1,0,,,\"1920,1080,1\",US-TX,false," +
            day +
            "T10:05:00Z\n"
            "download-pdf,,true,,Firefox 120,Windows 10,g1,0,,,\"1920,1080,1\",US-TX,false," +
            day +
            "T10:06:00Z\n"
            "/,Home,false,,Safari 17,iOS 17,g2,0,,,\"390,844,3\",NL,true," +
            day +
            "T11:00:00Z\n"
            "/,Home,false,,,,g3,3,,,,,true," +
            day + "T12:00:00Z\n");
  const auto r = mpctl({"import", "new.example", "--from", "goatcounter-csv", file.string()});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 row: a bot request"));
  const auto t = ask(empty_).rows.at(0).totals;
  EXPECT_EQ(t.visitors, 2);
  EXPECT_EQ(t.pageviews, 3);
  EXPECT_EQ(t.events, 4);
  const auto countries = rowsOf(ask(empty_, {"country"}));
  EXPECT_EQ(countries.at({"US"}).visitors, 1);
  EXPECT_EQ(countries.at({"NL"}).visitors, 1);
  const auto sources = rowsOf(ask(empty_, {"source"}));
  EXPECT_EQ(sources.at({"Hacker News"}).visits, 1);
  const auto devices = rowsOf(ask(empty_, {"device"}));
  EXPECT_EQ(devices.at({"mobile"}).visits, 1);
  EXPECT_EQ(rowsOf(ask(empty_, {"event_type"})).at({"download-pdf"}).events, 1);

  // Format 1 is refused with what to do.
  write(dir_.path() / "old.csv", "1Path,Title,Event,Bot,Session\n/,x,false,0,1\n");
  const auto old = mpctl(
      {"import", "new.example", "--from", "goatcounter-csv", (dir_.path() / "old.csv").string()});
  EXPECT_EQ(old.exitCode, 8);
  EXPECT_THAT(old.err, HasSubstr("format 1"));
}

TEST_F(Import, TheStatsApisCountImportedDaysAndSaySo) {
  ASSERT_EQ(mpctl({"import", "new.example", "--from", "plausible-csv", exportTracked()}).exitCode,
            0);
  RedisProcess redis;
  DaemonOptions options(db_.url());
  options.redisUrl = redis.url();
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  const auto owner = bearerFor(daemon.baseUrl(), seed::kOwnerEmail);
  const std::string range =
      "from=" + util::formatDate(first_) + "&to=" + util::formatDate(first_ + days{2});
  const auto get = [&](const std::string& path) {
    const auto r = httpRequest("GET", daemon.baseUrl() + "/stats/" + empty_ + path, "", {owner});
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body);
  };
  const auto overview = get("/overview?" + range);
  EXPECT_EQ(overview["range"]["visitors"], 4);
  EXPECT_EQ(overview["range"]["pageviews"], 6);
  EXPECT_EQ(overview["imported"]["days"], 3);
  EXPECT_EQ(overview["imported"]["included"], true);
  EXPECT_EQ(overview["imported"]["from"], util::formatDate(first_));
  const auto pages = get("/top-pages?" + range);
  EXPECT_EQ(pages["pages"][0]["page"], "/");
  EXPECT_EQ(pages["pages"][0]["views"], 4);
  EXPECT_EQ(pages["imported"]["unavailable"], json({"events", "bounceRate", "visitDuration"}));
  const auto hours = get("/timeseries?interval=hour&" + range);
  EXPECT_EQ(hours["imported"]["included"], false);
  EXPECT_THAT(hours["imported"]["reason"].get<std::string>(), HasSubstr("hours"));

  // Goals count imported days where the aggregates hold them (an event, an exact page), not a
  // page pattern; funnels never, and their visitors leave the imported days out too.
  const auto goalId = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"goal", "add", "new.example"});
    const auto r = mpctl(args);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    const auto at = r.out.find("added goal ");
    return at == std::string::npos ? std::string() : r.out.substr(at + 11, 36);
  };
  const auto signup = goalId({"--event", "Signup"});
  const auto pricing = goalId({"--page", "/pricing"});
  goalId({"--page", "/blog*"});
  const auto goals = get("/goals?" + range);
  std::map<std::string, json> byName;
  for (const auto& g : goals["goals"]) byName[g["name"].get<std::string>()] = g;
  EXPECT_EQ(byName["Signup"]["visitors"], 1) << goals.dump();
  EXPECT_EQ(byName["Signup"]["events"], 1);
  EXPECT_EQ(byName["/pricing"]["visitors"], 1) << goals.dump();
  EXPECT_EQ(goals["imported"]["goalsWithout"], json({"/blog*"})) << goals.dump();
  const auto funnel =
      mpctl({"funnel", "add", "new.example", "--name", "Buy", "--step", pricing, "--step", signup});
  ASSERT_EQ(funnel.exitCode, 0) << funnel.err;
  const auto funnelId = funnel.out.substr(funnel.out.find("added funnel ") + 13, 36);
  const auto report = get("/funnels/" + funnelId + "?" + range);
  EXPECT_EQ(report["visitors"], 0) << report.dump();
  EXPECT_EQ(report["imported"]["included"], false);

  // API v2 (mpctl stats query asks the same function): only with include.imports, as Plausible.
  const auto v2 = [&](bool imports) {
    const json body = {
        {"site_id", "new.example"},
        {"metrics", {"visitors", "pageviews"}},
        {"date_range", {util::formatDate(first_), util::formatDate(first_ + days{2})}},
        {"include", {{"imports", imports}}}};
    const auto r = runProcess({mpctlPath(), "-c", "/dev/null", "stats", "query", "-"}, body.dump(),
                              {{"MP_DATABASE_URL", db_.url()}, {"MP_REDIS_URL", redisUrl()}});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return json::parse(r.out);
  };
  const auto with = v2(true);
  EXPECT_EQ(with["results"][0]["metrics"], json({4, 6}));
  EXPECT_EQ(with["meta"]["imports_included"], true);
  const auto without = v2(false);
  EXPECT_EQ(without["results"][0]["metrics"], json({0, 0}));
}

}  // namespace
}  // namespace mp::test
