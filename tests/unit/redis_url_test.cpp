// Unit tests of Redis URL parsing: every accepted form and every rejected one, with its message.
#include <gtest/gtest.h>

#include <string>

#include "redis/url.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

// The message parseUrl throws for `text`, or "" when it parses.
std::string errorOf(const std::string& text) {
  try {
    parseUrl(text);
  } catch (const RedisError& e) {
    return e.what();
  }
  return "";
}

TEST(RedisUrl, HostAlone) {
  const Url url = parseUrl("redis://localhost");
  EXPECT_EQ(url.host, "localhost");
  EXPECT_EQ(url.port, 6379);
  EXPECT_EQ(url.db, 0);
  EXPECT_TRUE(url.password.empty());
  EXPECT_TRUE(url.username.empty());
  EXPECT_FALSE(url.isUnix());
}

TEST(RedisUrl, HostPortDb) {
  const Url url = parseUrl("redis://127.0.0.1:56379/2");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 56379);
  EXPECT_EQ(url.db, 2);
}

TEST(RedisUrl, TrailingSlashMeansDbZero) {
  EXPECT_EQ(parseUrl("redis://cache.internal/").db, 0);
  EXPECT_EQ(parseUrl("redis://cache.internal/").host, "cache.internal");
}

TEST(RedisUrl, DbAsQueryParameter) {
  EXPECT_EQ(parseUrl("redis://host?db=4").db, 4);
}

TEST(RedisUrl, SchemeIsCaseInsensitive) {
  EXPECT_EQ(parseUrl("REDIS://Host:1").host, "Host");
}

TEST(RedisUrl, PasswordAlone) {
  const Url url = parseUrl("redis://:s3cret@redis.example:1234/3");
  EXPECT_EQ(url.username, "");
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_EQ(url.host, "redis.example");
  EXPECT_EQ(url.port, 1234);
  EXPECT_EQ(url.db, 3);
}

TEST(RedisUrl, UserAndPassword) {
  const Url url = parseUrl("redis://metricpulse:pw@host");
  EXPECT_EQ(url.username, "metricpulse");
  EXPECT_EQ(url.password, "pw");
}

TEST(RedisUrl, PercentEncodedPassword) {
  EXPECT_EQ(parseUrl("redis://:p%40ss%2Fw%3a%25@host").password, "p@ss/w:%");
}

TEST(RedisUrl, RawReservedCharactersInPasswordStillParse) {
  // Generated passwords hold '/', '?', ':' and '@'; the last '@' ends the userinfo.
  const Url url = parseUrl("redis://:a/b?c:d@e@host:7000/1");
  EXPECT_EQ(url.password, "a/b?c:d@e");
  EXPECT_EQ(url.host, "host");
  EXPECT_EQ(url.port, 7000);
  EXPECT_EQ(url.db, 1);
}

TEST(RedisUrl, EmptyUserinfoMeansNoAuth) {
  EXPECT_TRUE(parseUrl("redis://:@host").password.empty());
  EXPECT_TRUE(parseUrl("redis://@host").password.empty());
}

TEST(RedisUrl, BracketedIpv6) {
  const Url url = parseUrl("redis://[::1]:6380/1");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 6380);
  EXPECT_EQ(url.db, 1);
}

TEST(RedisUrl, UnixSocket) {
  const Url url = parseUrl("unix:///run/redis/redis-server.sock");
  EXPECT_TRUE(url.isUnix());
  EXPECT_EQ(url.unixSocket, "/run/redis/redis-server.sock");
  EXPECT_TRUE(url.host.empty());
  EXPECT_EQ(url.db, 0);
}

TEST(RedisUrl, UnixSocketWithDb) {
  EXPECT_EQ(parseUrl("unix:///tmp/r.sock?db=3").db, 3);
  EXPECT_EQ(parseUrl("unix:///tmp/r.sock?db=3").unixSocket, "/tmp/r.sock");
}

TEST(RedisUrl, UnixSocketWithPassword) {
  const Url url = parseUrl("unix://app:pw@/tmp/r.sock?db=1");
  EXPECT_EQ(url.username, "app");
  EXPECT_EQ(url.password, "pw");
  EXPECT_EQ(url.unixSocket, "/tmp/r.sock");
  EXPECT_EQ(url.db, 1);
}

TEST(RedisUrl, EmptyIsRejected) {
  EXPECT_NE(errorOf("").find("empty"), std::string::npos);
}

TEST(RedisUrl, MissingSchemeIsRejected) {
  EXPECT_NE(errorOf("localhost:6379").find("missing scheme"), std::string::npos);
}

TEST(RedisUrl, BadSchemeIsRejected) {
  const auto message = errorOf("http://localhost:6379");
  EXPECT_NE(message.find("unsupported scheme 'http://'"), std::string::npos) << message;
  EXPECT_NE(message.find("redis://"), std::string::npos) << message;
}

TEST(RedisUrl, RedissIsRejectedForLackOfTls) {
  const auto message = errorOf("rediss://redis.example:6380");
  EXPECT_NE(message.find("rediss://"), std::string::npos) << message;
  EXPECT_NE(message.find("TLS"), std::string::npos) << message;
}

