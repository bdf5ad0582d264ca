// Integration tests of the stats cache (core/stats/cache) against the shared test Redis.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "redis/keys.hpp"
#include "redis/pool.hpp"
#include "stats/cache.hpp"
#include "support/env.hpp"

namespace mp::stats {
namespace {

using namespace std::chrono_literals;

// A website id of this test and process, so that runs never see each other's answers.
std::string uniqueWebsite() {
  static int n = 0;
  return "00000000-0000-4000-8000-" + std::to_string(100000 + getpid() % 900000) +
         std::to_string(100000 + (++n));
}

class StatsCacheIntegration : public ::testing::Test {
 protected:
  redis::Pool pool{redis::parseUrl(test::redisUrl()), 2, 5000ms};
  std::vector<std::pair<std::string, CacheResult>> observed;
  Cache::Observer observer() {
    return [this](const std::string& endpoint, CacheResult result) {
      observed.emplace_back(endpoint, result);
    };
  }
  long ttlOf(const CacheQuery& q) {
    return static_cast<long>(
        pool.acquire()
            ->command({"TTL", redis::statsCacheKey(q.websiteId, q.endpoint, q.params)})
            .integer());
  }
};

TEST_F(StatsCacheIntegration, SecondAskIsAnsweredFromRedisUntilItExpires) {
  Cache cache(pool, 30, observer());
  const CacheQuery q{"top-pages", uniqueWebsite(), "from=2026-01-01&to=2026-01-31&limit=10"};
  int computed = 0;
  auto compute = [&] {
    ++computed;
    return std::string(R"([{"path":"/","views":3}])");
  };

  const auto first = cache.answer(q, compute);
  EXPECT_FALSE(first.hit);
  EXPECT_EQ(first.body, R"([{"path":"/","views":3}])");
  const auto second = cache.answer(q, compute);
  EXPECT_TRUE(second.hit);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(computed, 1);
  EXPECT_GT(ttlOf(q), 0);
  EXPECT_LE(ttlOf(q), 30);
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_EQ(observed[0], std::make_pair(std::string("top-pages"), CacheResult::kMiss));
  EXPECT_EQ(observed[1], std::make_pair(std::string("top-pages"), CacheResult::kHit));

  // Other parameters are another answer.
  const CacheQuery other{q.endpoint, q.websiteId, "from=2026-01-01&to=2026-01-31&limit=5"};
  EXPECT_FALSE(cache.answer(other, compute).hit);
  EXPECT_EQ(computed, 2);
}

TEST_F(StatsCacheIntegration, RealtimeLivesFiveSecondsAtMost) {
  Cache cache(pool, 300);
  EXPECT_EQ(cache.ttlFor("realtime"), 5);
  EXPECT_EQ(cache.ttlFor("overview"), 300);
  const CacheQuery q{"realtime", uniqueWebsite(), ""};
  cache.answer(q, [] { return std::string(R"({"activeVisitors":1})"); });
  EXPECT_GT(ttlOf(q), 0);
  EXPECT_LE(ttlOf(q), 5);
}

TEST_F(StatsCacheIntegration, ZeroTtlNeitherReadsNorStores) {
  Cache cache(pool, 0, observer());
  const CacheQuery q{"overview", uniqueWebsite(), "today=2026-01-01"};
  int computed = 0;
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(cache.answer(q, [&] { return std::to_string(++computed); }).hit);
  }
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(ttlOf(q), -2);  // no such key
  EXPECT_TRUE(observed.empty());
}

TEST_F(StatsCacheIntegration, AFailingComputationStoresNothing) {
  Cache cache(pool, 30);
  const CacheQuery q{"overview", uniqueWebsite(), "today=2026-01-01"};
  EXPECT_THROW(cache.answer(q, []() -> std::string { throw std::runtime_error("db down"); }),
               std::runtime_error);
  EXPECT_EQ(ttlOf(q), -2);
  EXPECT_FALSE(cache.answer(q, [] { return std::string("{}"); }).hit);
}

TEST(StatsCacheWithoutRedis, AnswersAreComputedAndTheErrorCounted) {
  test::RedisProcess server;
  redis::Pool down(redis::parseUrl(server.url()), 1, 500ms);
  server.stop();
  std::vector<CacheResult> observed;
  Cache cache(down, 30, [&](const std::string&, CacheResult r) { observed.push_back(r); });
  const auto answer = cache.answer({"overview", uniqueWebsite(), "today=2026-01-01"},
                                   [] { return std::string("{}"); });
  EXPECT_FALSE(answer.hit);
  EXPECT_EQ(answer.body, "{}");
  EXPECT_EQ(observed, std::vector<CacheResult>{CacheResult::kError});
}

}  // namespace
}  // namespace mp::stats
