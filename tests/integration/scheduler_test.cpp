// The daemon's background jobs: the scheduler in-process (repeated folds, failures retried, a
// prompt stop that cancels a job in progress, a fold lock held elsewhere) and metricpulsed as a
// process (folds without a manual run, partitions ahead keep waiting rows, salts and events
// pruned, aggregation.enabled = false folds nothing).
#include "scheduler.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "events/salts.hpp"
#include "maintenance/jobs.hpp"
#include "metrics.hpp"
#include "stats/engine.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "util/time.hpp"

namespace mp::daemon {
namespace {

namespace seed = test::seed;
using namespace std::chrono_literals;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// The key mp_ensure_event_partition() (0001_initial.sql) serialises on.
constexpr std::int64_t kPartitionLockKey = 5571040980541655380;

// Polls `done` until it holds; the deadline only bounds a test that would otherwise hang, it is
// never what a test checks.
bool eventually(const std::function<bool()>& done, std::chrono::seconds deadline = 90s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// The value of one sample line ("name{labels} value") of a Prometheus text, -1 when absent.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string runs(const std::string& job, const std::string& result) {
  return fmt::format("mp_job_runs_total{{job=\"{}\",result=\"{}\"}}", job, result);
}

std::string dayText(std::chrono::sys_days day) {
  return util::formatDate(day);
}

// A migrated database with one website.
class SchedulerBase : public ::testing::Test {
 protected:
  void SetUp() override {
    db::Migrator(conn_).migrate();
    site_ = seed::website(conn_, seed::owner(conn_), "Example", "example.com");
  }

  std::int64_t count(const std::string& sql) { return conn_.exec(sql).getInt(0, 0); }
  // Events of the website stamped now, a second apart going back.
  void insertEventsNow(int n) {
    conn_.execArgs(
        "INSERT INTO events (website_id, ts, page, visitor_id, session_id)"
        " SELECT $1, now() - i * interval '1 second', '/p' || (i % 3), i % 5, 's' || (i % 4)"
        " FROM generate_series(1, $2) AS i",
        site_, n);
  }
  std::int64_t foldedEvents() {
    return conn_
        .execArgs(
            "SELECT coalesce(sum(events), 0)::bigint FROM aggregation_runs"
            " WHERE website_id = $1",
            site_)
        .getInt(0, 0);
  }

  test::TempDatabase db_;
  db::Connection conn_{db_.url(), 10s};
  std::string site_;
};

// The scheduler in-process ------------------------------------------------------------------

class SchedulerTest : public SchedulerBase {
 protected:
  void SetUp() override {
    SchedulerBase::SetUp();
    pool_ = std::make_unique<db::Pool>(db_.url(), 4, 10s);
    salts_ = std::make_unique<events::SaltStore>(*pool_);
  }

