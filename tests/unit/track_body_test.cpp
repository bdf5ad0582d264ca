// The /track body reader: the same verdict and the same values as a DOM parse of the body.
#include "ingest/track_body.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace mp::ingest {
namespace {

using json = nlohmann::json;
using Kind = BodyValue::Kind;

// What a DOM parse says of one top-level key.
void expectSameAsDom(const BodyValue& value, const json& body, const char* key,
                     const std::string& text) {
  SCOPED_TRACE(std::string(key) + " of " + text);
  auto it = body.find(key);
  if (it == body.end()) {
    EXPECT_EQ(value.kind, Kind::kAbsent);
    return;
  }
  switch (it->type()) {
    case json::value_t::null:
      EXPECT_EQ(value.kind, Kind::kNull);
      break;
    case json::value_t::string:
      ASSERT_EQ(value.kind, Kind::kString);
      EXPECT_EQ(value.text, it->get<std::string>());
      break;
    case json::value_t::boolean:
      ASSERT_EQ(value.kind, Kind::kBool);
      EXPECT_EQ(value.flag, it->get<bool>());
      break;
    case json::value_t::number_integer:
      ASSERT_EQ(value.kind, Kind::kInteger);
      EXPECT_FALSE(value.isUnsigned);
      EXPECT_EQ(static_cast<std::int64_t>(value.integer), it->get<std::int64_t>());
      break;
    case json::value_t::number_unsigned:
      ASSERT_EQ(value.kind, Kind::kInteger);
      EXPECT_TRUE(value.isUnsigned);
      EXPECT_EQ(value.integer, it->get<std::uint64_t>());
      break;
    case json::value_t::number_float:
      ASSERT_EQ(value.kind, Kind::kFloat);
      EXPECT_EQ(value.number, it->get<double>());
      break;
    case json::value_t::object:
      EXPECT_EQ(value.kind, Kind::kObject);
      break;
    case json::value_t::array:
      EXPECT_EQ(value.kind, Kind::kArray);
      break;
    default:
      ADD_FAILURE() << "unexpected type";
  }
}

void expectSameAsDom(const std::string& text) {
  const json dom = json::parse(text);
  ASSERT_TRUE(dom.is_object()) << text;
  const TrackBody body = parseTrackBody(text);
  expectSameAsDom(body.websiteId, dom, "websiteId", text);
  expectSameAsDom(body.eventType, dom, "eventType", text);
  expectSameAsDom(body.interactive, dom, "interactive", text);
  expectSameAsDom(body.url, dom, "url", text);
  expectSameAsDom(body.hashMode, dom, "hashMode", text);
  expectSameAsDom(body.referrer, dom, "referrer", text);
  expectSameAsDom(body.sessionId, dom, "sessionId", text);
  expectSameAsDom(body.ip, dom, "ip", text);
  expectSameAsDom(body.userAgent, dom, "userAgent", text);
  expectSameAsDom(body.timestamp, dom, "timestamp", text);
  expectSameAsDom(body.props, dom, "props", text);
  if (body.props.kind == Kind::kObject) {
    EXPECT_EQ(body.propsValue, dom["props"]) << text;
    EXPECT_EQ(body.propsValue.dump(), dom["props"].dump()) << text;
  }
}

TEST(TrackBody, EveryKnownFieldAsADomParseGivesIt) {
  for (
      const std::string& text : std::vector<std::string>{
          R"({"websiteId":"0190d7a0-0000-7000-8000-000000000001","url":"https://a.example/x?y=1#z",)"
          R"("eventType":"signup","interactive":false,"hashMode":true,"referrer":"https://r.example/",)"
          R"("sessionId":"s-1","ip":"192.0.2.1","userAgent":"Bot/1.0","timestamp":1795774500123,)"
          R"("props":{"plan":"pro","seats":3,"ratio":0.5,"yes":true,"big":18446744073709551615}})",
          R"({"url":null,"eventType":null,"props":null,"timestamp":"2026-11-27T10:15:00Z"})",
          R"({"timestamp":-5,"interactive":"no","hashMode":0,"websiteId":42,"url":1.5e3})",
          R"({"timestamp":18446744073709551615,"props":[1,2],"referrer":{"a":"b"},"ip":[]})",
          R"({"props":"x","sessionId":"\u00e9\ud83d\ude00 \"q\" \\ \n"})",
          R"({})",
      }) {
    expectSameAsDom(text);
  }
}

