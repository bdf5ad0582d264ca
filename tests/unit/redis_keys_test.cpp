// Unit tests of the Redis key and channel names other daemons and tools depend on.
#include <gtest/gtest.h>

#include "redis/keys.hpp"

namespace mp::redis {
namespace {

TEST(RedisKeys, IngestStreamAndGroup) {
  // Renaming these strands every queued event of a running installation: they are a contract.
  EXPECT_EQ(kIngestStream, "mp:ingest");
  EXPECT_EQ(kIngestGroup, "mp:writers");
}

TEST(RedisKeys, EventsChannelCarriesTheWebsiteId) {
  EXPECT_EQ(eventsChannel("5b1c7f3e-0000-4000-8000-000000000001"),
            "events:5b1c7f3e-0000-4000-8000-000000000001");
}

TEST(RedisKeys, LoginFailureKeys) {
  EXPECT_EQ(loginFailEmailKey("Alice@Example.COM"), "mp:login:email:alice@example.com");
  EXPECT_EQ(loginFailEmailKey("alice@example.com"), loginFailEmailKey("ALICE@example.com"));
  EXPECT_EQ(loginFailIpKey("203.0.113.7"), "mp:login:ip:203.0.113.7");
  EXPECT_EQ(loginFailIpKey("2001:db8:1:2:aaaa::1"), "mp:login:ip:2001:db8:1:2::/64");
}

// One subscriber is commonly given a whole IPv6 /64 and may use any address in it: a limit per
// full address would give them 2^64 budgets.
TEST(RedisKeys, PerAddressLimitsCountIpv6ByItsSlash64) {
  EXPECT_EQ(rateLimitKey("2001:db8:1:2::1", 7),
            rateLimitKey("2001:db8:1:2:ffff:ffff:ffff:ffff", 7));
  EXPECT_EQ(loginFailIpKey("2001:db8:1:2::1"), loginFailIpKey("2001:DB8:1:2:0:0:0:abcd"));
  EXPECT_NE(rateLimitKey("2001:db8:1:2::1", 7), rateLimitKey("2001:db8:1:3::1", 7));
  EXPECT_NE(loginFailIpKey("2001:db8:1:2::1"), loginFailIpKey("2001:db8:1:3::1"));
  // IPv4 is unchanged, also when a dual-stack socket reports it IPv4-mapped.
  EXPECT_NE(rateLimitKey("198.51.100.1", 7), rateLimitKey("198.51.100.2", 7));
  EXPECT_EQ(rateLimitKey("::ffff:198.51.100.1", 7), rateLimitKey("198.51.100.1", 7));
  EXPECT_EQ(loginFailIpKey("::ffff:198.51.100.1"), "mp:login:ip:198.51.100.1");
}

TEST(RedisKeys, RateLimitKeyPerAddressAndMinute) {
  EXPECT_EQ(rateLimitKey("203.0.113.7", 28000000), "mp:rl:203.0.113.7:28000000");
  EXPECT_EQ(rateLimitKey("2001:db8::1", 28000000), "mp:rl:2001:db8::/64:28000000");
  EXPECT_NE(rateLimitKey("10.0.0.1", 1), rateLimitKey("10.0.0.1", 2));
  // The counter must outlive its own minute.
  EXPECT_GT(kRateLimitTtl, std::chrono::seconds(60));
}

}  // namespace
}  // namespace mp::redis
