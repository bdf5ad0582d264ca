// The hand-written JSON of the queue entry and the live frame, and RESP command formatting.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "events/event.hpp"
#include "redis/client.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"

namespace mp {
namespace {

using json = nlohmann::json;
using namespace std::string_literals;

std::string jsonText(std::string_view s) {
  std::string out;
  util::appendJsonString(out, s);
  return out;
}

events::Event sample() {
  events::Event e;
  e.id = "0190d7a0-1234-7abc-8def-0123456789ab";
  e.websiteId = "0190d7a0-0000-7000-8000-000000000001";
  e.tsMillis = 1795774500123;  // 2026-11-27T10:15:00.123Z
  e.eventType = "signup \"pro\"";
  e.page = "/caf\xC3\xA9/\xF0\x9F\x98\x80";
  e.url = "https://example.com/caf\xC3\xA9/\xF0\x9F\x98\x80?q=a\\b";
  e.hostname = "example.com";
  e.referrer = "https://news.example.org/\x01tab\there";
  e.referrerHost = "news.example.org";
  e.sessionId = "s-1";
  e.visitorId = -4242424242424242LL;
  e.userAgent = "Mozilla/5.0\nline two";
  e.browser = "Firefox";
  e.os = "Linux";
  e.device = "desktop";
  e.country = "DE";
  e.ip = "81.2.69.0";
  e.props = R"({"plan":"pro","n":3})";
  return e;
}

TEST(JsonText, EscapesWhatJsonRequires) {
  EXPECT_EQ(jsonText(""), "\"\"");
  EXPECT_EQ(jsonText("plain"), "\"plain\"");
  EXPECT_EQ(jsonText("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(jsonText("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(jsonText(std::string("\x01\x1f\x00", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(jsonText("/"), "\"/\"");
}

TEST(JsonText, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(jsonText("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  // A lone continuation byte, a truncated sequence, an overlong and a surrogate each become U+FFFD
  // per offending byte, and the text stays parseable.
  for (const std::string& bad :
       {std::string("a\x80z"), std::string("a\xC3"), std::string("\xC0\xAF"),
        std::string("\xED\xA0\x80"), std::string("\xFF")}) {
    const std::string out = jsonText(bad);
    const auto parsed = json::parse(out, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << out;
    EXPECT_NE(parsed.get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << out;
  }
  EXPECT_EQ(json::parse(jsonText("a\x80z")).get<std::string>(), "a\xEF\xBF\xBDz");
}

TEST(JsonText, EveryByteRoundTripsThroughAJsonParser) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(json::parse(jsonText(all)).get<std::string>(), all);
}

TEST(EventEncoding, QueueEntryRoundTrips) {
  const events::Event e = sample();
  EXPECT_EQ(events::fromQueueJson(events::toQueueJson(e)), e);
  events::Event empty;
  empty.id = e.id;
  empty.websiteId = e.websiteId;
  empty.tsMillis = 1;
  EXPECT_EQ(events::fromQueueJson(events::toQueueJson(empty)), empty);
}

TEST(EventEncoding, QueueEntryKeepsANonInteractiveEvent) {
  events::Event e = sample();
  e.eventType = "scroll";
  e.interactive = false;
  const std::string line = events::toQueueJson(e);
  EXPECT_NE(line.find("\"n\":false"), std::string::npos) << line;
  EXPECT_FALSE(events::fromQueueJson(line).interactive);
  // The usual event is written as before this field existed, and an entry without it (written
  // by an older daemon) is interactive.
  EXPECT_EQ(events::toQueueJson(sample()).find("\"n\""), std::string::npos);
  EXPECT_TRUE(events::fromQueueJson(R"({"i":"x","w":"y","t":1})").interactive);
  EXPECT_FALSE(
      events::fromQueueJson(R"({"i":"x", "w":"y", "t":1, "n": false, "z": 1})").interactive);
  EXPECT_THROW(events::fromQueueJson(R"({"i":"x","w":"y","t":1,"n":"no"})"), Error);
}

TEST(EventEncoding, QueueEntryReadsOtherWritersJson) {
  // Entries written by another JSON writer (an older daemon, a tool): escapes, spacing, key order,
  // nulls and unknown keys are all read as JSON says.
  const auto e = events::fromQueueJson(
      R"( { "w" : "site", "i":"id-1", "t": 5, "p": "\u00e9\ud83d\ude00\/\"x\"", "r": null,)"
      R"( "v": -7, "extra": [1, {"a": 2}], "ua": "a\tb" } )");
  EXPECT_EQ(e.id, "id-1");
  EXPECT_EQ(e.websiteId, "site");
  EXPECT_EQ(e.tsMillis, 5);
  EXPECT_EQ(e.page, "\xC3\xA9\xF0\x9F\x98\x80/\"x\"");
  EXPECT_EQ(e.referrer, "");
  EXPECT_EQ(e.visitorId, -7);
  EXPECT_EQ(e.userAgent, "a\tb");
}

TEST(EventEncoding, QueueEntryThatIsNotAnEventIsRefused) {
  for (const char* bad :
       {"", "[]", "{}", "{\"i\":\"x\"}", R"({"i":"x","w":"y"})", R"({"i":"x","w":"y","t":"soon"})",
        R"({"i":"x","w":"y","t":1,"p":3})", R"({"i":"x","w":"y","t":1)", "not json"}) {
    EXPECT_THROW(events::fromQueueJson(bad), Error) << bad;
  }
}

TEST(EventEncoding, QueueEntryReplacesInvalidUtf8) {
  events::Event e = sample();
  e.userAgent = "bad \xFF agent";
  const auto back = events::fromQueueJson(events::toQueueJson(e));
  EXPECT_EQ(back.userAgent, "bad \xEF\xBF\xBD agent");
}

TEST(EventEncoding, LiveFrameHasTheDocumentedFields) {
  const auto frame = json::parse(events::liveFeedFrame(sample()));
  EXPECT_EQ(frame, json::parse(R"({
    "type": "event", "websiteId": "0190d7a0-0000-7000-8000-000000000001",
    "eventType": "signup \"pro\"", "page": "/café/😀",
    "url": "https://example.com/café/😀?q=a\\b",
    "referrer": "https://news.example.org/\u0001tab\there", "sessionId": "s-1",
    "timestamp": "2026-11-27T10:15:00.123Z", "browser": "Firefox", "os": "Linux",
    "device": "desktop", "country": "DE"})"));
}

TEST(EventEncoding, LiveFrameSaysNullForUnknownReferrerAndCountry) {
  events::Event e = sample();
  e.referrer.clear();
  e.country.clear();
  const auto frame = json::parse(events::liveFeedFrame(e));
  EXPECT_TRUE(frame.at("referrer").is_null());
  EXPECT_TRUE(frame.at("country").is_null());
  EXPECT_EQ(frame.size(), 12u);
}

TEST(RedisCommandFormat, WritesArraysOfBulkStrings) {
  std::string out;
  redis::appendCommand(out, {"SET", "k", ""});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
  out.clear();
  const std::string binary("a\r\n\0b", 5);
  const std::vector<std::string_view> args{"PUBLISH", "events:x", binary};
  redis::appendCommand(out, args);
  EXPECT_EQ(out, "*3\r\n$7\r\nPUBLISH\r\n$8\r\nevents:x\r\n$5\r\na\r\n\0b\r\n"s);
}

}  // namespace
}  // namespace mp
