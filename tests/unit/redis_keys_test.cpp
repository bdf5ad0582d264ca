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
}

TEST(RedisKeys, RateLimitKeyPerAddressAndMinute) {
  EXPECT_EQ(rateLimitKey("2001:db8::1", 28000000), "mp:rl:2001:db8::1:28000000");
  EXPECT_NE(rateLimitKey("10.0.0.1", 1), rateLimitKey("10.0.0.1", 2));
  // The counter must outlive its own minute.
  EXPECT_GT(kRateLimitTtl, std::chrono::seconds(60));
}

}  // namespace
}  // namespace mp::redis
