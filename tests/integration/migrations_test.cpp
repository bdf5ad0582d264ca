// Migrations against a real PostgreSQL: fresh schema, re-runs, tampering, unknown versions, races.
#include "db/migrations.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "db/connection.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::seconds(10);

class MigrationsTest : public ::testing::Test {
 protected:
  test::TempDatabase db_;
  Connection conn_{db_.url(), kTimeout};

  std::int64_t count(const std::string& sql) { return conn_.exec(sql).getInt(0, 0); }
  bool tableExists(const std::string& name) {
    return conn_.execArgs("SELECT to_regclass($1) IS NOT NULL", name).getBool(0, 0);
  }
};

// The embedded set plus one more migration, for tests that need something after 0001.
std::vector<MigrationSource> withExtra(const char* name, const char* sql) {
  auto sources = embeddedMigrations();
  sources.push_back({name, sql});
  return sources;
}

TEST_F(MigrationsTest, FreshDatabaseGetsTheWholeDataModel) {
  std::vector<std::string> applied;
  const int n = Migrator(conn_).migrate([&](const MigrationState& s) {
    applied.push_back(s.label());
    EXPECT_TRUE(s.applied);
    EXPECT_FALSE(s.appliedAt.empty());
  });
  EXPECT_EQ(n, static_cast<int>(embeddedMigrations().size()));
  ASSERT_FALSE(applied.empty());
  EXPECT_EQ(applied.front(), "0001_initial");

  for (const char* table : {"users", "websites", "events", "events_default", "event_summary",
                            "salts", "schema_migrations"}) {
    EXPECT_TRUE(tableExists(table)) << table;
  }
  // events is partitioned by range on ts, with a default partition.
  EXPECT_EQ(conn_.exec("SELECT relkind FROM pg_class WHERE oid = 'events'::regclass").get(0, 0),
            "p");
  auto part = conn_.exec(
      "SELECT partstrat, partdefid::regclass::text, "
      "(SELECT attname FROM pg_attribute WHERE attrelid = partrelid AND attnum = partattrs[0]) "
      "FROM pg_partitioned_table WHERE partrelid = 'events'::regclass");
  ASSERT_EQ(part.rows(), 1);
  EXPECT_EQ(part.get(0, 0), "r");
  EXPECT_EQ(part.get(0, 1), "events_default");
  EXPECT_EQ(part.get(0, 2), "ts");
  // This month (UTC) and the next two already have their partitions.
  EXPECT_EQ(count("SELECT count(*) FROM generate_series(0, 2) AS m "
                  "WHERE to_regclass('events_' || to_char(date_trunc('month', now() AT TIME ZONE "
                  "'UTC') + make_interval(months => m), '\"y\"YYYY\"m\"MM')) IS NOT NULL"),
            3);
  // The primary key of events leads with website_id (Citus distribution column).
  EXPECT_EQ(
      conn_.exec("SELECT pg_get_indexdef('events_pkey'::regclass)").get(0, 0),
      "CREATE UNIQUE INDEX events_pkey ON ONLY public.events USING btree (website_id, ts, id)");
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(embeddedMigrations().size()));
  EXPECT_EQ(conn_.exec("SELECT checksum FROM schema_migrations WHERE version = 1").get(0, 0),
            migrationChecksum(embeddedMigrations().front().sql));
}

