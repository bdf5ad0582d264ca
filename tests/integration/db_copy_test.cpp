// CopyIn (COPY … FROM STDIN) and the SQLSTATE classes of its failures against a real PostgreSQL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "db/connection.hpp"
#include "db/copy.hpp"
#include "db/sqlstate.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::seconds(10);

class DbCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_.exec("CREATE TABLE items (id int PRIMARY KEY, label text, n int NOT NULL DEFAULT 0)");
  }

  std::int64_t count(const std::string& sql) { return conn_.exec(sql).getInt(0, 0); }

  // The DbError that `copy` throws when ended, or a failure when it throws none.
  static DbError endFailure(CopyIn& copy) {
    try {
      copy.end();
    } catch (const DbError& e) {
      return e;
    }
    ADD_FAILURE() << "the COPY succeeded";
    return DbError("none");
  }

  test::TempDatabase db_;
  Connection conn_{db_.url(), kTimeout};
};

TEST_F(DbCopyTest, RowsSentInPiecesOfAnySizeAreAllStored) {
  std::string data;
  for (int i = 1; i <= 5000; ++i) {
    data +=
        std::to_string(i) + "\tlabel " + std::to_string(i) + "\t" + std::to_string(i % 7) + "\n";
  }
  // Text format: escapes, the NULL marker, and the text \N that is not NULL.
  data += "5001\ttab\\there\\nline\t1\n5002\t\\N\t2\n5003\t\\\\N\t3\n";

  CopyIn copy(conn_, "COPY items (id, label, n) FROM STDIN");
  // Pieces that cut rows and escapes apart.
  std::size_t at = 0;
  for (std::size_t piece = 1; at < data.size(); piece = piece * 3 + 1) {
    const std::size_t n = std::min(piece, data.size() - at);
    copy.put(std::string_view(data).substr(at, n));
    at += n;
  }
  copy.put("");
  const Result copied = copy.end();
  EXPECT_EQ(copied.affected(), 5003);
  EXPECT_EQ(copied.commandTag(), "COPY 5003");

  EXPECT_EQ(count("SELECT count(*) FROM items"), 5003);
  EXPECT_EQ(count("SELECT sum(id) FROM items WHERE id <= 5000"), 5000 * 5001 / 2);
  EXPECT_EQ(count("SELECT sum(n) FROM items WHERE id <= 5000"),
            conn_.exec("SELECT sum(i % 7) FROM generate_series(1, 5000) i").getInt(0, 0));
  EXPECT_EQ(conn_.exec("SELECT label FROM items WHERE id = 4321").get(0, 0), "label 4321");
  EXPECT_EQ(conn_.exec("SELECT label FROM items WHERE id = 5001").get(0, 0), "tab\there\nline");
  EXPECT_TRUE(conn_.exec("SELECT label FROM items WHERE id = 5002").isNull(0, 0));
  EXPECT_EQ(conn_.exec("SELECT label FROM items WHERE id = 5003").get(0, 0), "\\N");
  EXPECT_FALSE(conn_.inTransaction());
}

TEST_F(DbCopyTest, StatementsBeforeTheCopyRunFirstAndTheTransactionCommitsWithTheLast) {
  {
    Transaction tx(conn_);
    CopyIn copy(conn_,
                "CREATE TEMP TABLE staged (LIKE items INCLUDING DEFAULTS) ON COMMIT DROP; "
                "COPY staged (id, label) FROM STDIN");
    copy.put("1\ta\n2\tb\n3\tc\n");
    EXPECT_EQ(copy.end().affected(), 3);
    const auto results = tx.commitAfter(
        "INSERT INTO items SELECT * FROM staged WHERE id <> 2; SELECT count(*) FROM staged");
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].affected(), 2);
    EXPECT_EQ(results[1].getInt(0, 0), 3);
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM pg_class WHERE relname = 'staged'"), 0);
}

