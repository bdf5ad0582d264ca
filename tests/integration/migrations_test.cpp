// Migrations against a real PostgreSQL: fresh schema, re-runs, tampering, unknown versions, races.
#include "db/migrations.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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

// The embedded migrations before the one named `file` (e.g. "0015_"): a database "of the previous
// release" to upgrade.
std::vector<MigrationSource> migrationsBefore(const std::string& file) {
  const auto& all = embeddedMigrations();
  std::vector<MigrationSource> out;
  for (const auto& m : all) {
    if (std::string(m.name).rfind(file, 0) == 0) return out;
    out.push_back(m);
  }
  ADD_FAILURE() << "no migration " << file;
  return out;
}

// 0015 keys goals, funnels and their rows by website: the rows of a database migrated to 0014
// keep their values and get the website of their goal or funnel, and the new keys hold.
TEST_F(MigrationsTest, GoalsAndFunnelsOfAnEarlierSchemaGetTheirWebsite) {
  const auto before = migrationsBefore("0015_");
  ASSERT_EQ(Migrator(conn_, before).migrate(), static_cast<int>(before.size()));
  const auto user = std::string(
      conn_
          .exec("INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'x') "
                "RETURNING id")
          .get(0, 0));
  const auto site = [&](const char* domain) {
    return std::string(conn_
                           .execArgs("INSERT INTO websites (user_id, name, domain) "
                                     "VALUES ($1, $2, $2) RETURNING id",
                                     user, domain)
                           .get(0, 0));
  };
  const std::string a = site("a.example"), b = site("b.example");
  const auto goal = [&](const std::string& website, const char* id, const char* kind,
                        const char* target) {
    conn_.execArgs(
        "INSERT INTO goals (id, website_id, kind, target, page_regex, name) VALUES ($1::uuid,"
        " $2::uuid, $3::text, $4::text, CASE WHEN $3::text = 'page' THEN '^' || $4::text || '$'"
        " END, $4::text)",
        id, website, kind, target);
  };
  constexpr const char* kGoalA1 = "00000000-0000-7000-8000-0000000000a1";
  constexpr const char* kGoalA2 = "00000000-0000-7000-8000-0000000000a2";
  constexpr const char* kGoalB1 = "00000000-0000-7000-8000-0000000000b1";
  constexpr const char* kGoalB2 = "00000000-0000-7000-8000-0000000000b2";
  constexpr const char* kFunnelA = "00000000-0000-7000-8000-00000000f00a";
  constexpr const char* kFunnelB = "00000000-0000-7000-8000-00000000f00b";
  goal(a, kGoalA1, "event", "signup");
  goal(a, kGoalA2, "page", "/pricing");
  goal(b, kGoalB1, "event", "signup");
  goal(b, kGoalB2, "event", "download");
  conn_.execArgs(
      "INSERT INTO funnels (id, website_id, name) VALUES ($1::uuid, $2::uuid, 'Buy'),"
      " ($3::uuid, $4::uuid, 'Get')",
      kFunnelA, a, kFunnelB, b);
  conn_.execArgs(
      "INSERT INTO funnel_steps (funnel_id, position, goal_id) VALUES ($1::uuid, 1, $2::uuid),"
      " ($1::uuid, 2, $3::uuid), ($4::uuid, 1, $5::uuid), ($4::uuid, 2, $6::uuid)",
      kFunnelA, kGoalA2, kGoalA1, kFunnelB, kGoalB1, kGoalB2);
  conn_.execArgs(
      "INSERT INTO goal_daily (goal_id, date, visitors, events) VALUES"
      " ($1::uuid, '2026-03-10', 5, 7), ($1::uuid, '2026-03-11', 6, 8),"
      " ($2::uuid, '2026-03-10', 1, 1), ($3::uuid, '2026-03-10', 2, 3)",
      kGoalA1, kGoalA2, kGoalB1);
  conn_.execArgs(
      "INSERT INTO funnel_daily (funnel_id, date, step, visitors, visits) VALUES"
      " ($1::uuid, '2026-03-10', 1, 9, 10), ($1::uuid, '2026-03-10', 2, 4, 4),"
      " ($2::uuid, '2026-03-10', 1, 3, 3), ($2::uuid, '2026-03-10', 2, 0, 0)",
      kFunnelA, kFunnelB);

  EXPECT_EQ(Migrator(conn_).migrate(),
            static_cast<int>(embeddedMigrations().size() - before.size()));

  // Every row is there with its values, and the website of its goal or funnel.
  const auto rows = [&](const std::string& sql) {
    const auto r = conn_.exec(sql);
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
    return out;
  };
  const auto siteOf = [&](const std::string& id) { return id == a ? "A" : id == b ? "B" : "?"; };
  // The rows with the websites' ids written A and B, sorted.
  const auto named = [&](std::vector<std::string> lines) {
    for (auto& l : lines) {
      for (const auto* id : {&a, &b}) {
        for (auto at = l.find(*id); at != std::string::npos; at = l.find(*id)) {
          l.replace(at, id->size(), siteOf(*id));
        }
      }
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(named(rows("SELECT concat_ws(' ', website_id, right(funnel_id::text, 4), position,"
                       " right(goal_id::text, 2)) FROM funnel_steps ORDER BY 1")),
            (std::vector<std::string>{"A f00a 1 a2", "A f00a 2 a1", "B f00b 1 b1", "B f00b 2 b2"}));
  EXPECT_EQ(named(rows("SELECT concat_ws(' ', website_id, right(goal_id::text, 2), date, visitors,"
                       " events) FROM goal_daily ORDER BY 1")),
            (std::vector<std::string>{"A a1 2026-03-10 5 7", "A a1 2026-03-11 6 8",
                                      "A a2 2026-03-10 1 1", "B b1 2026-03-10 2 3"}));
  EXPECT_EQ(named(rows("SELECT concat_ws(' ', website_id, right(funnel_id::text, 4), date, step,"
                       " visitors, visits) FROM funnel_daily ORDER BY 1")),
            (std::vector<std::string>{"A f00a 2026-03-10 1 9 10", "A f00a 2026-03-10 2 4 4",
                                      "B f00b 2026-03-10 1 3 3", "B f00b 2026-03-10 2 0 0"}));
  EXPECT_EQ(
      rows("SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
           " WHERE contype = 'p' AND conrelid::regclass::text IN ('goals', 'funnels',"
           " 'funnel_steps', 'goal_daily', 'funnel_daily') ORDER BY 1"),
      (std::vector<std::string>{"funnel_daily PRIMARY KEY (website_id, funnel_id, date, step)",
                                "funnel_steps PRIMARY KEY (website_id, funnel_id, \"position\")",
                                "funnels PRIMARY KEY (website_id, id)",
                                "goal_daily PRIMARY KEY (website_id, goal_id, date)",
                                "goals PRIMARY KEY (website_id, id)"}));

  const auto refused = [&](const std::string& sql) {
    try {
      conn_.exec(sql);
    } catch (const DbError& e) {
      return std::string(e.sqlstate());
    }
    return std::string("accepted");
  };
  // A step of website B's funnel cannot be website A's goal, nor a row of another website's goal.
  EXPECT_EQ(
      refused(fmt::format("INSERT INTO funnel_steps (website_id, funnel_id, position, goal_id)"
                          " VALUES ('{}', '{}', 3, '{}')",
                          b, kFunnelB, kGoalA1)),
      "23503");
  EXPECT_EQ(refused(fmt::format("INSERT INTO goal_daily (website_id, goal_id, date, visitors, "
                                "events) VALUES ('{}', '{}', '2026-03-12', 0, 0)",
                                b, kGoalA1)),
            "23503");
  EXPECT_EQ(refused(fmt::format("INSERT INTO funnel_daily (website_id, funnel_id, date, step, "
                                "visitors, visits) VALUES ('{}', '{}', '2026-03-12', 1, 0, 0)",
                                a, kFunnelB)),
            "23503");
  // As before: a goal a funnel uses stays until the funnel goes; a funnel takes its steps and
  // daily rows along, a goal its daily rows.
  EXPECT_EQ(refused(fmt::format("DELETE FROM goals WHERE id = '{}'", kGoalA1)), "23503");
  EXPECT_EQ(refused(fmt::format("DELETE FROM funnels WHERE id = '{}'", kFunnelA)), "accepted");
  EXPECT_EQ(refused(fmt::format("DELETE FROM goals WHERE id = '{}'", kGoalA1)), "accepted");
  EXPECT_EQ(named(rows("SELECT concat_ws(' ', website_id, count(*)) FROM ("
                       " SELECT website_id FROM funnel_steps UNION ALL"
                       " SELECT website_id FROM goal_daily UNION ALL"
                       " SELECT website_id FROM funnel_daily) x GROUP BY website_id ORDER BY 1")),
            (std::vector<std::string>{"A 1", "B 5"}));
}

// 0015 stops, naming the problem, on a funnel step whose goal is another website's (which the
// API never made), rather than failing on a foreign key.
TEST_F(MigrationsTest, FunnelStepOfAnotherWebsitesGoalStopsTheUpgrade) {
  const auto before = migrationsBefore("0015_");
  Migrator(conn_, before).migrate();
  conn_.exec("INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'x')");
  conn_.exec(
      "INSERT INTO websites (user_id, name, domain) SELECT id, d, d FROM users,"
      " unnest(ARRAY['a.example', 'b.example']) AS d");
  conn_.exec(
      "INSERT INTO goals (id, website_id, kind, target, name) SELECT gen_random_uuid(), id,"
      " 'event', 'signup', 'signup' FROM websites");
  conn_.exec(
      "INSERT INTO funnels (id, website_id, name) SELECT gen_random_uuid(), id, 'F' FROM websites"
      " WHERE domain = 'a.example'");
  conn_.exec(
      "INSERT INTO funnel_steps (funnel_id, position, goal_id) SELECT f.id, p, g.id FROM funnels f"
      " CROSS JOIN generate_series(1, 2) AS p JOIN websites w ON w.domain ="
      " CASE p WHEN 1 THEN 'a.example' ELSE 'b.example' END JOIN goals g ON g.website_id = w.id");
  try {
    Migrator(conn_).migrate();
    FAIL() << "0015 accepted a funnel step of another website's goal";
  } catch (const DbError& e) {
    EXPECT_THAT(e.what(), HasSubstr("1 funnel steps use a goal of another website"));
    EXPECT_THAT(e.what(), HasSubstr("0015_"));
  }
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(before.size()));
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
