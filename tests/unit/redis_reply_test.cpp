// Unit tests of Reply: decoding server bytes through hiredis's reader, accessors and type checks.
#include <gtest/gtest.h>

#include <string>

#include "redis/reply.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

using namespace std::string_literals;

Reply decodeOne(const std::string& bytes) {
  auto replies = decodeResp(bytes);
  EXPECT_EQ(replies.size(), 1u) << bytes;
  return replies.empty() ? Reply() : replies.front();
}

TEST(RedisReply, Status) {
  const Reply reply = decodeOne("+OK\r\n");
  EXPECT_TRUE(reply.isStatus());
  EXPECT_TRUE(reply.isOk());
  EXPECT_EQ(reply.str(), "OK");
  EXPECT_FALSE(decodeOne("+PONG\r\n").isOk());
}

TEST(RedisReply, ErrorIsAValueUntilAskedToThrow) {
  const Reply reply = decodeOne("-WRONGTYPE Operation against a key\r\n");
  EXPECT_TRUE(reply.isError());
  EXPECT_EQ(reply.str(), "WRONGTYPE Operation against a key");
  try {
    reply.throwIfError();
    FAIL() << "throwIfError did not throw";
  } catch (const RedisError& e) {
    EXPECT_NE(std::string(e.what()).find("WRONGTYPE"), std::string::npos);
  }
  EXPECT_NO_THROW(decodeOne("+OK\r\n").throwIfError());
}

TEST(RedisReply, Integers) {
  EXPECT_EQ(decodeOne(":42\r\n").integer(), 42);
  EXPECT_EQ(decodeOne(":-7\r\n").integer(), -7);
  EXPECT_EQ(decodeOne(":9223372036854775807\r\n").integer(), INT64_MAX);
}

TEST(RedisReply, BulkStringsAreBinarySafe) {
  const Reply reply = decodeOne("$6\r\na\0b\r\nc\r\n"s);
  ASSERT_TRUE(reply.isString());
  EXPECT_EQ(reply.str(), "a\0b\r\nc"s);
  EXPECT_EQ(decodeOne("$0\r\n\r\n").str(), "");
}

TEST(RedisReply, NilBulkAndNilArray) {
  EXPECT_TRUE(decodeOne("$-1\r\n").isNil());
  EXPECT_TRUE(decodeOne("*-1\r\n").isNil());
  EXPECT_TRUE(Reply().isNil());
}

TEST(RedisReply, NestedArrays) {
  const Reply reply = decodeOne("*4\r\n:1\r\n$-1\r\n*2\r\n+x\r\n$1\r\ny\r\n-ERR e\r\n");
  ASSERT_TRUE(reply.isArray());
  const auto& elements = reply.elements();
  ASSERT_EQ(elements.size(), 4u);
  EXPECT_EQ(elements[0], Reply::integer(1));
  EXPECT_TRUE(elements[1].isNil());
  EXPECT_EQ(elements[2], Reply::array({Reply::status("x"), Reply::string("y")}));
  EXPECT_EQ(elements[3], Reply::error("ERR e"));
  EXPECT_TRUE(decodeOne("*0\r\n").elements().empty());
}

TEST(RedisReply, SeveralRepliesInOrder) {
  const auto replies = decodeResp(":1\r\n:2\r\n+OK\r\n");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].integer(), 1);
  EXPECT_EQ(replies[1].integer(), 2);
  EXPECT_TRUE(replies[2].isOk());
  EXPECT_TRUE(decodeResp("").empty());
}

TEST(RedisReply, MalformedInputThrows) {
  EXPECT_THROW(decodeResp("?what\r\n"), RedisError);
  EXPECT_THROW(decodeResp(":12x\r\n"), RedisError);
}

TEST(RedisReply, TruncatedInputThrows) {
  EXPECT_THROW(decodeResp("$5\r\nab"), RedisError);
  EXPECT_THROW(decodeResp("*2\r\n:1\r\n"), RedisError);
  EXPECT_THROW(decodeResp("+OK"), RedisError);
}

TEST(RedisReply, AccessorsOfTheWrongTypeThrow) {
  EXPECT_THROW((void)Reply::integer(1).str(), RedisError);
  EXPECT_THROW((void)Reply::string("1").integer(), RedisError);
  EXPECT_THROW((void)Reply().elements(), RedisError);
  EXPECT_THROW((void)Reply().str(), RedisError);
  try {
    (void)Reply().integer();
  } catch (const RedisError& e) {
    EXPECT_NE(std::string(e.what()).find("got nil"), std::string::npos) << e.what();
  }
}

TEST(RedisReply, DebugString) {
  EXPECT_EQ(Reply().debugString(), "(nil)");
  EXPECT_EQ(Reply::error("ERR x").debugString(), "(error) ERR x");
  EXPECT_EQ(Reply::array({Reply::integer(3), Reply::string("a")}).debugString(),
            "[(integer) 3, \"a\"]");
  EXPECT_EQ(typeName(Reply::Type::kArray), "array");
}

}  // namespace
}  // namespace mp::redis
