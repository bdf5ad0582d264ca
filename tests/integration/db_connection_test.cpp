// Connection, Result and Transaction against a real PostgreSQL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "db/connection.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kTimeout = std::chrono::seconds(10);

class DbConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_.exec("CREATE TABLE items (id int PRIMARY KEY, label text, flag boolean)");
  }

  std::int64_t count(const std::string& sql) { return conn_.exec(sql).getInt(0, 0); }

  // Terminates `pid` from another session and waits until it has gone.
  void terminate(int pid) {
    Connection admin(test::pgAdminUrl(), kTimeout);
    EXPECT_TRUE(admin.execArgs("SELECT pg_terminate_backend($1, 5000)", pid).getBool(0, 0));
  }

  test::TempDatabase db_;
  Connection conn_{db_.url(), kTimeout};
};

TEST_F(DbConnectionTest, ParametersRoundTripIncludingNullAndUnicode) {
  auto inserted = conn_.execArgs("INSERT INTO items VALUES ($1, $2, $3), ($4, $5, $6)", 1,
                                 "Zürich — 東京 😀", true, 2, std::nullopt, false);
  EXPECT_EQ(inserted.affected(), 2);
  EXPECT_EQ(inserted.commandTag(), "INSERT 0 2");

  auto rows = conn_.exec("SELECT id, label, flag FROM items ORDER BY id");
  ASSERT_EQ(rows.rows(), 2);
  ASSERT_EQ(rows.cols(), 3);
  EXPECT_EQ(rows.getInt(0, "id"), 1);
  EXPECT_EQ(rows.get(0, "label"), "Zürich — 東京 😀");
  EXPECT_TRUE(rows.getBool(0, "flag"));
  EXPECT_FALSE(rows.isNull(0, 1));
  EXPECT_TRUE(rows.isNull(1, "label"));
  EXPECT_EQ(rows.opt(1, "label"), std::nullopt);
  EXPECT_EQ(rows.get(1, 1), "");
  EXPECT_FALSE(rows.getBool(1, 2));
  EXPECT_EQ(rows.column("flag"), 2);
  EXPECT_THROW(rows.column("nope"), std::out_of_range);
  EXPECT_THROW(rows.get(2, 0), std::out_of_range);
  EXPECT_THROW(rows.getInt(1, "label"), DbError);
}

TEST_F(DbConnectionTest, ParametersAreNeverSplicedIntoTheStatement) {
  const std::string hostile = "x'); DROP TABLE items; --";
  conn_.exec("INSERT INTO items (id, label) VALUES ($1, $2)", {"1", hostile});
  EXPECT_EQ(conn_.exec("SELECT label FROM items").get(0, 0), hostile);
  EXPECT_EQ(count("SELECT count(*) FROM items"), 1);
}

TEST_F(DbConnectionTest, NulByteInAParameterIsRefusedNotTruncated) {
  try {
    conn_.exec("INSERT INTO items (id, label) VALUES (1, $1)", {std::string("ad\0min", 6)});
    FAIL() << "a parameter with a NUL byte was sent";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "22021");
  }
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);
}

TEST_F(DbConnectionTest, StatementErrorsCarrySqlstateAndServerMessage) {
  conn_.exec("INSERT INTO items (id) VALUES (1)");
  try {
    conn_.exec("INSERT INTO items (id) VALUES (1)");
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_FALSE(isUnavailable(e));
    EXPECT_THAT(e.what(), HasSubstr("items_pkey"));
    EXPECT_THAT(e.what(), HasSubstr("Key (id)=(1) already exists"));
  }
  try {
    conn_.exec("SELEC 1");
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "42601");
  }
  // The connection is still usable after statement errors.
  EXPECT_TRUE(conn_.ping());
}

TEST_F(DbConnectionTest, ScriptRunsEveryStatementAndReportsTheFailingLine) {
  conn_.execScript("INSERT INTO items (id) VALUES (1);\nINSERT INTO items (id) VALUES (2);");
  EXPECT_EQ(count("SELECT count(*) FROM items"), 2);
  try {
    conn_.execScript(
        "INSERT INTO items (id) VALUES (3);\n\n-- comment\nINSERT INTO nowhere VALUES (1);");
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
    EXPECT_THAT(e.what(), HasSubstr("line 4"));
  }
  // A script outside a transaction block is one implicit transaction: the failure undid row 3.
  EXPECT_EQ(count("SELECT count(*) FROM items"), 2);
}

