// Integration tests of the Redis client against the shared test Redis and private redis-servers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "redis/url.hpp"
#include "support/env.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr std::chrono::milliseconds kTimeout = 2000ms;

// RedisProcess::start() returns once the port accepts connections, but the server answers
// -LOADING until it has replayed its append-only file. Waits, on a separate client, until it
// answers PING, so the client under test keeps the connection state the test arranged.
bool waitUntilReady(const std::string& url) {
  Client probe(parseUrl(url), 500ms);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe.ping()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Calls ping() on `client` until it is true or 10 s have passed.
bool pingsEventually(Client& client) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (client.ping()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// A key prefix no other test, run or concurrent developer uses.
std::string uniquePrefix() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "mp:test:" + std::string(info->test_suite_name()) + "." + info->name() + ":" +
         std::to_string(getpid()) + ":" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ":";
}

// Tests on the shared server: keys are made with key() and deleted afterwards.
class RedisClientTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (keys_.empty()) return;
    std::vector<std::string> del{"DEL"};
    del.insert(del.end(), keys_.begin(), keys_.end());
    Client cleaner(parseUrl(test::redisUrl()), kTimeout);
    cleaner.command(del);
  }

  std::string key(const std::string& name) {
    keys_.push_back(prefix_ + name);
    return keys_.back();
  }

  Client client_{parseUrl(test::redisUrl()), kTimeout};

 private:
  std::string prefix_ = uniquePrefix();
  std::vector<std::string> keys_;
};

TEST_F(RedisClientTest, SetGetIsBinarySafe) {
  std::string allBytes;
  for (int i = 0; i < 256; ++i) allBytes.push_back(static_cast<char>(i));
  const std::vector<std::string> values = {
      "plain",
      "nul\0in\0the\0middle\0"s,
      "quotes ' \" and \\ backslashes %s %d %b",
      "line\r\nbreaks\n",
      "*1\r\n$8\r\nFLUSHALL\r\n",  // a command in disguise stays a value
      "unicode: héllo 🌍 日本語 ﷽",
      "",
      allBytes,
      std::string(1 << 20, '\xff'),
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string k = key("value:" + std::to_string(i) + ":\0key with spaces\n"s);
    EXPECT_TRUE(client_.command({"SET", k, values[i]}).isOk()) << i;
    const Reply got = client_.command({"GET", k});
    ASSERT_TRUE(got.isString()) << i << ": " << got.debugString();
    EXPECT_EQ(got.str(), values[i]) << i;
    EXPECT_EQ(client_.command({"STRLEN", k}).integer(),
              static_cast<std::int64_t>(values[i].size()));
  }
  EXPECT_TRUE(client_.command({"GET", key("missing")}).isNil());
}

TEST_F(RedisClientTest, VectorArgumentsWork) {
  const std::string k = key("vector");
  EXPECT_TRUE(client_.command(std::vector<std::string>{"SET", k, "v\0v"s}).isOk());
  EXPECT_EQ(client_.command(std::vector<std::string>{"GET", k}).str(), "v\0v"s);
}

TEST_F(RedisClientTest, PipelineOfAThousandRepliesInOrder) {
  const std::string list = key("list");
  std::vector<std::vector<std::string>> pushes;
  pushes.reserve(1000);
  for (int i = 0; i < 1000; ++i) pushes.push_back({"RPUSH", list, "item-" + std::to_string(i)});
  const auto pushed = client_.pipeline(pushes);
  ASSERT_EQ(pushed.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(pushed[static_cast<std::size_t>(i)].integer(), i + 1) << i;
  }

  std::vector<std::vector<std::string>> reads;
  reads.reserve(1000);
  for (int i = 0; i < 1000; ++i) reads.push_back({"LINDEX", list, std::to_string(i)});
  const auto read = client_.pipeline(reads);
  ASSERT_EQ(read.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(read[static_cast<std::size_t>(i)].str(), "item-" + std::to_string(i)) << i;
  }
  EXPECT_TRUE(client_.pipeline({}).empty());
}

// total_reads_processed of INFO stats: how many socket reads the server has done.
std::int64_t serverReads(Client& client) {
  const std::string info = client.command({"INFO", "stats"}).str();
  const std::string field = "total_reads_processed:";
  const auto at = info.find(field);
  if (at == std::string::npos) return -1;
  return std::stoll(info.substr(at + field.size()));
}