  static ScheduleOptions fast() {
    ScheduleOptions o;
    o.aggregationInterval = 200ms;
    o.firstRunDelay = 0ms;
    o.retryDelay = 100ms;
    return o;
  }
  std::unique_ptr<Scheduler> make(ScheduleOptions options) {
    return std::make_unique<Scheduler>(*pool_, db_.url(), *salts_, metrics_, options);
  }
  std::string metricsText() const {
    std::string out;
    metrics_.render(out);
    return out;
  }

  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<events::SaltStore> salts_;
  JobMetrics metrics_;
};

TEST_F(SchedulerTest, FoldsAgainOnEveryInterval) {
  insertEventsNow(40);
  auto scheduler = make(fast());
  scheduler->start();
  ASSERT_TRUE(eventually([&] { return foldedEvents() == 40; })) << foldedEvents();
  // Events arriving later are picked up by a later run, without anyone asking.
  insertEventsNow(25);
  ASSERT_TRUE(eventually([&] { return foldedEvents() == 65; })) << foldedEvents();
  scheduler->stop();

  EXPECT_EQ(count("SELECT coalesce(sum(page_views), 0) FROM event_summary"), 65);
  const auto text = metricsText();
  EXPECT_GE(sample(text, runs("aggregation", "ok")), 2) << text;
  EXPECT_EQ(sample(text, runs("aggregation", "failed")), 0) << text;
  EXPECT_GE(sample(text, "mp_job_duration_seconds_count{job=\"aggregation\"}"), 2);
  EXPECT_GT(sample(text, "mp_job_last_success_timestamp_seconds{job=\"aggregation\"}"), 0);
  EXPECT_GE(sample(text, runs("partitions", "ok")), 1) << text;
  EXPECT_GE(sample(text, runs("salts", "ok")), 1) << text;
  // retention.days = 0: no such job.
  EXPECT_EQ(sample(text, runs("retention", "ok")), -1) << text;
}

// The visits job runs every refreshInterval, and sooner when a question asks (refreshSoon(),
// through the engine's backlog hook): then at once, for the website asked about only, and not
// again within refreshGap.
TEST_F(SchedulerTest, AQuestionBehindTheStoredVisitsBringsTheirRefreshForward) {
  const std::string other =
      seed::website(conn_, seed::owner(conn_, "other@example.com"), "Other", "other.example.com");
  const auto insertOther = [&](int n) {
    conn_.execArgs(
        "INSERT INTO events (website_id, ts, page, visitor_id, session_id)"
        " SELECT $1, now() - i * interval '1 second', '/o', i, 'o' || i"
        " FROM generate_series(1, $2) AS i",
        other, n);
  };
  insertEventsNow(20);
  insertOther(3);
  auto options = fast();
  options.aggregationInterval = 1h;
  options.refreshInterval = 1h;
  options.refreshGap = 1500ms;
  auto scheduler = make(options);
  scheduler->start();
  ASSERT_TRUE(eventually([&] { return foldedEvents() == 20; })) << foldedEvents();
  const auto seen = [&](const std::string& site) {
    return std::string(
        conn_
            .execArgs("SELECT string_agg(seen::text, ',' ORDER BY date) FROM aggregation_runs"
                      " WHERE website_id = $1",
                      site)
            .get(0, 0));
  };
  ASSERT_TRUE(eventually([&] { return !seen(other).empty(); })) << "both websites folded";
  const double before = sample(metricsText(), runs("visits", "ok"));
  EXPECT_EQ(before, 0) << "no visits run yet: the first is an hour away";
  const std::string folded = seen(site_);
  const std::string otherFolded = seen(other);
  insertEventsNow(5);
  insertOther(2);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(seen(site_), folded) << "the next refresh is an hour away";
  EXPECT_EQ(sample(metricsText(), runs("visits", "ok")), before);

  // What the engine calls when a question finds the stored visits far behind.
  const auto hook = scheduler->refreshHook();
  const auto asked = std::chrono::steady_clock::now();
  hook(site_, stats::kLiveBacklogEvents);
  ASSERT_TRUE(
      eventually([&] { return sample(metricsText(), runs("visits", "ok")) == before + 1; }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s) << "at once, not in an hour";
  EXPECT_NE(seen(site_), folded) << "the refresh recorded its snapshot";
  EXPECT_EQ(seen(other), otherFolded) << "the website no question asked about waits its turn";

  // Asked again at once: one more run, refreshGap after the first.
  hook(site_, stats::kLiveBacklogEvents);
  hook(site_, stats::kLiveBacklogEvents);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(sample(metricsText(), runs("visits", "ok")), before + 1) << "not within refreshGap";
  ASSERT_TRUE(
      eventually([&] { return sample(metricsText(), runs("visits", "ok")) == before + 2; }, 10s));
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(sample(metricsText(), runs("visits", "ok")), before + 2) << "two requests, one run";
  scheduler->stop();
  // The hook outlives the scheduler harmlessly.
  scheduler.reset();
  hook(site_, stats::kLiveBacklogEvents);
}

TEST_F(SchedulerTest, SkipsWhileAnotherRunHoldsTheFoldLock) {
  insertEventsNow(10);
  db::Connection other(db_.url(), 10s);
  other.execArgs("SELECT pg_advisory_lock($1::bigint)", aggregation::kFoldLockKey);
  auto scheduler = make(fast());
  scheduler->start();
  ASSERT_TRUE(
      eventually([&] { return sample(metricsText(), runs("aggregation", "skipped")) >= 2; }));
  EXPECT_EQ(foldedEvents(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM aggregation_runs"), 0);
  // Once the other run is over, the schedule folds again.
  other.execArgs("SELECT pg_advisory_unlock($1::bigint)", aggregation::kFoldLockKey);
  ASSERT_TRUE(eventually([&] { return foldedEvents() == 10; }));
  scheduler->stop();
}

TEST_F(SchedulerTest, FailuresAreCountedAndRetriedWithoutStoppingTheThread) {
  // Nothing listens there: every job fails, again and again.
  const std::string down =
      fmt::format("postgresql://postgres@127.0.0.1:{}/postgres", test::freePort());
  db::Pool pool(down, 2, 2s);
  events::SaltStore salts(pool);
  auto options = fast();
  options.retentionDays = 30;
  Scheduler scheduler(pool, down, salts, metrics_, options);
  scheduler.start();
  ASSERT_TRUE(eventually([&] {
    const auto text = metricsText();
    return sample(text, runs("aggregation", "failed")) >= 3 &&
           sample(text, runs("partitions", "failed")) >= 2 &&
           sample(text, runs("retention", "failed")) >= 2 &&
           sample(text, runs("salts", "failed")) >= 2;
  })) << metricsText();
  scheduler.stop();
  const auto text = metricsText();
  EXPECT_EQ(sample(text, runs("aggregation", "ok")), 0);
  EXPECT_EQ(sample(text, "mp_job_last_success_timestamp_seconds{job=\"aggregation\"}"), 0);
}

TEST_F(SchedulerTest, StopCancelsAJobThatIsWaitingInsteadOfWaitingForIt) {
  // The partitions job runs at once and waits for the lock every partition creation takes.
  db::Connection blocker(db_.url(), 10s);
  blocker.exec("BEGIN");
  blocker.execArgs("SELECT pg_advisory_xact_lock($1::bigint)", kPartitionLockKey);
  auto options = fast();
  options.aggregation = false;
  auto scheduler = make(options);
  scheduler->start();
  ASSERT_TRUE(eventually([&] {
    return count(
               "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
               " AND database = (SELECT oid FROM pg_database"
               " WHERE datname = current_database())") == 1;
  }));

  auto stopped = std::async(std::launch::async, [&] { scheduler->stop(); });
  const bool promptly = stopped.wait_for(60s) == std::future_status::ready;
  blocker.exec("ROLLBACK");  // lets a stop that did not cancel finish, so the test ends
  stopped.wait();
  EXPECT_TRUE(promptly) << "stop() waited for the job instead of cancelling it";
  EXPECT_EQ(sample(metricsText(), runs("partitions", "failed")), 1) << metricsText();
  EXPECT_EQ(sample(metricsText(), runs("partitions", "ok")), 0);
  // The cancelled statement left no session waiting behind.
  EXPECT_EQ(count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                  " AND database = (SELECT oid FROM pg_database"
                  " WHERE datname = current_database())"),
            0);
}

TEST_F(SchedulerTest, ARowWaitingInTheDefaultPartitionMovesIntoItsNewMonth) {
  // Three months ahead has no partition yet (the migration makes two): rows of that month wait
  // in the default partition, here while other rows keep arriving for it.
  const std::string month = std::string(
      conn_
          .exec("SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval "
                "'3 months', 'YYYY-MM-DD')")
          .get(0, 0));
  const std::string partition = "events_y" + month.substr(0, 4) + "m" + month.substr(5, 2);
  const std::string insert =
      "INSERT INTO events (website_id, ts, page) SELECT $1, ($2::date)::timestamp AT TIME ZONE "
      "'UTC' + i * interval '1 minute', '/ahead' FROM generate_series(1, $3) AS i";
  conn_.execArgs(insert, site_, month, 50);
  ASSERT_EQ(count("SELECT count(*) FROM events_default"), 50);

  std::atomic<bool> done{false};
  std::atomic<int> inserted{0};
  std::string failure;
  std::thread writer([&] {
    db::Connection c(db_.url(), 10s);
    while (!done && failure.empty()) {
      try {
        c.execArgs(insert, site_, month, 5);
        inserted += 5;
      } catch (const std::exception& e) {
        failure = e.what();
      }
    }
  });
  // Some rows arrive before the partition is created.
  while (inserted < 20 && failure.empty()) std::this_thread::sleep_for(1ms);
  const auto states = maintenance::ensurePartitions(conn_, 3);
  done = true;
  writer.join();

  // No insert failed for the partition appearing under it.
  EXPECT_EQ(failure, "");
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[3].name, partition);
  EXPECT_TRUE(states[3].created);
  EXPECT_FALSE(states[0].created);
  // Not one row lost or left behind: all of them are in the month's own partition.
  EXPECT_EQ(count("SELECT count(*) FROM events"), 50 + inserted.load());
  EXPECT_EQ(count("SELECT count(*) FROM " + partition), 50 + inserted.load());
  EXPECT_EQ(count("SELECT count(*) FROM events_default"), 0);
  EXPECT_THROW(maintenance::ensurePartitions(conn_, 121), InvalidInput);
}

// mpctl aggregate run --recent (the timer's run) ---------------------------------------------

class MpctlAggregateRecentTest : public SchedulerBase {
 protected:
  test::ProcessResult mpctl(const std::vector<std::string>& args) {
    const auto config = dir_.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n");
    std::vector<std::string> argv = {test::mpctlPath(), "-c", config.string(), "aggregate", "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::runProcess(argv);
  }
  std::int64_t waitingAdvisoryLocks() {
    return count(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
  }

  test::TempDir dir_;
};

TEST_F(MpctlAggregateRecentTest, FoldsTheDaysThatAreNotFinalAndSaysWhat) {
  insertEventsNow(12);
  auto r = mpctl({"--recent"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // The website was created today: today is its only day to fold.
  EXPECT_THAT(r.out, ContainsRegex("^folded 1 day, 12 events in [0-9.]+ s"));
  EXPECT_EQ(foldedEvents(), 12);
  EXPECT_EQ(count("SELECT coalesce(sum(page_views), 0) FROM event_summary"), 12);

  for (const char* other : {"--from", "--to"}) {
    r = mpctl({"--recent", other, "2024-01-01"});
    EXPECT_EQ(r.exitCode, 2) << other;
    EXPECT_THAT(r.err, HasSubstr("excludes")) << r.err;
  }
  r = mpctl({"--recent", "--website", site_});
  EXPECT_EQ(r.exitCode, 2);
}

TEST_F(MpctlAggregateRecentTest, WaitsForARunInProgressInsteadOfSkipping) {
  insertEventsNow(7);
  db::Connection other(db_.url(), 10s);
  other.execArgs("SELECT pg_advisory_lock($1::bigint)", aggregation::kFoldLockKey);
  auto run = std::async(std::launch::async, [&] { return mpctl({"--recent"}); });
  ASSERT_TRUE(eventually([&] { return waitingAdvisoryLocks() == 1; }));
  EXPECT_EQ(foldedEvents(), 0);
  other.execArgs("SELECT pg_advisory_unlock($1::bigint)", aggregation::kFoldLockKey);
  const auto r = run.get();
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("7 events"));
  EXPECT_EQ(foldedEvents(), 7);
}

// metricpulsed as a process -------------------------------------------------------------------

class DaemonSchedulerTest : public SchedulerBase {
 protected:
  void TearDown() override {
    if (HasFailure() && daemon_) {
      std::cerr << "--- daemon output ---\n" << daemon_->output() << "\n";
    }
  }

  void startDaemon(const std::string& extraToml) {
    test::DaemonOptions options(db_.url());
    options.redisUrl = redis_.url();
    options.extraToml = extraToml;
    daemon_ = std::make_unique<test::DaemonProcess>(options);
    ASSERT_TRUE(daemon_->start()) << daemon_->output();
  }
  std::string metricsText() { return test::httpRequest("GET", daemon_->metricsUrl()).body; }

  test::RedisProcess redis_;
  std::unique_ptr<test::DaemonProcess> daemon_;
};

TEST_F(DaemonSchedulerTest, FoldsRecentEventsWithoutAnyManualRun) {
  insertEventsNow(30);
  startDaemon("[aggregation]\ninterval = \"1m\"\n");
  ASSERT_TRUE(eventually([&] { return foldedEvents() == 30; })) << foldedEvents();
  // The rollups hold what a direct count says.
  EXPECT_EQ(count("SELECT coalesce(sum(page_views), 0) FROM event_summary"), 30);
  EXPECT_EQ(count("SELECT coalesce(sum(pageviews), 0) FROM breakdown_daily"
                  " WHERE dimension = 'page'"),
            30);
  ASSERT_TRUE(eventually([&] { return sample(metricsText(), runs("aggregation", "ok")) >= 1; }))
      << metricsText();
  EXPECT_THAT(daemon_->output(), ContainsRegex("\\[agg\\].*fold days=[0-9]+ events=30 ms=[0-9]+"));
  EXPECT_EQ(daemon_->stop(), 0) << daemon_->output();
}

TEST_F(DaemonSchedulerTest, CreatesPartitionsAheadAndKeepsTheRowsWaitingForThem) {
  const std::string month = std::string(
      conn_
          .exec("SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval "
                "'3 months', 'YYYY-MM-DD')")
          .get(0, 0));
  const std::string partition = "events_y" + month.substr(0, 4) + "m" + month.substr(5, 2);
  conn_.execArgs(
      "INSERT INTO events (website_id, ts, page) VALUES ($1, ($2::date)::timestamp AT TIME ZONE"
      " 'UTC' + interval '36 hours', '/future')",
      site_, month);
  ASSERT_EQ(count("SELECT count(*) FROM events_default"), 1);
  const std::string row = std::string(conn_.exec("SELECT e::text FROM events e").get(0, 0));

  startDaemon("[aggregation]\nenabled = false\n");
  ASSERT_TRUE(eventually([&] {
    return conn_.execArgs("SELECT to_regclass($1) IS NOT NULL", partition).getBool(0, 0);
  }));
  EXPECT_EQ(count("SELECT count(*) FROM events_default"), 0);
  EXPECT_EQ(conn_.exec("SELECT e::text FROM " + partition + " e").get(0, 0), row);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 1);
  EXPECT_THAT(daemon_->output(), HasSubstr("created=" + partition));
  EXPECT_EQ(daemon_->stop(), 0) << daemon_->output();
}

TEST_F(DaemonSchedulerTest, PrunesSaltsOlderThanYesterday) {
  const auto today = util::todayUtc();
  for (int back : {9, 3, 2, 1, 0}) {
    conn_.execArgs(
        "INSERT INTO salts (day, salt) VALUES ($1::date, decode(repeat('ab', 32), 'hex'))"
        " ON CONFLICT (day) DO NOTHING",
        dayText(today - std::chrono::days{back}));
  }
  startDaemon("[aggregation]\nenabled = false\n");
  ASSERT_TRUE(eventually([&] {
    return count(
               "SELECT count(*) FROM salts"
               " WHERE day < (now() AT TIME ZONE 'UTC')::date - 1") == 0;
  })) << conn_.exec("SELECT string_agg(day::text, ',') FROM salts").get(0, 0);
  // Yesterday's and today's stay.
  EXPECT_EQ(count("SELECT count(*) FROM salts WHERE day >= (now() AT TIME ZONE 'UTC')::date - 1"),
            2);
  EXPECT_EQ(daemon_->stop(), 0) << daemon_->output();
}

TEST_F(DaemonSchedulerTest, AggregationDisabledFoldsNothingWhileRetentionRuns) {
  insertEventsNow(20);
  // Forty days old: outside a 30-day retention. It may sit in the default partition or in a
  // month's own; the prune finds it either way.
  conn_.execArgs(
      "INSERT INTO events (website_id, ts, page) SELECT $1, now() - interval '40 days' - i *"
      " interval '1 hour', '/old' FROM generate_series(1, 5) AS i",
      site_);
  startDaemon("[aggregation]\nenabled = false\n\n[retention]\ndays = 30\n");
  // The prune is due together with the first fold and runs after it (ties go in job order), so
  // once the old rows are gone a fold would have run if there were one.
  ASSERT_TRUE(
      eventually([&] { return count("SELECT count(*) FROM events WHERE page = '/old'") == 0; }));
  EXPECT_EQ(count("SELECT count(*) FROM events"), 20);
  EXPECT_EQ(count("SELECT count(*) FROM aggregation_runs"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM event_summary"), 0);
  const auto text = metricsText();
  EXPECT_GE(sample(text, runs("retention", "ok")), 1) << text;
  EXPECT_THAT(text, Not(HasSubstr("job=\"aggregation\"")));
  EXPECT_THAT(daemon_->output(), HasSubstr("aggregation off (aggregation.enabled = false)"));
  EXPECT_THAT(daemon_->output(), ContainsRegex("retention before=[0-9-]+ .*events_deleted=5"));
  EXPECT_EQ(daemon_->stop(), 0) << daemon_->output();
}

}  // namespace
}  // namespace mp::daemon