TEST(TrackBody, UnknownKeysAreCheckedAndDroppedWhateverTheyHold) {
  const std::string text =
      R"({"extra":{"url":"https://nested.example/","props":{"n":1e-400}},"list":[{"url":"x"},)"
      R"([["websiteId"]]],"url":"https://a.example/","n":null,"b":true})";
  expectSameAsDom(text);
  const TrackBody body = parseTrackBody(text);
  EXPECT_EQ(body.url.text, "https://a.example/");
  EXPECT_FALSE(body.inexactProp) << "a number outside props is not props'";
}

TEST(TrackBody, ARepeatedKeyKeepsItsLastValueAsADomParseDoes) {
  for (const std::string& text : std::vector<std::string>{
           R"({"url":"https://first.example/","url":"https://last.example/"})",
           R"({"url":"https://a.example/","url":7})",
           R"({"url":7,"url":"https://a.example/"})",
           R"({"props":{"a":1},"props":{"b":2}})",
           R"({"props":{"a":1},"props":null})",
           R"({"props":{"a":1},"props":[3]})",
           R"({"timestamp":"2026-11-27T10:15:00Z","timestamp":5})",
       }) {
    expectSameAsDom(text);
  }
  const TrackBody body = parseTrackBody(R"({"props":{"n":1e-400},"props":{"n":0.1}})");
  EXPECT_FALSE(body.inexactProp) << "only the props that is kept counts";
}

TEST(TrackBody, NumbersADoubleCannotHoldInPropsAreNamed) {
  EXPECT_EQ(parseTrackBody(R"({"props":{"a":0.1,"n":1e-400,"m":1e-400}})").inexactProp, "n");
  EXPECT_EQ(parseTrackBody(R"({"props":{"n":123456789012345678901234}})").inexactProp, "n");
  EXPECT_EQ(parseTrackBody(R"({"props":{"n":0.12345678901234567890123}})").inexactProp, "n");
  EXPECT_FALSE(parseTrackBody(R"({"props":{"n":1e2,"z":-0,"t":0.1,"p":1.5e300}})").inexactProp);
  // Deeper numbers are props' values that are not scalars: refused by the tracker anyway.
  EXPECT_FALSE(parseTrackBody(R"({"props":{"a":{"n":1e-400}}})").inexactProp);
  EXPECT_FALSE(parseTrackBody(R"({"timestamp":1e-400})").inexactProp);
}

TEST(TrackBody, WhatIsNotAJsonObjectIsRefusedAsTheBody) {
  for (const char* text : {"[1,2]", "null", "\"x\"", "1", "[{\"url\":\"x\"}]"}) {
    try {
      parseTrackBody(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const InvalidInput& e) {
      EXPECT_EQ(e.field(), "body") << text;
      EXPECT_STREQ(e.what(), "the body must be a JSON object") << text;
    }
  }
  for (const std::string& text :
       {std::string("{\"websiteId\":"), std::string("{\"url\":\"a\xff\xfe\"}"),
        std::string(R"({"props":{"k":"\ud800"}})"), std::string(R"({"props":{"k":"\udc00x"}})"),
        std::string("{\"props\":{\"k\":\"\xed\xa0\x80\"}}"), std::string(R"({"n":1e400})"),
        std::string(R"({"a":1} {"b":2})"), std::string(R"({"a":1,})"), std::string(""),
        std::string(R"({"a":tru})"), std::string("[1,2")}) {
    try {
      parseTrackBody(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const InvalidInput& e) {
      EXPECT_EQ(e.field(), "body") << text;
      EXPECT_STREQ(e.what(), "the body is not valid JSON (or not UTF-8)") << text;
    }
  }
}

}  // namespace
}  // namespace mp::ingest
