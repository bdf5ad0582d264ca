// Retention against real PostgreSQL: whole old partitions dropped, older rows deleted from the
// partition covering the cutoff and from the default partition, newer rows and rollups kept
// exactly, a dry run that changes nothing and reports the same figures, locks, and mpctl.
#include "maintenance/retention.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "goals/goals.hpp"
#include "support/env.hpp"
#include "support/pty.hpp"
#include "support/seed.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::maintenance {
namespace {

namespace seed = test::seed;
using namespace std::chrono_literals;

using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::seconds(10);
constexpr sys_days kFirstDay{std::chrono::year{2023} / 12 / 20};
constexpr sys_days kLastDay{std::chrono::year{2024} / 4 / 10};
// No event falls on these two days and they are never folded, so a cutoff on either of them
// prunes exactly the same rows (mpctl computes its cutoff from the clock, which may pass
// midnight during a test).
constexpr sys_days kGapFirst{std::chrono::year{2024} / 3 / 15};
constexpr sys_days kGapLast{std::chrono::year{2024} / 3 / 16};
constexpr sys_days kCutoff = kGapLast;
const char* const kRollupTables[] = {"visits",         "event_summary",   "breakdown_daily",
                                     "funnel_daily",   "goal_daily",      "page_breakdown_daily",
                                     "hourly_summary", "aggregation_runs"};

// The day column of a rollup table: hours for hourly_summary.
std::string dayColumn(const std::string& table) {
  if (table == "hourly_summary") return "hour";
  return "date";
}

using Step = std::tuple<PruneStep::Kind, std::string, std::int64_t>;

std::vector<Step> stepsOf(const PruneReport& report) {
  std::vector<Step> steps;
  for (const auto& s : report.steps) steps.emplace_back(s.kind, s.table, s.rows);
  return steps;
}

std::string day(sys_days d) {
  return util::formatDate(d);
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    sites_ = seed::websites(conn_, seed::owner(conn_), {{"A", "a.example"}, {"B", "b.example"}});
    // January to April 2024 get partitions; December 2023 and May 2024 stay in the default one.
    for (const char* month : {"2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"}) {
      conn_.execArgs("SELECT mp_ensure_event_partition($1::date)", month);
    }
    insertEvents();
    // A funnel, so the fold writes funnel rows too.
    const auto first = goals::addGoal(conn_, sites_[0], {.pagePath = "/p1"});
    const auto second = goals::addGoal(conn_, sites_[0], {.eventName = "click"});
    goals::addFunnel(conn_, sites_[0], "p1 then click", {first.id, second.id});
    // Folded around the gap, as a daily schedule would have left it.
    aggregation::foldRange(conn_, kFirstDay, kGapFirst - days{1});
    aggregation::foldRange(conn_, kGapLast + days{1}, kLastDay);
    // The prune must not depend on the session's time zone (+13:00 moves days and months).
    conn_.exec("SET TimeZone = 'Pacific/Auckland'");
  }

  void insertEvents() {
    conn_.exec("SET TimeZone = 'UTC'");
    // Every day but the gap: 6 to 11 events per site and day spread over the day, with custom
    // events, NULL pages and day-scoped visitor ids.
    conn_.execArgs(
        "INSERT INTO events (website_id, ts, event_type, page, session_id, visitor_id, browser,"
        " country)"
        " SELECT w, d + make_interval(mins => i * 131 % 1440),"
        " CASE WHEN i % 5 = 0 THEN 'click' ELSE 'pageview' END,"
        " CASE WHEN i % 6 = 0 THEN NULL ELSE '/p' || (i % 4) END, 's' || (i % 3),"
        " (extract(epoch FROM d)::bigint / 86400) * 100 + i % 4,"
        " CASE WHEN i % 2 = 0 THEN 'Firefox' END, 'DE'"
        " FROM unnest($1::uuid[]) AS w,"
        " generate_series($2::timestamptz, $3::timestamptz, interval '1 day') AS d,"
        " generate_series(1, 6 + (extract(day FROM d)::int % 6)) AS i"
        " WHERE d::date NOT BETWEEN $4::date AND $5::date",
        "{" + sites_[0] + "," + sites_[1] + "}", day(kFirstDay) + " 00:00Z",
        day(kLastDay) + " 00:00Z", day(kGapFirst), day(kGapLast));
    // The edges of the gap, the edges of the dropped months, and newer rows in the default
    // partition (May 2024 has no partition).
    for (const char* ts :
         {"2024-03-14 23:59:59.999Z", "2024-03-17 00:00:00Z", "2024-01-31 23:59:59.999Z",
          "2024-03-01 00:00:00Z", "2023-12-31 23:59:59.999Z", "2024-05-02 10:00:00Z"}) {
      conn_.execArgs("INSERT INTO events (website_id, ts, page) VALUES ($1, $2, '/edge')",
                     sites_[0], ts);
    }
  }

