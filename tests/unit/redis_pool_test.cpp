// Unit tests of Pool bookkeeping; clients connect lazily, so no server is needed.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "redis/pool.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

using std::chrono::milliseconds;

// Nothing listens there, and nothing in these tests sends a command.
const Url kUnusedUrl = parseUrl("redis://127.0.0.1:1");

TEST(RedisPool, LeasesComeBack) {
  Pool pool(kUnusedUrl, 2, milliseconds(100));
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.available(), 2u);
  {
    auto lease = pool.acquire();
    EXPECT_EQ(pool.available(), 1u);
    EXPECT_FALSE(lease->connected());
    EXPECT_EQ(lease.client().url(), kUnusedUrl);
  }
  EXPECT_EQ(pool.available(), 2u);
}

TEST(RedisPool, ExhaustedPoolTimesOut) {
  Pool pool(kUnusedUrl, 1, milliseconds(100));
  auto held = pool.acquire();
  EXPECT_FALSE(pool.tryAcquire().has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(pool.acquire(), RedisError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(90));
  { auto moved = std::move(held); }
  EXPECT_TRUE(pool.tryAcquire().has_value());
}

TEST(RedisPool, MoveAssignmentReturnsTheOldClient) {
  Pool pool(kUnusedUrl, 2, milliseconds(100));
  auto a = pool.acquire();
  auto b = pool.acquire();
  EXPECT_EQ(pool.available(), 0u);
  a = std::move(b);
  EXPECT_EQ(pool.available(), 1u);
}

TEST(RedisPool, LeaseMayOutliveThePool) {
  std::optional<Pool::Lease> lease;
  {
    Pool pool(kUnusedUrl, 1, milliseconds(100));
    lease.emplace(pool.acquire());
  }
  EXPECT_FALSE((*lease)->connected());
  lease.reset();
}

TEST(RedisPool, PingIsFalseWhenNothingAnswers) {
  Pool pool(kUnusedUrl, 1, milliseconds(100));
  EXPECT_FALSE(pool.ping());
  auto held = pool.acquire();
  EXPECT_FALSE(pool.ping());  // no client free: not ready either, and no exception
}

TEST(RedisPool, ZeroSizeIsRejected) {
  EXPECT_THROW(Pool(kUnusedUrl, 0, milliseconds(100)), std::invalid_argument);
}

}  // namespace
}  // namespace mp::redis
