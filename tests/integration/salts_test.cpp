// Daily salts against real PostgreSQL: creation, one row under concurrent first calls, rollover,
// pruning.
#include "events/salts.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/pool.hpp"
#include "support/env.hpp"

namespace mp::events {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;

// A clock the test moves; starts at noon UTC on a fixed day.
class FakeClock {
 public:
  explicit FakeClock(sys_days day)
      : now_(std::chrono::system_clock::time_point(day + 12h).time_since_epoch().count()) {}
  SaltStore::Clock clock() {
    return [this] {
      return std::chrono::system_clock::time_point(
          std::chrono::system_clock::duration(now_.load()));
    };
  }
  void advance(std::chrono::system_clock::duration d) { now_ += d.count(); }

 private:
  std::atomic<std::chrono::system_clock::duration::rep> now_;
};

const sys_days kDay = std::chrono::year{2030} / 6 / 15;

class Salt : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_ = std::make_unique<db::Connection>(db_.url(), 10s);
    db::Migrator(*conn_).migrate();
    pool_ = std::make_unique<db::Pool>(db_.url(), 8, 10s);
  }

  std::int64_t count(const std::string& where = "true") {
    return conn_->exec("SELECT count(*) FROM salts WHERE " + where).getInt(0, 0);
  }
  std::string saltOf(const std::string& day) {
    auto r = conn_->execArgs("SELECT encode(salt, 'hex') FROM salts WHERE day = $1::date", day);
    return r.rows() == 1 ? std::string(r.get(0, 0)) : std::string();
  }
  static std::string hex(const std::string& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
    return out;
  }

  test::TempDatabase db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<db::Pool> pool_;
};

TEST_F(Salt, FirstCallCreatesTodaysSaltForTheUtcDay) {
  ASSERT_EQ(count(), 0);
  SaltStore store(*pool_);
  auto salts = store.current();
  EXPECT_EQ(salts.today.size(), 32u);
  EXPECT_TRUE(salts.yesterday.empty());
  EXPECT_EQ(count(), 1);
  // The day is PostgreSQL's UTC date, whatever the session time zone says.
  EXPECT_EQ(count("day = (now() AT TIME ZONE 'UTC')::date"), 1);
  const std::string row(conn_->exec("SELECT encode(salt, 'hex') FROM salts").get(0, 0));
  EXPECT_EQ(row, hex(salts.today));

  // Another daemon gets the same salt, so both count a visitor once.
  SaltStore other(*pool_);
  EXPECT_EQ(other.current().today, salts.today);
  EXPECT_EQ(count(), 1);
}

TEST_F(Salt, DifferentDatabasesGetDifferentRandomSalts) {
  test::TempDatabase otherDb;
  {
    db::Connection conn(otherDb.url(), 10s);
    db::Migrator(conn).migrate();
  }
  db::Pool otherPool(otherDb.url(), 1, 10s);
  FakeClock clock(kDay);
  EXPECT_NE(SaltStore(*pool_, clock.clock()).current().today,
            SaltStore(otherPool, clock.clock()).current().today);
}

TEST_F(Salt, ReadsAnExistingSaltByteForByte) {
  const std::string stored = "00ff10ab7f80" + std::string(52, 'e');
  conn_->execArgs("INSERT INTO salts (day, salt) VALUES ('2030-06-15', decode($1, 'hex'))", stored);
  conn_->execArgs("INSERT INTO salts (day, salt) VALUES ('2030-06-14', decode($1, 'hex'))",
                  std::string(40, '1'));
  FakeClock clock(kDay);
  SaltStore store(*pool_, clock.clock());
  auto salts = store.current();
  EXPECT_EQ(hex(salts.today), stored);
  EXPECT_EQ(hex(salts.yesterday), std::string(40, '1'));
  EXPECT_EQ(count(), 2);
}

TEST_F(Salt, CachedWithinTheDayWithoutQuerying) {
  FakeClock clock(kDay);
  SaltStore store(*pool_, clock.clock());
  const auto first = store.current();
  // Were current() to query, it would now create a new salt; the cached one proves it does not.
  conn_->exec("DELETE FROM salts");
  clock.advance(11h);  // 23:00, same UTC day
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(store.current().today, first.today);
  EXPECT_EQ(count(), 0);
}

