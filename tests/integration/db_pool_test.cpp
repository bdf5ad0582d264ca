// The connection pool against a real PostgreSQL: reuse, limits, timeouts, broken connections.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "db/pool.hpp"
#include "support/env.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr auto kTimeout = std::chrono::seconds(10);

class DbPoolTest : public ::testing::Test {
 protected:
  void terminate(int pid) {
    Connection admin(test::pgAdminUrl(), kTimeout);
    EXPECT_TRUE(admin.execArgs("SELECT pg_terminate_backend($1, 5000)", pid).getBool(0, 0));
  }

  test::TempDatabase db_;
};

TEST_F(DbPoolTest, ReturnedConnectionIsReused) {
  Pool pool(db_.url(), 2, kTimeout);
  int pid = 0;
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease);
    pid = lease->backendPid();
    EXPECT_EQ(pool.stats().open, 1u);
    EXPECT_EQ(pool.stats().idle, 0u);
  }
  EXPECT_EQ(pool.stats().idle, 1u);
  auto again = pool.acquire();
  EXPECT_EQ(again->backendPid(), pid);
  EXPECT_EQ(again->exec("SELECT 41 + 1").getInt(0, 0), 42);
  EXPECT_EQ(pool.stats().open, 1u);
}

TEST_F(DbPoolTest, ExhaustedPoolTimesOutWithDbError) {
  Pool pool(db_.url(), 1, kTimeout);
  auto held = pool.acquire();
  const auto start = std::chrono::steady_clock::now();
  try {
    auto second = pool.acquire(200ms);
    FAIL() << "a second connection was lent from a pool of one";
  } catch (const DbError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no database connection available within 200 ms"));
    EXPECT_EQ(e.sqlstate(), "53300");
    EXPECT_TRUE(isUnavailable(e));
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(pool.stats().open, 1u);
}

TEST_F(DbPoolTest, WaiterGetsTheConnectionWhenItComesBack) {
  Pool pool(db_.url(), 1, kTimeout);
  auto held = pool.acquire();
  std::thread giver([&held] {
    std::this_thread::sleep_for(100ms);
    held.release();
  });
  auto lease = pool.acquire(5s);
  EXPECT_EQ(lease->exec("SELECT 1").getInt(0, 0), 1);
  giver.join();
}

TEST_F(DbPoolTest, ConnectionKilledWhileIdleIsReplaced) {
  Pool pool(db_.url(), 1, kTimeout);
  int pid = 0;
  {
    auto lease = pool.acquire();
    pid = lease->backendPid();
  }
  terminate(pid);
  auto lease = pool.acquire();
  // The caller's first statement works: it never sees the dead session.
  EXPECT_EQ(lease->exec("SELECT 1").getInt(0, 0), 1);
  EXPECT_NE(lease->backendPid(), pid);
  EXPECT_EQ(pool.stats().open, 1u);
}

TEST_F(DbPoolTest, ConnectionThatBrokeWhileLentIsDropped) {
  Pool pool(db_.url(), 1, kTimeout);
  {
    auto lease = pool.acquire();
    terminate(lease->backendPid());
    EXPECT_THROW(lease->exec("SELECT 1"), DbError);
  }
  EXPECT_EQ(pool.stats().open, 0u);
  auto lease = pool.acquire();
  EXPECT_EQ(lease->exec("SELECT 1").getInt(0, 0), 1);
}

TEST_F(DbPoolTest, TransactionLeftOpenIsRolledBackBeforeReuse) {
  Pool pool(db_.url(), 1, kTimeout);
  pool.acquire()->exec("CREATE TABLE t (x int)");
  {
    auto lease = pool.acquire();
    lease->exec("BEGIN");
    lease->exec("INSERT INTO t VALUES (1)");
  }
  auto lease = pool.acquire();
  EXPECT_FALSE(lease->inTransaction());
  EXPECT_EQ(lease->exec("SELECT count(*) FROM t").getInt(0, 0), 0);
}

TEST_F(DbPoolTest, ManyThreadsNeverExceedThePoolSize) {
  constexpr std::size_t kSize = 3;
  Pool pool(db_.url(), kSize, kTimeout);
  std::mutex mutex;
  std::set<int> pids;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        try {
          auto lease = pool.acquire(10s);
          const auto pid = lease->exec("SELECT pg_backend_pid()").getInt(0, 0);
          std::lock_guard lock(mutex);
          pids.insert(static_cast<int>(pid));
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(pids.size(), kSize);
  EXPECT_LE(pool.stats().open, kSize);
  Connection admin(db_.url(), kTimeout);
  EXPECT_LE(admin
                .exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND application_name = 'metricpulse' AND pid <> pg_backend_pid()")
                .getInt(0, 0),
            static_cast<std::int64_t>(kSize));
}

TEST_F(DbPoolTest, PingReportsReadiness) {
  Pool pool(db_.url(), 1, kTimeout);
  EXPECT_TRUE(pool.ping());
  // All connections lent out: not ready, and no exception.
  auto held = pool.acquire();
  EXPECT_FALSE(pool.ping(50ms));
}

TEST_F(DbPoolTest, FailedConnectDoesNotLeakItsSlot) {
  std::string url = db_.url();
  url = url.substr(0, url.rfind('/')) + "/mp_no_such_database";
  Pool pool(url, 1, kTimeout);
  for (int i = 0; i < 3; ++i) {
    try {
      pool.acquire(100ms);
      FAIL();
    } catch (const DbError& e) {
      // The connect error each time, never "no connection available".
      EXPECT_EQ(e.sqlstate(), "08001") << e.what();
    }
  }
  EXPECT_EQ(pool.stats().open, 0u);
}

TEST_F(DbPoolTest, LeaseOutlivingItsPoolEndsSafely) {
  auto pool = std::make_unique<Pool>(db_.url(), 1, kTimeout);
  auto lease = pool->acquire();
  pool.reset();
  EXPECT_EQ(lease->exec("SELECT 1").getInt(0, 0), 1);
  lease.release();
  EXPECT_FALSE(lease);
}

}  // namespace
}  // namespace mp::db