TEST_F(DbCopyTest, RefusedDataIsADataErrorNamingTheLineAndNothingIsStored) {
  CopyIn copy(conn_, "COPY items (id, label) FROM STDIN");
  copy.put("1\ta\n2\tb\nthree\tc\n4\td\n");
  const DbError e = endFailure(copy);
  // Class 22 (data exception), as the event store's isolation of bad events relies on.
  EXPECT_EQ(e.sqlstate(), "22P02");
  EXPECT_EQ(sqlstateClass(e.sqlstate()), "22");
  EXPECT_TRUE(isDataError(e));
  EXPECT_FALSE(isUnavailable(e));
  EXPECT_THAT(e.what(), HasSubstr("invalid input syntax for type integer"));
  EXPECT_THAT(e.what(), HasSubstr("line 3, column id"));

  // COPY stores all rows or none, and the connection takes the next statement.
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);
  EXPECT_TRUE(conn_.ping());
}

TEST_F(DbCopyTest, AStoredKeyIsAUniqueViolationAndTheTransactionRollsBack) {
  conn_.exec("INSERT INTO items (id) VALUES (2)");
  {
    Transaction tx(conn_);
    conn_.exec("INSERT INTO items (id) VALUES (10)");
    CopyIn copy(conn_, "COPY items (id) FROM STDIN");
    copy.put("1\n2\n3\n");
    const DbError e = endFailure(copy);
    EXPECT_EQ(e.sqlstate(), kSqlstateUniqueViolation);
    EXPECT_EQ(sqlstateClass(e.sqlstate()), "23");
    EXPECT_TRUE(isDataError(e));
    EXPECT_THAT(e.what(), HasSubstr("Key (id)=(2) already exists"));
    EXPECT_TRUE(conn_.inTransaction());
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 1);
}

TEST_F(DbCopyTest, AnAbandonedCopyStoresNothingAndLeavesTheConnectionUsable) {
  {
    CopyIn copy(conn_, "COPY items (id) FROM STDIN");
    copy.put("1\n2\n");
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);

  {
    Transaction tx(conn_);
    conn_.exec("INSERT INTO items (id) VALUES (9)");
    CopyIn copy(conn_, "COPY items (id) FROM STDIN");
    copy.put("1\n2\n");
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);
  EXPECT_TRUE(conn_.ping());
}

TEST_F(DbCopyTest, AStartThatFailsOrIsNoCopyFromStdinLeavesTheConnectionUsable) {
  try {
    CopyIn copy(conn_, "COPY nowhere (id) FROM STDIN");
    FAIL() << "a COPY into a missing table started";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
    EXPECT_FALSE(isDataError(e));
  }
  try {
    CopyIn copy(conn_, "SELECT 1");
    FAIL() << "a SELECT was taken for a COPY";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), kSqlstateFeatureNotSupported);
  }
  conn_.exec("INSERT INTO items (id) VALUES (1)");
  try {
    CopyIn copy(conn_, "COPY items TO STDOUT");
    FAIL() << "a COPY TO STDOUT was taken for a COPY FROM STDIN";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), kSqlstateFeatureNotSupported);
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 1);
}

TEST_F(DbCopyTest, ASessionTerminatedDuringTheCopyFailsAsUnavailable) {
  CopyIn copy(conn_, "COPY items (id) FROM STDIN");
  copy.put("1\n");
  {
    Connection admin(test::pgAdminUrl(), kTimeout);
    ASSERT_TRUE(
        admin.execArgs("SELECT pg_terminate_backend($1, 5000)", conn_.backendPid()).getBool(0, 0));
  }
  try {
    copy.put("2\n");
    copy.end();
    FAIL() << "a COPY on a terminated session succeeded";
  } catch (const DbError& e) {
    EXPECT_TRUE(isUnavailable(e)) << e.sqlstate() << " " << e.what();
  }
  EXPECT_TRUE(conn_.ping());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);
}

}  // namespace
}  // namespace mp::db