  std::int64_t count(const std::string& sql) { return conn_.exec(sql).getInt(0, 0); }
  bool tableExists(const std::string& name) {
    return conn_.execArgs("SELECT to_regclass($1) IS NOT NULL", name).getBool(0, 0);
  }

  // Everything a prune must leave alone, as one text: rows at or after the cutoff (all columns).
  std::string kept() {
    std::string all(
        conn_
            .execArgs("SELECT coalesce(md5(string_agg(e::text, '|' ORDER BY website_id, "
                      "ts, id)), '') || ':' || count(*) FROM events e"
                      " WHERE ts >= ($1::date)::timestamp AT TIME ZONE 'UTC'",
                      day(kCutoff))
            .get(0, 0));
    for (const char* table : kRollupTables) {
      const std::string column = dayColumn(table);
      const std::string bound =
          column == "hour" ? "($1::date)::timestamp AT TIME ZONE 'UTC'" : "$1::date";
      all += " ";
      all += conn_
                 .execArgs(fmt::format("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY "
                                       "t::text)), '') || ':' || count(*) FROM {} t"
                                       " WHERE {} >= {}",
                                       table, column, bound),
                           day(kCutoff))
                 .get(0, 0);
    }
    return all;
  }

  // Everything, old and new: a dry run must not change it.
  std::string everything() {
    std::string all(
        conn_.exec("SELECT md5(string_agg(e::text, '|' ORDER BY website_id, ts, id)) FROM events e")
            .get(0, 0));
    for (const char* table : kRollupTables) {
      all += " ";
      all += conn_
                 .exec(fmt::format(
                     "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t", table))
                 .get(0, 0);
    }
    all += " " + std::string(conn_
                                 .exec("SELECT string_agg(c.relname, ',' ORDER BY c.relname)"
                                       " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                       " WHERE i.inhparent = 'events'::regclass")
                                 .get(0, 0));
    return all;
  }

  // The steps a prune at kCutoff must report, from direct counts: rollups first, then the
  // dropped months, then the partition covering the cutoff and the default partition.
  std::vector<Step> expectedSteps() {
    std::vector<Step> steps;
    for (const char* table : kRollupTables) {
      const std::string column = dayColumn(table);
      const std::string where =
          column == "hour" ? "hour < '2024-03-16 00:00Z'" : column + " < '2024-03-16'";
      const auto n = count(fmt::format("SELECT count(*) FROM {} WHERE {}", table, where));
      EXPECT_GT(n, 0) << table;
      steps.emplace_back(PruneStep::Kind::kDeleteRollups, table, n);
    }
    for (const char* month : {"events_y2024m01", "events_y2024m02"}) {
      steps.emplace_back(PruneStep::Kind::kDropPartition, month,
                         count(std::string("SELECT count(*) FROM ") + month));
    }
    steps.emplace_back(
        PruneStep::Kind::kDeleteEvents, "events_y2024m03",
        count("SELECT count(*) FROM events_y2024m03 WHERE ts < '2024-03-16 00:00Z'"));
    steps.emplace_back(PruneStep::Kind::kDeleteEvents, "events_default",
                       count("SELECT count(*) FROM events_default WHERE ts < '2024-03-16 00:00Z'"));
    return steps;
  }

  test::TempDatabase db_;
  db::Connection conn_{db_.url(), kTimeout};
  std::vector<std::string> sites_;
};

TEST_F(RetentionTest, CutoffIsTheStartOfTheUtcDayNDaysAgo) {
  const sys_days today{std::chrono::year{2024} / 4 / 14};
  EXPECT_EQ(retentionCutoff(30, today), sys_days{std::chrono::year{2024} / 3 / 15});
  EXPECT_EQ(retentionCutoff(1, today), today - days{1});
  EXPECT_THROW(retentionCutoff(0, today), InvalidInput);
  EXPECT_THROW(retentionCutoff(-3, today), InvalidInput);
}

TEST_F(RetentionTest, DropsOldMonthsDeletesOlderRowsAndKeepsNewerOnesExactly) {
  const auto expected = expectedSteps();
  const auto keptBefore = kept();
  const auto oldRowsBefore = count("SELECT count(*) FROM events WHERE ts < '2024-03-16 00:00Z'");
  ASSERT_GT(oldRowsBefore, 0);

  const auto report = pruneEvents(conn_, kCutoff, false);

  EXPECT_FALSE(report.skipped);
  EXPECT_FALSE(report.dryRun);
  EXPECT_EQ(report.cutoff, kCutoff);
  EXPECT_EQ(stepsOf(report), expected);
  EXPECT_EQ(report.partitionsDropped(), 2);
  EXPECT_EQ(report.eventsRemoved(), oldRowsBefore);

  EXPECT_FALSE(tableExists("events_y2024m01"));
  EXPECT_FALSE(tableExists("events_y2024m02"));
  EXPECT_TRUE(tableExists("events_y2024m03"));
  EXPECT_TRUE(tableExists("events_y2024m04"));
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE ts < '2024-03-16 00:00Z'"), 0);
  for (const char* table : {"visits", "event_summary", "breakdown_daily", "aggregation_runs"}) {
    EXPECT_EQ(count(fmt::format("SELECT count(*) FROM {} WHERE date < '2024-03-16'", table)), 0)
        << table;
  }
  EXPECT_EQ(count("SELECT count(*) FROM hourly_summary WHERE hour < '2024-03-16 00:00Z'"), 0);
  // Every row from the cutoff on, raw or rolled up, is exactly as it was.
  EXPECT_EQ(kept(), keptBefore);
  // The first event after the gap and the newer rows of the default partition are still there.
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE ts = '2024-03-17 00:00Z'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM events_default WHERE ts = '2024-05-02 10:00Z'"), 1);
  // Stats read the first folded day from aggregation_runs: it is now the first kept day.
  const auto span = aggregation::foldedSpan(conn_, sites_[0]);
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->from, kGapLast + days{1});

