// Unit tests of the libpq layer that need no server: parameters, URL redaction, connect failures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "db/connection.hpp"
#include "db/pool.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DbParam, ValuesTakeTheirTextForm) {
  EXPECT_EQ(toParam(42), "42");
  EXPECT_EQ(toParam(std::int64_t{-9007199254740993}), "-9007199254740993");
  EXPECT_EQ(toParam(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(toParam(true), "true");
  EXPECT_EQ(toParam(false), "false");
  EXPECT_EQ(toParam(0.1), "0.1");
  EXPECT_EQ(toParam("text"), "text");
  EXPECT_EQ(toParam(std::string("a'b")), "a'b");
  EXPECT_EQ(toParam(std::string_view("view")), "view");
}

TEST(DbParam, EmptyOptionalsAndNulloptAreNull) {
  EXPECT_EQ(toParam(std::nullopt), std::nullopt);
  EXPECT_EQ(toParam(std::optional<int>()), std::nullopt);
  EXPECT_EQ(toParam(std::optional<int>(7)), "7");
  EXPECT_EQ(toParam(std::optional<std::string>("x")), "x");
}

TEST(RedactUrl, HidesThePasswordOfAUrl) {
  EXPECT_EQ(redactUrl("postgresql://mp:s3cret@db.example:5432/metricpulse"),
            "postgresql://mp:***@db.example:5432/metricpulse");
  EXPECT_EQ(redactUrl("postgres://mp:p%40ss@db/x?sslmode=require"),
            "postgres://mp:***@db/x?sslmode=require");
  EXPECT_EQ(redactUrl("postgresql://db/x?sslmode=require&password=s3cret&user=mp"),
            "postgresql://db/x?sslmode=require&password=***&user=mp");
}

TEST(RedactUrl, LeavesUrlsWithoutPasswordAlone) {
  EXPECT_EQ(redactUrl("postgresql://mp@db/x"), "postgresql://mp@db/x");
  EXPECT_EQ(redactUrl("postgresql:///metricpulse"), "postgresql:///metricpulse");
  EXPECT_EQ(redactUrl("postgresql://[::1]:5432/x"), "postgresql://[::1]:5432/x");
}

TEST(RedactUrl, HidesThePasswordOfAKeyValueString) {
  EXPECT_EQ(redactUrl("host=db password=s3cret dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(redactUrl("host=db password = 'with space' dbname=x"),
            "host=db password = '***' dbname=x");
}

TEST(DbConnect, RefusedConnectionIsUnavailableAndKeepsThePasswordSecret) {
  const int port = test::freePort();
  const std::string url =
      "postgresql://mp:hunter2secret@127.0.0.1:" + std::to_string(port) + "/metricpulse";
  try {
    Connection conn(url, std::chrono::seconds(2));
    FAIL() << "connected to a closed port";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "08001");
    EXPECT_TRUE(isUnavailable(e));
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1"));
    EXPECT_THAT(e.what(), HasSubstr(std::to_string(port)));
    EXPECT_THAT(e.what(), Not(HasSubstr("hunter2secret")));
  }
}

TEST(DbConnect, MalformedUrlIsRejectedWithoutEchoingThePassword) {
  // libpq quotes the bad percent-escape in its message, password included.
  try {
    Connection conn("postgresql://mp:%zzhunter2@127.0.0.1/x", std::chrono::seconds(1));
    FAIL() << "accepted a malformed URL";
  } catch (const DbError& e) {
    EXPECT_THAT(e.what(), HasSubstr("invalid database URL"));
    EXPECT_THAT(e.what(), Not(HasSubstr("hunter2")));
  }
}

TEST(DbErrorKinds, OnlyConnectionLevelFailuresAreUnavailable) {
  EXPECT_TRUE(isUnavailable(DbError("x", "08006")));
  EXPECT_TRUE(isUnavailable(DbError("x", "57P01")));
  EXPECT_TRUE(isUnavailable(DbError("x", "53300")));
  EXPECT_FALSE(isUnavailable(DbError("x", "23505")));
  EXPECT_FALSE(isUnavailable(DbError("x", "42601")));
  EXPECT_FALSE(isUnavailable(DbError("x")));
}

TEST(DbPool, ZeroSizeIsRefusedAndNothingConnectsUntilAcquire) {
  EXPECT_THROW(Pool("postgresql://127.0.0.1:1/x", 0, std::chrono::seconds(1)),
               std::invalid_argument);
  Pool pool("postgresql://127.0.0.1:1/x", 4, std::chrono::seconds(1));
  EXPECT_EQ(pool.stats().open, 0u);
  EXPECT_EQ(pool.stats().size, 4u);
}

TEST(DbPool, PingOfAnUnreachableDatabaseIsFalseNotAnException) {
  Pool pool("postgresql://127.0.0.1:" + std::to_string(test::freePort()) + "/x", 2,
            std::chrono::seconds(1));
  EXPECT_FALSE(pool.ping());
  // Failed connects give their slot back.
  EXPECT_EQ(pool.stats().open, 0u);
}

}  // namespace
}  // namespace mp::db