TEST(RedisClient, PipelineIsOneRoundTrip) {
  // A private server, so no other client's reads are counted.
  test::RedisProcess server;
  Client client(parseUrl(server.url()), kTimeout);
  const std::int64_t before = serverReads(client);
  ASSERT_GE(before, 0) << "INFO stats has no total_reads_processed";
  const std::vector<std::vector<std::string>> incrs(1000, {"INCR", "counter"});
  const auto replies = client.pipeline(incrs);
  ASSERT_EQ(replies.size(), 1000u);
  EXPECT_EQ(replies.back().integer(), 1000);
  // Sent one by one, 1,000 commands take at least 1,000 reads; batched, about 30 KiB arrive in
  // a handful (the server reads up to 16 KiB at a time). Two more are the INFO commands.
  EXPECT_LT(serverReads(client) - before, 20);
}

TEST_F(RedisClientTest, ErrorReplyIsAValueAndTheClientStaysUsable) {
  const std::string k = key("not-a-number");
  ASSERT_TRUE(client_.command({"SET", k, "abc"}).isOk());
  const Reply reply = client_.command({"INCR", k});
  EXPECT_TRUE(reply.isError());
  EXPECT_NE(reply.str().find("not an integer"), std::string::npos) << reply.str();
  EXPECT_TRUE(client_.connected());
  EXPECT_EQ(client_.command({"PING"}).str(), "PONG");
  EXPECT_THROW(reply.throwIfError(), RedisError);

  // In a pipeline the error takes its own place and the rest go through.
  const std::string n = key("number");
  const auto replies = client_.pipeline({{"SET", n, "1"}, {"INCR", k}, {"INCR", n}});
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_TRUE(replies[0].isOk());
  EXPECT_TRUE(replies[1].isError());
  EXPECT_EQ(replies[2].integer(), 2);

  EXPECT_TRUE(client_.command({"NO-SUCH-COMMAND"}).isError());
  EXPECT_TRUE(client_.ping());
}

TEST_F(RedisClientTest, EmptyCommandIsRejected) {
  EXPECT_THROW(client_.command(std::vector<std::string>{}), std::invalid_argument);
  EXPECT_TRUE(client_.ping());
}

TEST_F(RedisClientTest, CommandTimeoutIsHonoured) {
  Client client(parseUrl(test::redisUrl()), 300ms);
  ASSERT_TRUE(client.ping());
  // BLPOP on a list nobody pushes to blocks for 5 s on the server, far past the client time-out;
  // unlike DEBUG SLEEP it does not stall the shared server for everyone else.
  const auto start = std::chrono::steady_clock::now();
  try {
    client.command({"BLPOP", key("never-pushed"), "5"});
    FAIL() << "BLPOP returned before the server-side timeout";
  } catch (const RedisError& e) {
    EXPECT_NE(std::string(e.what()).find("did not answer BLPOP within 300 ms"), std::string::npos)
        << e.what();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_FALSE(client.connected());
  // The late BLPOP answer must not be read as the reply to the next command.
  EXPECT_EQ(client.command({"ECHO", "after"}).str(), "after");
  EXPECT_TRUE(client.ping());
}

TEST(RedisClient, UnreachableServer) {
  const int port = test::freePort();
  Client client(parseUrl("redis://127.0.0.1:" + std::to_string(port)), 500ms);
  EXPECT_FALSE(client.connected());
  try {
    client.command({"PING"});
    FAIL() << "command to a closed port succeeded";
  } catch (const RedisError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(client.ping());
  EXPECT_NE(client.lastError().find("cannot connect"), std::string::npos);
}

TEST(RedisClient, PingFollowsTheServerDownAndUpWithTheSameClient) {
  test::RedisProcess server;
  Client client(parseUrl(server.url()), 500ms);
  EXPECT_TRUE(client.ping());

  server.stop();
  EXPECT_FALSE(client.ping());
  EXPECT_FALSE(client.lastError().empty());
  EXPECT_FALSE(client.ping());
  EXPECT_THROW(client.command({"GET", "k"}), RedisError);

  server.start();
  // The same object recovers on its own (after the server's brief -LOADING, when ping() is
  // rightly false).
  EXPECT_TRUE(pingsEventually(client)) << client.lastError();
  EXPECT_TRUE(client.command({"SET", "k", "v"}).isOk());
}

TEST(RedisClient, PingRecoversAConnectionLeftStaleByARestart) {
  test::RedisProcess server;
  Client client(parseUrl(server.url()), 500ms);
  ASSERT_TRUE(client.ping());
  // Restart between two calls: the client still holds the old, now dead, connection.
  server.stop();
  server.start();
  ASSERT_TRUE(waitUntilReady(server.url()));
  EXPECT_TRUE(client.ping()) << client.lastError();
}

TEST(RedisClient, NoRetryByDefaultAfterARestart) {
  test::RedisProcess server;
  Client client(parseUrl(server.url()), 500ms);
  ASSERT_EQ(client.command({"INCR", "n"}).integer(), 1);
  server.stop();
  server.start();
  ASSERT_TRUE(waitUntilReady(server.url()));
  // The stale connection fails the command rather than possibly running an INCR twice...
  EXPECT_THROW(client.command({"INCR", "n"}), RedisError);
  // ...and the next call reconnects.
  EXPECT_EQ(client.command({"INCR", "n"}).integer(), 2);
}

TEST(RedisClient, OptionalRetryRecoversAStaleConnection) {
  test::RedisProcess server;
  Client client(parseUrl(server.url()), 500ms, Retry::kOnceIfStale);
  ASSERT_TRUE(client.command({"SET", "k", "v1"}).isOk());
  server.stop();
  server.start();
  ASSERT_TRUE(waitUntilReady(server.url()));
  EXPECT_TRUE(client.command({"SET", "k", "v2"}).isOk());
  EXPECT_EQ(client.command({"GET", "k"}).str(), "v2");

  server.stop();
  server.start();
  ASSERT_TRUE(waitUntilReady(server.url()));
  const auto replies = client.pipeline({{"SET", "a", "1"}, {"GET", "a"}});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1].str(), "1");

  // A server that stays down is still an error, not an endless retry.
  server.stop();
  EXPECT_THROW(client.command({"GET", "k"}), RedisError);
}