  // Nothing is left to do.
  EXPECT_TRUE(pruneEvents(conn_, kCutoff, false).steps.empty());
  EXPECT_EQ(kept(), keptBefore);
}

TEST_F(RetentionTest, DryRunChangesNothingAndReportsTheSameFigures) {
  const auto before = everything();
  const auto expected = expectedSteps();

  const auto dry = pruneEvents(conn_, kCutoff, true);
  EXPECT_TRUE(dry.dryRun);
  EXPECT_FALSE(dry.skipped);
  EXPECT_EQ(stepsOf(dry), expected);
  EXPECT_EQ(everything(), before);
  EXPECT_TRUE(tableExists("events_y2024m01"));

  const auto real = pruneEvents(conn_, kCutoff, false);
  EXPECT_EQ(stepsOf(real), stepsOf(dry));
}

TEST_F(RetentionTest, CutoffOnAMonthBoundaryDropsThatMonthToo) {
  const sys_days april{std::chrono::year{2024} / 4 / 1};
  const auto march = count("SELECT count(*) FROM events_y2024m03");
  const auto april10 = count("SELECT count(*) FROM events_y2024m04");
  const auto report = pruneEvents(conn_, april, false);
  std::vector<std::string> dropped;
  for (const auto& s : report.steps) {
    if (s.kind == PruneStep::Kind::kDropPartition) dropped.push_back(s.table);
    // Nothing of April is touched: its partition starts at the cutoff.
    EXPECT_NE(s.table, "events_y2024m04");
  }
  EXPECT_EQ(dropped,
            (std::vector<std::string>{"events_y2024m01", "events_y2024m02", "events_y2024m03"}));
  for (const auto& s : report.steps) {
    if (s.table == "events_y2024m03") {
      EXPECT_EQ(s.rows, march);
    }
  }
  EXPECT_EQ(count("SELECT count(*) FROM events_y2024m04"), april10);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE ts < '2024-04-01 00:00Z'"), 0);
}

TEST_F(RetentionTest, SkipsWhileAnotherRunHoldsALockAndWaitsOtherwise) {
  const auto before = everything();
  db::Connection other(db_.url(), kTimeout);
  for (const std::int64_t key : {kRetentionLockKey, aggregation::kFoldLockKey}) {
    other.execArgs("SELECT pg_advisory_lock($1::bigint)", key);
    const auto report = pruneEvents(conn_, kCutoff, false, LockWait::kSkip);
    EXPECT_TRUE(report.skipped) << key;
    EXPECT_TRUE(report.steps.empty());
    EXPECT_EQ(everything(), before);
    // A dry run takes no lock.
    EXPECT_FALSE(pruneEvents(conn_, kCutoff, true, LockWait::kSkip).skipped);
    other.execArgs("SELECT pg_advisory_unlock($1::bigint)", key);
  }
  // The locks are free again once a run ends, whichever way it ended.
  const auto report = pruneEvents(conn_, kCutoff, false, LockWait::kSkip);
  EXPECT_FALSE(report.skipped);
  EXPECT_EQ(report.partitionsDropped(), 2);
  for (const std::int64_t key : {kRetentionLockKey, aggregation::kFoldLockKey}) {
    EXPECT_TRUE(other.execArgs("SELECT pg_try_advisory_lock($1::bigint)", key).getBool(0, 0));
  }
}