TEST_F(MigrationsTest, SchemaEnforcesWhatTheApiPromises) {
  Migrator(conn_).migrate();
  conn_.exec("INSERT INTO users (email, password_hash) VALUES ('Ann@Example.com', 'x')");
  try {
    conn_.exec("INSERT INTO users (email, password_hash) VALUES ('ann@example.COM', 'y')");
    FAIL() << "a second account with the same email in other case was accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
  }
  const auto user = std::string(conn_.exec("SELECT id FROM users").get(0, 0));
  auto site = conn_.execArgs(
      "INSERT INTO websites (user_id, name, domain) VALUES ($1, 'Blog', 'example.com') "
      "RETURNING id",
      user);
  EXPECT_THROW(conn_.execArgs("INSERT INTO websites (user_id, name, domain) "
                              "VALUES ($1, 'Again', 'example.com')",
                              user),
               DbError);
  const auto siteId = std::string(site.get(0, 0));
  conn_.execArgs(
      "INSERT INTO event_summary (website_id, date, page_views) VALUES ($1, "
      "'2026-01-01', 5)",
      siteId);
  // An event far outside any partition still lands (default partition): inserts never fail.
  auto where = conn_.execArgs(
      "INSERT INTO events (website_id, ts, event_type) VALUES ($1, '2099-06-01T00:00:00Z', "
      "'pageview') RETURNING tableoid::regclass::text",
      siteId);
  EXPECT_EQ(where.get(0, 0), "events_default");
  // Deleting an account removes its websites and their summaries.
  conn_.execArgs("DELETE FROM users WHERE id = $1", user);
  EXPECT_EQ(count("SELECT count(*) FROM websites"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM event_summary"), 0);
}

TEST_F(MigrationsTest, RerunIsANoOp) {
  Migrator(conn_).migrate();
  const auto before = conn_.exec(
      "SELECT version, checksum, applied_at FROM schema_migrations "
      "ORDER BY version");
  int calls = 0;
  EXPECT_EQ(Migrator(conn_).migrate([&](const MigrationState&) { ++calls; }), 0);
  EXPECT_EQ(calls, 0);
  const auto after = conn_.exec(
      "SELECT version, checksum, applied_at FROM schema_migrations "
      "ORDER BY version");
  ASSERT_EQ(before.rows(), after.rows());
  for (int r = 0; r < before.rows(); ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(before.get(r, c), after.get(r, c));
  }
  EXPECT_TRUE(checkSchema(conn_).ok);
}

TEST_F(MigrationsTest, StatusOfAFreshDatabaseIsAllPendingAndCreatesNothing) {
  auto states = Migrator(conn_).status();
  ASSERT_EQ(states.size(), embeddedMigrations().size());
  for (const auto& s : states) EXPECT_EQ(s.status(), MigrationStatus::kPending) << s.label();
  EXPECT_FALSE(tableExists("schema_migrations"));
  auto check = checkSchema(conn_);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.pending.size(), embeddedMigrations().size());
  EXPECT_THAT(describe(check), HasSubstr("run mpctl db migrate"));
}

TEST_F(MigrationsTest, TamperedChecksumIsRefusedAndReported) {
  Migrator(conn_).migrate();
  conn_.exec("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");

  try {
    Migrator(conn_).migrate();
    FAIL() << "migrate accepted a changed migration";
  } catch (const MigrationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("0001_initial"));
    EXPECT_THAT(e.what(), HasSubstr("0001_initial.sql"));
  }
  auto states = Migrator(conn_).status();
  ASSERT_FALSE(states.empty());
  EXPECT_TRUE(states.front().checksumMismatch);
  EXPECT_EQ(toString(states.front().status()), "CHANGED");
  auto check = checkSchema(conn_);
  EXPECT_FALSE(check.ok);
  ASSERT_EQ(check.mismatched.size(), 1u);
  EXPECT_EQ(check.mismatched[0].version, 1);
  EXPECT_THAT(describe(check), HasSubstr("0001_initial"));
  // Refusing changed nothing.
  EXPECT_EQ(conn_.exec("SELECT checksum FROM schema_migrations WHERE version = 1").get(0, 0), "x");
}

TEST_F(MigrationsTest, UnknownAppliedVersionIsReportedAndRefused) {
  Migrator(conn_).migrate();
  conn_.exec(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', "
      "'abc')");
  auto states = Migrator(conn_).status();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back().version, 9999);
  EXPECT_TRUE(states.back().unknown);
  EXPECT_EQ(toString(states.back().status()), "unknown");
  auto check = checkSchema(conn_);
  EXPECT_FALSE(check.ok);
  ASSERT_EQ(check.unknown.size(), 1u);
  EXPECT_THAT(describe(check), HasSubstr("9999_future"));
  try {
    Migrator(conn_).migrate();
    FAIL() << "migrate ran against a schema newer than the build";
  } catch (const MigrationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("9999_future"));
  }
}