TEST_F(DbConnectionTest, ServerNoticesDoNotReachStderr) {
  ::testing::internal::CaptureStderr();
  conn_.execScript("CREATE TABLE IF NOT EXISTS items (id int); DROP TABLE IF EXISTS nothing_here;");
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), Not(HasSubstr("NOTICE")));
}

TEST_F(DbConnectionTest, TransactionRollsBackWhenNotCommitted) {
  {
    Transaction tx(conn_);
    conn_.exec("INSERT INTO items (id) VALUES (1)");
    EXPECT_TRUE(conn_.inTransaction());
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);

  try {
    Transaction tx(conn_);
    conn_.exec("INSERT INTO items (id) VALUES (2)");
    throw std::runtime_error("caller gave up");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);

  {
    Transaction tx(conn_, Isolation::kSerializable);
    conn_.exec("INSERT INTO items (id) VALUES (3)");
    tx.commit();
  }
  EXPECT_EQ(count("SELECT count(*) FROM items"), 1);
}

TEST_F(DbConnectionTest, CommitOfAFailedTransactionThrowsAndKeepsNothing) {
  Transaction tx(conn_);
  conn_.exec("INSERT INTO items (id) VALUES (1)");
  EXPECT_THROW(conn_.exec("INSERT INTO items (id) VALUES (1)"), DbError);
  try {
    tx.commit();
    FAIL() << "COMMIT of an aborted transaction reported success";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "25P02");
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);
}

TEST_F(DbConnectionTest, ExecAllReturnsTheResultOfEveryStatementOfAScript) {
  const auto results = conn_.execAll(
      "INSERT INTO items (id) VALUES (1), (2); SELECT count(*) FROM items; "
      "UPDATE items SET flag = true");
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].affected(), 2);
  EXPECT_EQ(results[1].getInt(0, 0), 2);
  EXPECT_EQ(results[2].commandTag(), "UPDATE 2");

  try {
    conn_.execAll(
        "INSERT INTO items (id) VALUES (3); INSERT INTO items (id) VALUES (1); "
        "INSERT INTO items (id) VALUES (4)");
    FAIL() << "a script with a failing statement succeeded";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
  }
  // Outside a transaction block the script is one implicit transaction: the failure undid row 3.
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 2);
}

TEST_F(DbConnectionTest, CommitAfterRunsTheLastStatementsWithCommit) {
  {
    Transaction tx(conn_);
    conn_.exec("INSERT INTO items (id) VALUES (1)");
    const auto results =
        tx.commitAfter("INSERT INTO items (id) VALUES (2), (3); UPDATE items SET flag = true");
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].affected(), 2);
    EXPECT_EQ(results[1].affected(), 3);
    EXPECT_FALSE(conn_.inTransaction());
  }
  EXPECT_EQ(count("SELECT count(*) FROM items WHERE flag"), 3);

  // A failing statement skips COMMIT; the transaction ends rolled back.
  {
    Transaction tx(conn_);
    conn_.exec("INSERT INTO items (id) VALUES (4)");
    try {
      tx.commitAfter("INSERT INTO items (id) VALUES (5); INSERT INTO items (id) VALUES (1)");
      FAIL() << "commitAfter() of a failing statement succeeded";
    } catch (const DbError& e) {
      EXPECT_EQ(e.sqlstate(), "23505");
    }
  }
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(count("SELECT count(*) FROM items"), 3);

  // After an earlier failure, COMMIT alone reports the rollback.
  {
    Transaction tx(conn_);
    EXPECT_THROW(conn_.exec("INSERT INTO items (id) VALUES (1)"), DbError);
    try {
      tx.commitAfter("");
      FAIL() << "COMMIT of an aborted transaction reported success";
    } catch (const DbError& e) {
      EXPECT_EQ(e.sqlstate(), kSqlstateInFailedTransaction);
    }
  }
  EXPECT_FALSE(conn_.inTransaction());
}

// As the stats answers read: one consistent, read-only moment, with room for sorts.
const TransactionOptions kSnapshot{
    Isolation::kRepeatableRead, true, {{"work_mem", "'32MB'"}, {"jit", "off"}}};