TEST(RedisUrl, EmptyHostIsRejected) {
  for (const char* text : {"redis://", "redis://:6379", "redis://:pw@", "redis:///1"}) {
    EXPECT_NE(errorOf(text).find("empty host"), std::string::npos) << text;
  }
}

TEST(RedisUrl, BadHostIsRejected) {
  EXPECT_NE(errorOf("redis://bad host").find("bad host"), std::string::npos);
  EXPECT_NE(errorOf("redis://::1:6379").find("brackets"), std::string::npos);
  EXPECT_NE(errorOf("redis://[::1").find("unterminated"), std::string::npos);
  EXPECT_NE(errorOf("redis://[::1]x").find("after the host"), std::string::npos);
}

TEST(RedisUrl, BadPortIsRejected) {
  for (const char* text : {"redis://host:abc", "redis://host:0", "redis://host:65536",
                           "redis://host:", "redis://host:-1", "redis://host:99999999999"}) {
    const auto message = errorOf(text);
    EXPECT_NE(message.find("bad port"), std::string::npos) << text << ": " << message;
  }
  EXPECT_EQ(parseUrl("redis://host:65535").port, 65535);
}

TEST(RedisUrl, DbNotANumberIsRejected) {
  for (const char* text :
       {"redis://host/abc", "redis://host/-1", "redis://host/1/2", "redis://host/1x",
        "redis://host?db=", "redis://host/99999999999", "unix:///tmp/r.sock?db=x"}) {
    const auto message = errorOf(text);
    EXPECT_NE(message.find("is not a number"), std::string::npos) << text << ": " << message;
  }
}

TEST(RedisUrl, UnknownOrRepeatedParameterIsRejected) {
  EXPECT_NE(errorOf("redis://host?timeout=1").find("unknown parameter 'timeout'"),
            std::string::npos);
  EXPECT_NE(errorOf("redis://host/1?db=2").find("db given twice"), std::string::npos);
}

TEST(RedisUrl, NameWithoutPasswordIsRejectedWithoutEchoingIt) {
  const auto message = errorOf("redis://hunter2@host");
  EXPECT_NE(message.find(":password@"), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_NE(errorOf("redis://user:@host").find("empty password"), std::string::npos);
}

TEST(RedisUrl, BadPercentEncodingIsRejected) {
  EXPECT_NE(errorOf("redis://:p%zz@host").find("percent-encoding"), std::string::npos);
  EXPECT_NE(errorOf("redis://:p%4@host").find("percent-encoding"), std::string::npos);
}

TEST(RedisUrl, MessagesNeverContainThePassword) {
  for (const char* text : {"redis://:hunter2@host:abc", "redis://u:hunter2@/1",
                           "redis://:hunter2@host/x", "redis://:hunter2@host?x=1"}) {
    const auto message = errorOf(text);
    EXPECT_FALSE(message.empty()) << text;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

TEST(RedisUrl, BadUnixPathIsRejected) {
  EXPECT_NE(errorOf("unix://").find("absolute"), std::string::npos);
  EXPECT_NE(errorOf("unix:///").find("absolute"), std::string::npos);
  EXPECT_NE(errorOf("unix://relative.sock").find("absolute"), std::string::npos);
  EXPECT_NE(errorOf("unix:///" + std::string(200, 'x')).find("longer than"), std::string::npos);
}

TEST(RedisUrl, TryParseAndValidate) {
  EXPECT_EQ(Url::parse("redis://h:1/2"), parseUrl("redis://h:1/2"));
  EXPECT_THROW(Url::parse("redis://h:x"), RedisError);
  EXPECT_TRUE(tryParseUrl("redis://localhost").has_value());
  EXPECT_FALSE(tryParseUrl("rediss://localhost").has_value());
  EXPECT_FALSE(validateUrl("redis://127.0.0.1:6379/0").has_value());
  const auto problem = validateUrl("redis://host:port");
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("bad port 'port'"), std::string::npos) << *problem;
}

TEST(RedisUrl, RedactedHidesThePassword) {
  EXPECT_EQ(parseUrl("redis://:pw@host:1/2").redacted(), "redis://:***@host:1/2");
  EXPECT_EQ(parseUrl("redis://u:pw@[::1]").redacted(), "redis://u:***@[::1]:6379");
  EXPECT_EQ(parseUrl("redis://host").redacted(), "redis://host:6379");
  EXPECT_EQ(parseUrl("unix:///tmp/r.sock?db=2").redacted(), "unix:///tmp/r.sock?db=2");
}

TEST(RedisUrl, RoundTripsThroughRedactedWithoutPassword) {
  for (const char* text : {"redis://host:1/2", "redis://[::1]:6379", "unix:///tmp/r.sock?db=2"}) {
    const Url url = parseUrl(text);
    EXPECT_EQ(parseUrl(url.redacted()), url) << text;
  }
}

}  // namespace
}  // namespace mp::redis