TEST_F(RetentionTest, ADropThatCannotLockEventsFailsAndARepeatFinishes) {
  // A long reader of events: the drop must give up after its lock timeout, not wait for it.
  db::Connection reader(db_.url(), kTimeout);
  reader.exec("BEGIN");
  reader.exec("SELECT count(*) FROM events");
  try {
    pruneEvents(conn_, kCutoff, false);
    FAIL() << "prune did not give up";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "55P03");
    EXPECT_THAT(e.what(), HasSubstr("events_y2024m01 not dropped"));
  }
  reader.exec("ROLLBACK");
  // The rollups of the pruned days went first, so no answer counted rows that are gone; the rest
  // is done by the next run.
  EXPECT_EQ(count("SELECT count(*) FROM event_summary WHERE date < '2024-03-16'"), 0);
  const auto report = pruneEvents(conn_, kCutoff, false);
  EXPECT_EQ(report.partitionsDropped(), 2);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE ts < '2024-03-16 00:00Z'"), 0);
}

// mpctl retention prune ------------------------------------------------------------------------

class MpctlRetentionTest : public RetentionTest {
 protected:
  // Days before today that put the cutoff on the gap (see kGapFirst).
  static int olderThan() { return static_cast<int>((util::todayUtc() - kCutoff).count()); }

  test::ProcessResult mpctl(std::vector<std::string> args, const std::string& toml = "") {
    const auto config = dir_.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n\n" + toml);
    std::vector<std::string> argv = {test::mpctlPath(), "-c", config.string(), "retention",
                                     "prune"};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::runProcess(argv);
  }

  static std::vector<std::vector<std::string>> csvRows(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::istringstream cellsIn(line);
      std::string cell;
      while (std::getline(cellsIn, cell, ',')) cells.push_back(cell);
      rows.push_back(cells);
    }
    return rows;
  }

  test::TempDir dir_;
};

const std::map<PruneStep::Kind, std::string> kActions = {
    {PruneStep::Kind::kDeleteRollups, "delete"},
    {PruneStep::Kind::kDropPartition, "drop"},
    {PruneStep::Kind::kDeleteEvents, "delete"}};

TEST_F(MpctlRetentionTest, WithoutARetentionItIsAUsageError) {
  const auto before = everything();
  auto r = mpctl({});
  EXPECT_EQ(r.exitCode, exit_code::kUsage) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("--older-than"));
  EXPECT_THAT(r.err, HasSubstr("retention.days"));
  r = mpctl({}, "[retention]\ndays = 0\n");
  EXPECT_EQ(r.exitCode, exit_code::kUsage);
  r = mpctl({"--older-than", "0"});
  EXPECT_EQ(r.exitCode, exit_code::kUsage);
  r = mpctl({"--older-than", "ten"});
  EXPECT_EQ(r.exitCode, exit_code::kUsage);
  EXPECT_EQ(everything(), before);
}

TEST_F(MpctlRetentionTest, DryRunAsJsonListsTheStepsAndChangesNothing) {
  const auto before = everything();
  const auto expected = expectedSteps();
  auto r = mpctl({"--older-than", std::to_string(olderThan()), "--dry-run", "--format", "json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), expected.size()) << r.out;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(json[i]["table"], std::get<1>(expected[i]));
    EXPECT_EQ(json[i]["action"], kActions.at(std::get<0>(expected[i])));
    EXPECT_EQ(json[i]["rows"], std::get<2>(expected[i]));
  }
  EXPECT_EQ(everything(), before);
}

TEST_F(MpctlRetentionTest, PrunesWithRetentionDaysFromTheConfiguration) {
  const auto expected = expectedSteps();
  const auto keptBefore = kept();
  auto r =
      mpctl({"--format", "csv", "--yes"}, fmt::format("[retention]\ndays = {}\n", olderThan()));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto rows = csvRows(r.out);
  ASSERT_EQ(rows.size(), expected.size() + 1) << r.out;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"table", "action", "rows"}));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(rows[i + 1], (std::vector<std::string>{std::get<1>(expected[i]),
                                                     kActions.at(std::get<0>(expected[i])),
                                                     std::to_string(std::get<2>(expected[i]))}));
  }
  EXPECT_FALSE(tableExists("events_y2024m02"));
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE ts < '2024-03-16 00:00Z'"), 0);
  EXPECT_EQ(kept(), keptBefore);

  // --older-than wins over the file; a table run with nothing left to do says so.
  r = mpctl({"--older-than", std::to_string(olderThan()), "-y"}, "[retention]\ndays = 36500\n");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 partitions dropped, 0 events and 0 rollup rows deleted"));
  EXPECT_EQ(kept(), keptBefore);
}