TEST_F(MigrationsTest, FailingMigrationIsRolledBackAndNamesItsLine) {
  const auto sources = withExtra("9001_broken.sql", "CREATE TABLE half_done (x int);\nSELEC 1;\n");
  try {
    Migrator(conn_, sources).migrate();
    FAIL() << "a broken migration succeeded";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "42601");
    EXPECT_THAT(e.what(), HasSubstr("9001_broken"));
    EXPECT_THAT(e.what(), HasSubstr("line 2"));
  }
  // Migrations before it stay applied; its own work is gone, and it is still pending.
  EXPECT_TRUE(tableExists("users"));
  EXPECT_FALSE(tableExists("half_done"));
  auto states = Migrator(conn_, sources).status();
  ASSERT_EQ(states.back().version, 9001);
  EXPECT_EQ(states.back().status(), MigrationStatus::kPending);
  EXPECT_EQ(states.front().status(), MigrationStatus::kApplied);
  // The advisory lock was released: another run is not blocked.
  EXPECT_EQ(count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                  "(SELECT oid FROM pg_database WHERE datname = current_database())"),
            0);
}

TEST_F(MigrationsTest, MigrationThatCommitsOnItsOwnIsRefused) {
  const auto sources = withExtra("9001_commits.sql", "CREATE TABLE c1 (x int);\nCOMMIT;\n");
  EXPECT_THROW(Migrator(conn_, sources).migrate(), MigrationError);
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations WHERE version = 9001"), 0);
}

TEST_F(MigrationsTest, MalformedMigrationSetIsRefused) {
  EXPECT_THROW(Migrator(conn_, withExtra("two.sql", "SELECT 1")), MigrationError);
  EXPECT_THROW(Migrator(conn_, withExtra("0001_again.sql", "SELECT 1")), MigrationError);
}

TEST_F(MigrationsTest, ConcurrentRunsApplyEachMigrationOnce) {
  // A slow second migration widens the window in which the runs overlap.
  const auto sources =
      withExtra("9001_slow.sql", "SELECT pg_sleep(0.3);\nCREATE TABLE slow_once (x int);\n");
  constexpr int kRuns = 4;
  std::atomic<int> appliedTotal{0};
  std::atomic<int> ready{0};
  std::vector<std::string> errors(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] {
      try {
        Connection conn(db_.url(), kTimeout);
        ++ready;
        while (ready.load() < kRuns) std::this_thread::yield();
        appliedTotal += Migrator(conn, sources).migrate();
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(i)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(appliedTotal.load(), static_cast<int>(sources.size()));
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(sources.size()));
  EXPECT_TRUE(tableExists("slow_once"));
}

TEST_F(MigrationsTest, ConcurrentMpctlProcessesApplyEachMigrationOnce) {
  test::TempDir dir;
  const auto config = dir.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n");
  constexpr int kRuns = 4;
  std::vector<test::ProcessResult> results(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          test::runProcess({test::mpctlPath(), "-c", config.string(), "db", "migrate"}, "",
                           {{"MP_DATABASE_URL", db_.url()}});
    });
  }
  for (auto& t : threads) t.join();
  int appliedLines = 0;
  int upToDate = 0;
  for (const auto& r : results) {
    EXPECT_EQ(r.exitCode, 0) << r.err;
    if (r.out.find("applied 0001_initial") != std::string::npos) ++appliedLines;
    if (r.out.find("database is up to date") != std::string::npos) ++upToDate;
  }
  EXPECT_EQ(appliedLines, 1);
  EXPECT_EQ(upToDate, kRuns - 1);
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(embeddedMigrations().size()));
}

}  // namespace
}  // namespace mp::db