TEST(RedisClient, AuthWithPasswordAndAclUser) {
  test::RedisProcess server;
  const std::string password = "pa:ss/w@rd";
  {
    Client admin(parseUrl(server.url()), kTimeout);
    ASSERT_TRUE(
        admin.command({"ACL", "SETUSER", "metricpulse", "on", ">user-secret", "~*", "&*", "+@all"})
            .isOk());
    ASSERT_TRUE(admin.command({"CONFIG", "SET", "requirepass", password}).isOk());
  }
  const std::string base = server.url().substr(std::string("redis://").size());

  Client withPassword(parseUrl("redis://:pa%3Ass%2Fw%40rd@" + base), kTimeout);
  EXPECT_TRUE(withPassword.ping()) << withPassword.lastError();
  EXPECT_TRUE(withPassword.command({"SET", "k", "v"}).isOk());

  Client withUser(parseUrl("redis://metricpulse:user-secret@" + base), kTimeout);
  EXPECT_TRUE(withUser.ping()) << withUser.lastError();
  EXPECT_EQ(withUser.command({"ACL", "WHOAMI"}).str(), "metricpulse");

  // Without AUTH the server answers every command with a NOAUTH error reply.
  Client anonymous(parseUrl(server.url()), kTimeout);
  EXPECT_FALSE(anonymous.ping());
  EXPECT_NE(anonymous.command({"GET", "k"}).str().find("NOAUTH"), std::string::npos);

  Client wrong(parseUrl("redis://:not-it@" + base), kTimeout);
  try {
    wrong.connect();
    FAIL() << "AUTH with a wrong password succeeded";
  } catch (const RedisError& e) {
    EXPECT_NE(std::string(e.what()).find("refused AUTH"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("not-it"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(wrong.connected());
  EXPECT_FALSE(wrong.ping());
}

TEST(RedisClient, SelectsTheDatabaseOfTheUrl) {
  test::RedisProcess server;
  Client db3(parseUrl(server.url() + "/3"), kTimeout);
  Client db0(parseUrl(server.url()), kTimeout);
  ASSERT_TRUE(db3.command({"SET", "where", "three"}).isOk());
  EXPECT_TRUE(db0.command({"GET", "where"}).isNil());
  EXPECT_EQ(db3.command({"GET", "where"}).str(), "three");

  // The database survives a reconnect.
  server.stop();
  server.start();
  ASSERT_TRUE(waitUntilReady(server.url()));
  EXPECT_TRUE(db3.ping());
  EXPECT_TRUE(db0.ping());
  EXPECT_TRUE(db3.command({"SET", "again", "3"}).isOk());
  EXPECT_TRUE(db0.command({"GET", "again"}).isNil());

  Client outOfRange(parseUrl(server.url() + "/999"), kTimeout);
  EXPECT_THROW(outOfRange.connect(), RedisError);
  EXPECT_FALSE(outOfRange.connected());
}

TEST(RedisClient, CloseThenReconnect) {
  Client client(parseUrl(test::redisUrl()), kTimeout);
  EXPECT_TRUE(client.ping());
  EXPECT_TRUE(client.connected());
  client.close();
  EXPECT_FALSE(client.connected());
  EXPECT_TRUE(client.ping());

  Client moved = std::move(client);
  EXPECT_TRUE(moved.ping());
}

}  // namespace
}  // namespace mp::redis