TEST_F(MpctlRetentionTest, TableOutputSummarisesTheRun) {
  const auto expected = expectedSteps();
  std::int64_t events = 0;
  for (const auto& s : expected) {
    if (std::get<0>(s) != PruneStep::Kind::kDeleteRollups) events += std::get<2>(s);
  }
  auto r = mpctl({"--older-than", std::to_string(olderThan()), "--dry-run"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("TABLE"));
  EXPECT_THAT(r.out, HasSubstr("events_y2024m01"));
  EXPECT_THAT(r.out, HasSubstr(fmt::format("dry run, nothing changed: pruning events before")));
  EXPECT_THAT(r.out,
              HasSubstr(fmt::format("would drop 2 partitions and delete {} events", events)));
  EXPECT_TRUE(tableExists("events_y2024m01"));

  r = mpctl({"--older-than", std::to_string(olderThan()), "--yes"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(fmt::format("2 partitions dropped, {} events and", events)));
  EXPECT_FALSE(tableExists("events_y2024m01"));
}

TEST_F(MpctlRetentionTest, WithoutYesAScriptIsRefusedAndNothingChanges) {
  const auto before = everything();
  auto r = mpctl({"--older-than", std::to_string(olderThan())});
  EXPECT_EQ(r.exitCode, exit_code::kUsage) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("--yes"));
  EXPECT_EQ(everything(), before);
}

TEST_F(MpctlRetentionTest, OnATerminalItShowsWhatGoesAndAsks) {
  const auto before = everything();
  const auto keptBefore = kept();
  const auto config = dir_.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n");
  const std::vector<std::string> argv = {
      test::mpctlPath(),          "-c", config.string(), "retention", "prune", "--older-than",
      std::to_string(olderThan())};
  {
    test::PtyProcess no(argv);
    ASSERT_TRUE(no.waitFor("[y/N]", 20s)) << no.output();
    EXPECT_THAT(no.output(), HasSubstr("drop 2 partitions"));
    no.write("n\n");
    EXPECT_EQ(no.wait(20s), exit_code::kFailure) << no.output();
    EXPECT_THAT(no.output(), HasSubstr("nothing pruned"));
  }
  EXPECT_EQ(everything(), before);
  test::PtyProcess yes(argv);
  ASSERT_TRUE(yes.waitFor("[y/N]", 20s)) << yes.output();
  yes.write("y\n");
  EXPECT_EQ(yes.wait(20s), 0) << yes.output();
  EXPECT_THAT(yes.output(), HasSubstr("2 partitions dropped"));
  EXPECT_FALSE(tableExists("events_y2024m01"));
  EXPECT_EQ(kept(), keptBefore);
}

TEST(MpctlRetentionErrors, UnmigratedDatabaseIsASchemaErrorAndNoDatabaseIsUnavailable) {
  test::TempDatabase db;
  test::TempDir dir;
  auto config = dir.write("mp.toml", "[database]\nurl = \"" + db.url() + "\"\n");
  auto r = test::runProcess({test::mpctlPath(), "-c", config.string(), "retention", "prune",
                             "--older-than", "30", "--yes"});
  EXPECT_EQ(r.exitCode, exit_code::kSchema) << r.err;
  EXPECT_THAT(r.err, HasSubstr("mpctl db migrate"));

  config = dir.write("down.toml", fmt::format("[database]\nurl = \"postgresql://postgres@"
                                              "127.0.0.1:{}/postgres\"\nconnect_timeout = \"2s\"\n",
                                              test::freePort()));
  r = test::runProcess({test::mpctlPath(), "-c", config.string(), "retention", "prune",
                        "--older-than", "30", "--yes"});
  EXPECT_EQ(r.exitCode, exit_code::kUnavailable) << r.err;
}

}  // namespace
}  // namespace mp::maintenance
