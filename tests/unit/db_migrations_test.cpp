// Unit tests of migration naming, checksums, the embedded set and the schema summary (no services).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "db/migrations.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MigrationFileName, VersionIsTheLeadingNumberAndNameTheRest) {
  auto id = parseMigrationFileName("0001_initial.sql");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->version, 1);
  EXPECT_EQ(id->name, "initial");

  id = parseMigrationFileName("0042_add_rollups_by-hour.sql");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->version, 42);
  EXPECT_EQ(id->name, "add_rollups_by-hour");

  id = parseMigrationFileName("12345_wide.sql");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->version, 12345);
}

TEST(MigrationFileName, MalformedNamesAreRejected) {
  for (const char* bad : {"initial.sql", "0001initial.sql", "0001_.sql", "0001_initial.SQL",
                          "0001_initial", "0001_init ial.sql", "0000_zero.sql", "_0001_x.sql",
                          "1234567890_too_long.sql", "0001_x.sql.bak", ".sql", ""}) {
    EXPECT_FALSE(parseMigrationFileName(bad).has_value()) << bad;
  }
}

TEST(MigrationFileName, LabelIsZeroPaddedLikeTheFile) {
  EXPECT_EQ(migrationLabel(1, "initial"), "0001_initial");
  EXPECT_EQ(migrationLabel(9999, "future"), "9999_future");
  EXPECT_EQ(migrationLabel(12345, "wide"), "12345_wide");
}

TEST(MigrationChecksum, IsTheSha256HexOfTheText) {
  EXPECT_EQ(migrationChecksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(migrationChecksum("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(MigrationChecksum, IsStableAndSeesEveryByte) {
  const std::string sql = "CREATE TABLE t (x int);\n";
  EXPECT_EQ(migrationChecksum(sql), migrationChecksum(std::string(sql)));
  EXPECT_NE(migrationChecksum(sql), migrationChecksum("CREATE TABLE t (x int); \n"));
  EXPECT_NE(migrationChecksum(sql), migrationChecksum("CREATE TABLE t (x int);\r\n"));
}

TEST(EmbeddedMigrations, AreNonEmptySortedAndWellNamed) {
  const auto& migrations = embeddedMigrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_STREQ(migrations.front().name, "0001_initial.sql");
  int previous = 0;
  for (const auto& m : migrations) {
    auto id = parseMigrationFileName(m.name);
    ASSERT_TRUE(id.has_value()) << m.name << " is not named NNNN_name.sql";
    EXPECT_GT(id->version, previous) << m.name << " is out of order or duplicates a version";
    previous = id->version;
    EXPECT_GT(std::string_view(m.sql).size(), 0u) << m.name;
  }
}

TEST(EmbeddedMigrations, CarryTheFilesByteForByte) {
  // A DBA applying the installed .sql file by hand must record the checksum mpctl computes.
  for (const auto& m : embeddedMigrations()) {
    std::ifstream in(test::sourcePath(std::string("sql/migrations/") + m.name), std::ios::binary);
    ASSERT_TRUE(in) << m.name;
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_EQ(migrationChecksum(m.sql), migrationChecksum(text.str())) << m.name;
  }
}

TEST(EmbeddedMigrations, DoNotControlTheirOwnTransaction) {
  for (const auto& m : embeddedMigrations()) {
    const std::string sql = m.sql;
    EXPECT_THAT(sql, Not(HasSubstr("\nBEGIN;"))) << m.name;
    EXPECT_THAT(sql, Not(HasSubstr("\nCOMMIT;"))) << m.name;
  }
}

MigrationState state(int version, const std::string& name, bool applied, bool changed = false,
                     bool unknown = false) {
  MigrationState s;
  s.version = version;
  s.name = name;
  s.applied = applied;
  s.checksumMismatch = changed;
  s.unknown = unknown;
  return s;
}

TEST(MigrationState, StatusWordsAreThoseMpctlPrints) {
  EXPECT_EQ(toString(state(1, "a", true).status()), "applied");
  EXPECT_EQ(toString(state(1, "a", false).status()), "pending");
  EXPECT_EQ(toString(state(1, "a", true, true).status()), "CHANGED");
  EXPECT_EQ(toString(state(1, "a", true, false, true).status()), "unknown");
}

TEST(SchemaCheck, CurrentSchemaIsOk) {
  auto check = checkSchema({state(1, "initial", true), state(2, "more", true)});
  EXPECT_TRUE(check.ok);
  EXPECT_EQ(check.applied, 2u);
  EXPECT_EQ(describe(check), "database schema is up to date (2 migrations applied)");
}

TEST(SchemaCheck, PendingMigrationsNameTheFix) {
  auto check = checkSchema({state(1, "initial", true), state(2, "more", false)});
  EXPECT_FALSE(check.ok);
  ASSERT_EQ(check.pending.size(), 1u);
  EXPECT_EQ(check.pending[0].version, 2);
  const auto text = describe(check);
  EXPECT_THAT(text, HasSubstr("0002_more"));
  EXPECT_THAT(text, HasSubstr("run mpctl db migrate"));
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line";
}

TEST(SchemaCheck, UnknownAndChangedMigrationsAreReported) {
  auto check =
      checkSchema({state(1, "initial", true, true), state(9999, "future", true, false, true)});
  EXPECT_FALSE(check.ok);
  ASSERT_EQ(check.mismatched.size(), 1u);
  ASSERT_EQ(check.unknown.size(), 1u);
  EXPECT_TRUE(check.pending.empty());
  const auto text = describe(check);
  EXPECT_THAT(text, HasSubstr("0001_initial"));
  EXPECT_THAT(text, HasSubstr("9999_future"));
  EXPECT_THAT(text, HasSubstr("newer MetricPulse"));
}

}  // namespace
}  // namespace mp::db