TEST_F(DbConnectionTest, ASnapshotTransactionIsReadOnlyAndCarriesItsSettings) {
  conn_.exec("INSERT INTO items (id) VALUES (1)");
  const std::string workMem(conn_.exec("SHOW work_mem").get(0, 0));
  ASSERT_NE(workMem, "32MB");
  {
    Transaction tx(conn_, kSnapshot);
    EXPECT_TRUE(conn_.inTransaction());
    EXPECT_EQ(conn_.exec("SHOW transaction_isolation").get(0, 0), "repeatable read");
    EXPECT_EQ(conn_.exec("SHOW transaction_read_only").get(0, 0), "on");
    EXPECT_EQ(conn_.exec("SHOW work_mem").get(0, 0), "32MB");
    EXPECT_EQ(conn_.exec("SHOW jit").get(0, 0), "off");
    try {
      conn_.exec("INSERT INTO items (id) VALUES (2)");
      FAIL() << "a read-only transaction wrote";
    } catch (const DbError& e) {
      EXPECT_EQ(e.sqlstate(), "25006");
    }
  }
  // The settings and the transaction end together; nothing was written.
  EXPECT_FALSE(conn_.inTransaction());
  EXPECT_EQ(conn_.exec("SHOW work_mem").get(0, 0), workMem);
  EXPECT_EQ(count("SELECT count(*) FROM items"), 1);
}

TEST_F(DbConnectionTest, ASnapshotTransactionSeesOneMomentThroughout) {
  conn_.exec("INSERT INTO items (id) VALUES (1), (2)");
  Connection writer(db_.url(), kTimeout);
  {
    Transaction tx(conn_, kSnapshot);
    EXPECT_EQ(count("SELECT count(*) FROM items"), 2);
    // Committed by another session after the snapshot's first statement: not seen.
    writer.exec("INSERT INTO items (id) VALUES (3)");
    writer.exec("DELETE FROM items WHERE id = 1");
    EXPECT_EQ(count("SELECT count(*) FROM items"), 2);
    EXPECT_EQ(count("SELECT min(id) FROM items"), 1);
    EXPECT_EQ(count("SELECT max(id) FROM items"), 2);
  }
  EXPECT_EQ(count("SELECT min(id) FROM items"), 2);
  EXPECT_EQ(count("SELECT max(id) FROM items"), 3);
}

TEST_F(DbConnectionTest, AFailingSettingLeavesNoTransactionOpen) {
  const TransactionOptions bad{Isolation::kReadCommitted, false, {{"no_such_setting", "1"}}};
  try {
    Transaction tx(conn_, bad);
    FAIL() << "an unknown setting was accepted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "42704");
  }
  EXPECT_FALSE(conn_.inTransaction());
  conn_.exec("INSERT INTO items (id) VALUES (1)");
  EXPECT_EQ(count("SELECT count(*) FROM items"), 1);
}

TEST_F(DbConnectionTest, TerminatedSessionFailsAsUnavailableAndPingReconnects) {
  const int pid = conn_.backendPid();
  terminate(pid);
  try {
    conn_.exec("SELECT 1");
    FAIL() << "a terminated session answered";
  } catch (const DbError& e) {
    EXPECT_TRUE(isUnavailable(e)) << e.sqlstate() << " " << e.what();
  }
  EXPECT_FALSE(conn_.healthy());
  EXPECT_TRUE(conn_.ping());
  EXPECT_TRUE(conn_.healthy());
  EXPECT_NE(conn_.backendPid(), pid);
  EXPECT_EQ(count("SELECT count(*) FROM items"), 0);
}

TEST_F(DbConnectionTest, SessionIsTaggedAndSpeaksUtf8) {
  EXPECT_EQ(conn_.exec("SELECT current_setting('application_name')").get(0, 0), "metricpulse");
  EXPECT_EQ(conn_.exec("SHOW client_encoding").get(0, 0), "UTF8");
  EXPECT_GE(conn_.serverVersion(), 130000);
}

TEST_F(DbConnectionTest, FailedConnectNamesTheDatabaseButNotThePassword) {
  std::string url = test::pgAdminUrl();
  // postgresql://user@host:port/db → postgresql://user:pw@host:port/no_such_db
  url.replace(url.find('@'), 1, ":hunter2secret@");
  url = url.substr(0, url.rfind('/')) + "/mp_no_such_database";
  try {
    Connection bad(url, kTimeout);
    FAIL();
  } catch (const DbError& e) {
    EXPECT_THAT(e.what(), HasSubstr("mp_no_such_database"));
    EXPECT_THAT(e.what(), Not(HasSubstr("hunter2secret")));
    EXPECT_TRUE(isUnavailable(e));
  }
}

}  // namespace
}  // namespace mp::db
