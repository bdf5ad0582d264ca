// Integration tests of the login throttle (core/auth/login_throttle) against the shared test
// Redis.
#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "redis/keys.hpp"
#include "redis/pool.hpp"
#include "support/env.hpp"

namespace mp::auth {
namespace {

using namespace std::chrono_literals;

class LoginThrottleIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    email = std::string(info->name()) + "-" + std::to_string(getpid()) + "@example.com";
    other = "other-" + email;
    address = "192.0.2." + std::to_string(getpid() % 250 + 1);
    clear();
  }
  void TearDown() override { clear(); }
  void clear() {
    pool.acquire()->command({"DEL", redis::loginFailEmailKey(email),
                             redis::loginFailEmailKey(other), redis::loginFailIpKey(address)});
  }
  std::string counter(const std::string& key) {
    const auto reply = pool.acquire()->command({"GET", key});
    return reply.isString() ? reply.str() : "none";
  }

  redis::Pool pool{redis::parseUrl(test::redisUrl()), 2, 5000ms};
  std::string email, other, address;
};

TEST_F(LoginThrottleIntegration, TheEmailIsLockedAfterItsLimitForTheWindow) {
  const LoginLimits limits{3, 100, 60s};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(LoginThrottle(pool, limits, email, address).reserve(), 0) << "attempt " << i;
  }
  const long wait = LoginThrottle(pool, limits, email, address).reserve();
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 60);
  // A refused attempt counts nothing: the lock does not extend itself.
  EXPECT_EQ(counter(redis::loginFailEmailKey(email)), "3");
  EXPECT_EQ(counter(redis::loginFailIpKey(address)), "3");
  // Another email from the same address still gets through.
  EXPECT_EQ(LoginThrottle(pool, limits, other, address).reserve(), 0);
}

TEST_F(LoginThrottleIntegration, TheAddressIsLockedAcrossEmails) {
  const LoginLimits limits{100, 2, 60s};
  EXPECT_EQ(LoginThrottle(pool, limits, email, address).reserve(), 0);
  EXPECT_EQ(LoginThrottle(pool, limits, other, address).reserve(), 0);
  EXPECT_GE(LoginThrottle(pool, limits, "third-" + email, address).reserve(), 1);
}

TEST_F(LoginThrottleIntegration, ASuccessClearsTheEmailAndRefundsTheAddress) {
  const LoginLimits limits{2, 100, 60s};
  EXPECT_EQ(LoginThrottle(pool, limits, email, address).reserve(), 0);
  LoginThrottle throttle(pool, limits, email, address);
  EXPECT_EQ(throttle.reserve(), 0);
  throttle.succeeded();
  EXPECT_EQ(counter(redis::loginFailEmailKey(email)), "none");
  EXPECT_EQ(counter(redis::loginFailIpKey(address)), "1");
  EXPECT_EQ(LoginThrottle(pool, limits, email, address).reserve(), 0);
}

TEST(LoginThrottleWithoutRedis, LoginsGoThrough) {
  test::RedisProcess server;
  redis::Pool down(redis::parseUrl(server.url()), 1, 500ms);
  server.stop();
  LoginThrottle throttle(down, {1, 1, 60s}, "a@example.com", "192.0.2.1");
  EXPECT_EQ(throttle.reserve(), 0);
  EXPECT_EQ(throttle.reserve(), 0);
  throttle.succeeded();  // logged, never thrown
}

}  // namespace
}  // namespace mp::auth
