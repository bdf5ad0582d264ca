// Integration tests of the Redis pool shared by many threads against the shared test Redis.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "redis/pool.hpp"
#include "support/env.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

using namespace std::chrono_literals;

std::string uniqueKey(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "mp:test:" + std::string(info->name()) + ":" + std::to_string(getpid()) + ":" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ":" + name;
}

TEST(RedisPoolIntegration, EightThreadsShareFourConnections) {
  constexpr int kThreads = 8;
  constexpr int kIncrements = 1000;
  Pool pool(parseUrl(test::redisUrl()), 4, 5000ms);
  const std::string counter = uniqueKey("counter");

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        try {
          auto lease = pool.acquire();
          if (!lease->command({"INCR", counter}).isInteger()) ++failures;
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(failures.load(), 0);
  auto lease = pool.acquire();
  EXPECT_EQ(lease->command({"GET", counter}).str(), std::to_string(kThreads * kIncrements));
  lease->command({"DEL", counter});
  EXPECT_EQ(pool.available(), 3u);
}

TEST(RedisPoolIntegration, ClientsReconnectAfterAnOutage) {
  test::RedisProcess server;
  Pool pool(parseUrl(server.url()), 2, 500ms);
  {
    auto a = pool.acquire();
    auto b = pool.acquire();
    EXPECT_TRUE(a->ping());
    EXPECT_TRUE(b->ping());
  }
  EXPECT_TRUE(pool.ping());
  server.stop();
  EXPECT_FALSE(pool.ping());
  {
    auto lease = pool.acquire();
    EXPECT_THROW(lease->command({"INCR", "n"}), RedisError);
  }
  EXPECT_EQ(pool.available(), 2u);
  server.start();
  // The server answers -LOADING while it replays its append-only file; ping() is rightly false
  // until then, and the pool must come back by itself afterwards.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pool.ping() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(pool.ping());
  for (int i = 0; i < 4; ++i) {
    auto lease = pool.acquire();
    EXPECT_TRUE(lease->ping()) << lease->lastError();
  }
}

}  // namespace
}  // namespace mp::redis