TEST_F(Salt, ConcurrentFirstCallsLeaveOneRow) {
  FakeClock clock(kDay);
  // Several rounds, each a new day, so the race on the first INSERT happens more than once.
  for (int round = 0; round < 5; ++round) {
    constexpr int kThreads = 8;
    std::latch start(kThreads);
    std::vector<std::string> seen(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        try {
          SaltStore store(*pool_, clock.clock());  // as eight daemons would
          start.arrive_and_wait();
          seen[static_cast<std::size_t>(t)] = store.current().today;
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(t)] = e.what();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) EXPECT_EQ(e, "");
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 1u) << "round " << round;
    EXPECT_EQ(seen[0].size(), 32u);
    EXPECT_EQ(count(), round + 1);
    clock.advance(24h);
  }
}

TEST_F(Salt, ConcurrentCallsOnOneStoreAgree) {
  FakeClock clock(kDay);
  SaltStore store(*pool_, clock.clock());
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<std::string> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 200; ++i) seen[static_cast<std::size_t>(t)] = store.current().today;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 1u);
  EXPECT_EQ(count(), 1);
}

TEST_F(Salt, MidnightMakesTodayYesterday) {
  FakeClock clock(kDay);
  SaltStore store(*pool_, clock.clock());
  const auto day1 = store.current();
  clock.advance(12h);  // exactly 00:00 UTC the next day
  const auto day2 = store.current();
  EXPECT_EQ(day2.yesterday, day1.today);
  EXPECT_NE(day2.today, day1.today);
  EXPECT_EQ(saltOf("2030-06-16"), hex(day2.today));

  clock.advance(48h);  // a day with no traffic in between: no salt for yesterday
  const auto day4 = store.current();
  EXPECT_TRUE(day4.yesterday.empty());
  EXPECT_NE(day4.today, day2.today);
  EXPECT_EQ(count(), 3);
}

TEST_F(Salt, PruneDeletesOlderThanYesterdayOnly) {
  for (const char* day : {"2030-06-01", "2030-06-10", "2030-06-13", "2030-06-14", "2030-06-15"}) {
    conn_->execArgs("INSERT INTO salts (day, salt) VALUES ($1::date, decode($2, 'hex'))", day,
                    std::string(64, day[9]));
  }
  FakeClock clock(kDay);
  SaltStore store(*pool_, clock.clock());
  EXPECT_EQ(store.prune(), 3);
  auto days = conn_->exec("SELECT day::text FROM salts ORDER BY day");
  ASSERT_EQ(days.rows(), 2);
  EXPECT_EQ(days.get(0, 0), "2030-06-14");
  EXPECT_EQ(days.get(1, 0), "2030-06-15");
  EXPECT_EQ(store.prune(), 0);

  // The hand-made rows are the ones current() serves.
  auto salts = store.current();
  EXPECT_EQ(hex(salts.today), std::string(64, '5'));
  EXPECT_EQ(hex(salts.yesterday), std::string(64, '4'));

  clock.advance(24h);
  EXPECT_EQ(store.prune(), 1);  // 06-14 goes; 06-15 is now yesterday
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(store.current().yesterday, salts.today);
  EXPECT_EQ(count(), 2);
}

TEST(SaltStoreUnavailable, UnreachableDatabaseIsAnUnavailableDbError) {
  // Port 1 on loopback refuses at once: the store must report it, not hang or return no salt.
  db::Pool pool("postgresql://postgres@127.0.0.1:1/postgres", 1, 2s);
  SaltStore store(pool);
  try {
    store.current();
    ADD_FAILURE() << "current() returned without a database";
  } catch (const DbError& e) {
    EXPECT_TRUE(db::isUnavailable(e)) << e.sqlstate() << " " << e.what();
  }
  // Repeated calls (the retry pause included) keep the SQLSTATE, so ingest can still tell an
  // outage from a refused statement.
  for (int i = 0; i < 100; ++i) {
    try {
      store.current();
      ADD_FAILURE();
    } catch (const DbError& e) {
      ASSERT_TRUE(db::isUnavailable(e)) << e.sqlstate();
    }
  }
  EXPECT_THROW(store.prune(), DbError);
}

}  // namespace
}  // namespace mp::events
