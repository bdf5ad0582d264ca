// Translating Plausible's and Umami's payloads, and the session cookie helpers.
#include "ingest/compat.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/session_cookie.hpp"
#include "util/error.hpp"

namespace mp::ingest {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string fieldOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidInput& e) {
    return e.field();
  }
  return "<no error>";
}

TEST(Plausible, ShortAndLongNamesGiveTheSameTrackBody) {
  const auto shortNames = fromPlausible(
      R"({"n":"Signup","u":"https://a.example/p","d":"WWW.A.example","r":"https://b.test/","p":{"plan":"pro"},"i":false,"h":1,"v":3})");
  const auto longNames = fromPlausible(
      R"({"name":"Signup","url":"https://a.example/p","domain":"a.example","referrer":"https://b.test/","props":{"plan":"pro"},"interactive":false,"hashMode":true})");
  EXPECT_EQ(shortNames.body, longNames.body);
  EXPECT_THAT(shortNames.domains, ElementsAre("a.example"));
  EXPECT_EQ(shortNames.body["eventType"], "Signup");
  EXPECT_EQ(shortNames.body["interactive"], false);
  EXPECT_EQ(shortNames.body["hashMode"], true);
  EXPECT_EQ(json::parse(trackBody(shortNames.body, "id"))["websiteId"], "id");
}

TEST(Plausible, PropsAsJsonTextAndEmptyValuesAreTakenAsPlausibleTakesThem) {
  const auto e = fromPlausible(
      R"({"n":"x","u":"https://a.example/","d":"a.example","m":"{\"k\":1,\"e\":\"\",\"n\":null}"})");
  EXPECT_EQ(e.body["props"], json({{"k", 1}}));
  const auto none =
      fromPlausible(R"({"n":"x","u":"https://a.example/","d":"a.example","r":null,"p":{}})");
  EXPECT_FALSE(none.body.contains("props"));
  EXPECT_FALSE(none.body.contains("referrer"));
}

TEST(Plausible, SeveralDomainsAreNormalisedOnceEach) {
  const auto e = fromPlausible(
      R"({"n":"x","u":"https://a.example/","d":"a.example, https://www.b.example/x ,a.example,"})");
  EXPECT_THAT(e.domains, ElementsAre("a.example", "b.example"));
}

TEST(Plausible, ErrorsNameThePayloadsOwnField) {
  EXPECT_EQ(fieldOf([] { fromPlausible(R"({"u":"https://a.example/","d":"a.example"})"); }), "n");
  EXPECT_EQ(fieldOf([] { fromPlausible(R"({"name":"x","url":"https://a.example/"})"); }), "d");
  EXPECT_EQ(fieldOf([] { fromPlausible(R"({"n":"x","d":"a.example"})"); }), "u");
  EXPECT_EQ(
      fieldOf([] { fromPlausible(R"({"n":"x","u":"https://a.example/","d":"not a host"})"); }),
      "d");
  EXPECT_EQ(fieldOf([] {
              fromPlausible(R"({"n":"x","u":"https://a.example/","d":"a.example","p":"{"})");
            }),
            "p");
  EXPECT_EQ(fieldOf([] {
              fromPlausible(R"({"n":"x","u":"https://a.example/","d":"a.example","p":{"a":[1]}})");
            }),
            "p");
  EXPECT_EQ(fieldOf([] {
              fromPlausible(R"({"n":"x","u":"https://a.example/","d":"a.example","i":"no"})");
            }),
            "i");
  EXPECT_EQ(fieldOf([] { fromPlausible("[1]"); }), "body");
  EXPECT_EQ(fieldOf([] { fromPlausible("{"); }), "body");
}

TEST(Umami, AnEventBecomesATrackBody) {
  const auto e = fromUmami(json::parse(R"({"type":"event","payload":{
      "website":"0190d7a0-0000-7000-8000-000000000001","hostname":"a.example","url":"/p?q=1",
      "referrer":"https://b.test/","title":"T","language":"en","screen":"1x1","name":"buy",
      "data":{"cart":{"items":2,"tags":["x"]},"c":"d"},"timestamp":1700000000}})"));
  EXPECT_EQ(e.type, "event");
  EXPECT_EQ(e.body["websiteId"], "0190d7a0-0000-7000-8000-000000000001");
  EXPECT_EQ(e.body["url"], "https://a.example/p?q=1");
  EXPECT_EQ(e.body["referrer"], "https://b.test/");
  EXPECT_EQ(e.body["eventType"], "buy");
  EXPECT_EQ(e.body["props"], json({{"cart.items", 2}, {"cart.tags", "[\"x\"]"}, {"c", "d"}}));
  EXPECT_EQ(e.body["timestamp"], 1700000000000LL);
}

TEST(Umami, APageViewWithAnAbsoluteUrlAndAnInternalReferrer) {
  const auto e = fromUmami(json::parse(
      R"({"payload":{"website":"w","url":"https://a.example/x","referrer":"/from","name":""}})"));
  EXPECT_EQ(e.body["url"], "https://a.example/x");
  EXPECT_FALSE(e.body.contains("referrer"));
  EXPECT_FALSE(e.body.contains("eventType"));
}

TEST(Umami, OtherTypesRecordNothingAndErrorsNameTheField) {
  EXPECT_TRUE(
      fromUmami(json::parse(R"({"type":"identify","payload":{"website":"w"}})")).body.is_null());
  EXPECT_EQ(fieldOf([] { fromUmami(json::parse(R"({"type":"nope","payload":{}})"), "[2]."); }),
            "[2].type");
  EXPECT_EQ(fieldOf([] { fromUmami(json::parse(R"({"type":"event"})")); }), "payload");
  EXPECT_EQ(fieldOf([] { fromUmami(json::parse(R"({"payload":{"website":"w","url":"/x"}})")); }),
            "payload.hostname");
  EXPECT_EQ(fieldOf([] { fromUmami(json::parse(R"({"payload":{"url":"/x"}})")); }),
            "payload.website");
  EXPECT_EQ(
      fieldOf([] {
        fromUmami(json::parse(R"({"payload":{"website":"w","url":"https://a/","timestamp":"x"}})"));
      }),
      "payload.timestamp");
}

TEST(SessionCookie, IsHttpOnlyStrictAndReadBack) {
  const auto set = auth::sessionCookie("tok", 60, true);
  EXPECT_EQ(set, "mp_session=tok; Max-Age=60; Path=/; HttpOnly; SameSite=Strict; Secure");
  EXPECT_THAT(auth::clearedSessionCookie(false), HasSubstr("mp_session=; Max-Age=0"));
  EXPECT_EQ(auth::cookieValue("a=1; mp_session=xyz; b=2", "mp_session"), "xyz");
  EXPECT_EQ(auth::cookieValue("mp_session=\"q\"", "mp_session"), "q");
  EXPECT_EQ(auth::cookieValue("xmp_session=1; a=2", "mp_session"), std::nullopt);
  EXPECT_EQ(auth::cookieValue("mp_session=first; mp_session=second", "mp_session"), "first");
  EXPECT_EQ(auth::hostOf("https://A.example:8443/x"), "a.example");
  EXPECT_EQ(auth::hostOf("a.example:80"), "a.example");
  EXPECT_EQ(auth::hostOf("[::1]:8080"), "[::1]");
  EXPECT_EQ(auth::hostOf("http://[::1]"), "[::1]");
}

}  // namespace
}  // namespace mp::ingest
