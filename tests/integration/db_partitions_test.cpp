// mp_ensure_event_partition(): monthly partitions in UTC, rows rescued from the default partition.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::seconds(10);

class DbPartitionsTest : public ::testing::Test {
 protected:
  void SetUp() override { Migrator(conn_).migrate(); }

  std::int64_t count(const std::string& sql) { return conn_.exec(sql).getInt(0, 0); }
  std::int64_t rowsIn(const std::string& table) { return count("SELECT count(*) FROM " + table); }

  test::TempDatabase db_;
  Connection conn_{db_.url(), kTimeout};
};

TEST_F(DbPartitionsTest, RowsWaitingInTheDefaultPartitionMoveIntoTheNewMonth) {
  // A session time zone far from UTC must not shift the month's bounds.
  conn_.exec("SET TimeZone = 'Pacific/Auckland'");
  const std::string site = "11111111-1111-1111-1111-111111111111";
  conn_.execArgs(
      "INSERT INTO events (website_id, ts, id, event_type, page, visitor_id, props) "
      "SELECT $1, '2025-03-01T00:00:00Z'::timestamptz + i * interval '3 days', gen_random_uuid(), "
      "'pageview', '/p' || i, i, jsonb_build_object('i', i) FROM generate_series(0, 9) AS i",
      site);
  // Just outside March in UTC, on both sides.
  conn_.execArgs(
      "INSERT INTO events (website_id, ts) VALUES ($1, '2025-02-28T23:59:59.999Z'), "
      "($1, '2025-04-01T00:00:00Z')",
      site);
  const auto before = conn_.exec(
      "SELECT string_agg(id::text || page || visitor_id || props::text, ',' ORDER BY ts) "
      "FROM events WHERE page IS NOT NULL");
  EXPECT_EQ(rowsIn("events_default"), 12);

  EXPECT_TRUE(conn_.exec("SELECT mp_ensure_event_partition('2025-03-17')").getBool(0, 0));

  EXPECT_EQ(rowsIn("events_y2025m03"), 10);
  EXPECT_EQ(rowsIn("events_default"), 2);
  EXPECT_EQ(rowsIn("events"), 12);
  // Nothing about the moved rows changed.
  EXPECT_EQ(conn_
                .exec("SELECT string_agg(id::text || page || visitor_id || props::text, ',' "
                      "ORDER BY ts) FROM events_y2025m03")
                .get(0, 0),
            before.get(0, 0));
  EXPECT_EQ(conn_
                .exec("SELECT pg_get_expr(relpartbound, oid) FROM pg_class "
                      "WHERE relname = 'events_y2025m03'")
                .get(0, 0),
            "FOR VALUES FROM ('2025-03-01 13:00:00+13') TO ('2025-04-01 13:00:00+13')");
  // Still one primary key over the whole table: a duplicate in the new partition is refused.
  try {
    conn_.exec(
        "INSERT INTO events (website_id, ts, id) SELECT website_id, ts, id "
        "FROM events_y2025m03 LIMIT 1");
    FAIL() << "duplicate event accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
  }
  // No helper constraint is left behind.
  EXPECT_EQ(count("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                  "'events_y2025m03'::regclass AND contype = 'c'"),
            0);
  // New March events now land in March.
  EXPECT_EQ(conn_
                .execArgs("INSERT INTO events (website_id, ts) VALUES ($1, "
                          "'2025-03-31T23:59:59Z') RETURNING tableoid::regclass::text",
                          site)
                .get(0, 0),
            "events_y2025m03");
}

TEST_F(DbPartitionsTest, ExistingPartitionIsLeftAlone) {
  EXPECT_TRUE(conn_.exec("SELECT mp_ensure_event_partition('2030-01-01')").getBool(0, 0));
  EXPECT_FALSE(conn_.exec("SELECT mp_ensure_event_partition('2030-01-31')").getBool(0, 0));
  EXPECT_EQ(count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass AND "
                  "inhrelid = 'events_y2030m01'::regclass"),
            1);
}

TEST_F(DbPartitionsTest, StrayTableWithThePartitionNameIsReported) {
  conn_.exec("CREATE TABLE events_y2031m05 (x int)");
  try {
    conn_.exec("SELECT mp_ensure_event_partition('2031-05-01')");
    FAIL();
  } catch (const DbError& e) {
    EXPECT_THAT(e.what(), HasSubstr("events_y2031m05 exists but is not a partition of events"));
  }
}

TEST_F(DbPartitionsTest, MonthsAheadCoversThisMonthAndTheNextOnes) {
  auto rows = conn_.exec("SELECT partition_name, created FROM mp_ensure_event_partitions(4)");
  ASSERT_EQ(rows.rows(), 5);
  const auto expected = conn_.exec(
      "SELECT 'events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + "
      "make_interval(months => m), '\"y\"YYYY\"m\"MM') FROM generate_series(0, 4) AS m ORDER BY m");
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(rows.get(r, 0), expected.get(r, 0));
    // The migration created three months; the rest are new.
    EXPECT_EQ(rows.getBool(r, 1), r >= 3) << rows.get(r, 0);
  }
}

TEST_F(DbPartitionsTest, MpctlCreatesPartitionsAhead) {
  test::TempDir dir;
  const auto config = dir.write("mp.toml", "[database]\nurl = \"" + db_.url() + "\"\n");
  auto r = test::runProcess(
      {test::mpctlPath(), "-c", config.string(), "db", "partitions", "--months-ahead", "3"}, "",
      {{"MP_DATABASE_URL", db_.url()}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  const auto last = conn_.exec(
      "SELECT 'events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + "
      "interval '3 months', '\"y\"YYYY\"m\"MM')");
  EXPECT_THAT(r.out, HasSubstr(std::string(last.get(0, 0)) + " created"));
  EXPECT_THAT(r.out, HasSubstr(" exists"));
  EXPECT_TRUE(conn_.execArgs("SELECT to_regclass($1) IS NOT NULL", last.get(0, 0)).getBool(0, 0));
}

}  // namespace
}  // namespace mp::db
