// POST /track end to end: every answer of the tracking table, enrichment, and what is stored.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "redis/client.hpp"
#include "sites/announce.hpp"
#include "sites/sites.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/tracking.hpp"
#include "support/wait.hpp"
#include "users/users.hpp"
#include "util/time.hpp"
#include "util/url.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class Track : public TrackingFixture {};

TEST_F(Track, PageviewIsAcceptedAndStoredWithDerivedFields) {
  auto r = track({{"websiteId", site_},
                  {"url", "https://www.example.com/blog/post?utm=x#top"},
                  {"referrer", "https://news.ycombinator.com/item?id=1"}},
                 {"User-Agent: " + std::string(kChromeWindows)});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"ok", true}}));
  EXPECT_EQ(r.header("access-control-allow-origin"), "*");
  ASSERT_TRUE(waitForRows(1));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto row = conn.exec(
      "SELECT event_type, page, url, hostname, referrer, referrer_host, browser, os, device, "
      "session_id, visitor_id, host(ip), country, props FROM events");
  EXPECT_EQ(row.get(0, 0), "pageview");
  EXPECT_EQ(row.get(0, 1), "/blog/post");
  EXPECT_EQ(row.get(0, 2), "https://www.example.com/blog/post?utm=x#top");
  EXPECT_EQ(row.get(0, 3), "www.example.com");
  EXPECT_EQ(row.get(0, 4), "https://news.ycombinator.com/item?id=1");
  EXPECT_EQ(row.get(0, 5), "news.ycombinator.com");
  EXPECT_EQ(row.get(0, 6), "Chrome");
  EXPECT_EQ(row.get(0, 7), "Windows");
  EXPECT_EQ(row.get(0, 8), "desktop");
  EXPECT_FALSE(row.get(0, 9).empty()) << "a missing sessionId is derived";
  EXPECT_NE(row.getInt(0, 10), 0);
  EXPECT_EQ(row.get(0, 11), "127.0.0.0") << "IPv4 is truncated to /24 by default";
  EXPECT_TRUE(row.isNull(0, 12)) << "no GeoIP database configured";
  EXPECT_TRUE(row.isNull(0, 13));
  // Attributed when stored (docs/metrics.md): the referrer's listed name and its channel.
  auto origin = conn.exec("SELECT source, channel, utm_source, interactive FROM events");
  EXPECT_EQ(origin.get(0, 0), "Hacker News");
  EXPECT_EQ(origin.get(0, 1), "Organic Social");
  EXPECT_TRUE(origin.isNull(0, 2));
  EXPECT_TRUE(origin.getBool(0, 3));
}

TEST_F(Track, UtmTagsAndTheInteractiveFlagAreStored) {
  auto r = track({{"websiteId", site_},
                  {"eventType", "scroll"},
                  {"interactive", false},
                  {"url",
                   "https://example.com/post?utm_source=Newsletter&utm_medium=email"
                   "&utm_campaign=spring+sale&utm_term=%C3%A9t%C3%A9&utm_content=top"}});
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(waitForRows(1));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto row = conn.exec(
      "SELECT source, channel, utm_source, utm_medium, utm_campaign, utm_term, utm_content,"
      " interactive FROM events");
  EXPECT_EQ(row.get(0, 0), "Newsletter");
  EXPECT_EQ(row.get(0, 1), "Email");
  EXPECT_EQ(row.get(0, 2), "Newsletter");
  EXPECT_EQ(row.get(0, 3), "email");
  EXPECT_EQ(row.get(0, 4), "spring sale");
  EXPECT_EQ(row.get(0, 5), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(row.get(0, 6), "top");
  EXPECT_FALSE(row.getBool(0, 7));
}

TEST_F(Track, CustomEventWithPropsTimestampAndSessionId) {
  const auto ts = util::nowMillis() - 3600 * 1000;
  auto r = track({{"websiteId", site_},
                  {"eventType", "signup"},
                  {"url", "https://example.com/join"},
                  {"sessionId", "abc-123"},
                  {"timestamp", util::formatRfc3339Millis(ts)},
                  {"props", {{"plan", "pro"}, {"seats", 3}, {"trial", true}}},
                  {"someFutureField", {1, 2, 3}}});
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(waitForRows(1));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto row = conn.exec(
      "SELECT event_type, session_id, (extract(epoch from ts) * 1000)::bigint, props::text FROM "
      "events");
  EXPECT_EQ(row.get(0, 0), "signup");
  EXPECT_EQ(row.get(0, 1), "abc-123");
  EXPECT_EQ(row.getInt(0, 2), ts);
  EXPECT_EQ(json::parse(row.get(0, 3)), json({{"plan", "pro"}, {"seats", 3}, {"trial", true}}));
  // Epoch milliseconds are accepted as well.
  EXPECT_EQ(
      track({{"websiteId", site_}, {"url", "https://example.com/"}, {"timestamp", ts}}).status,
      202);
}

TEST_F(Track, TextPlainBodiesAreAcceptedAsSendBeaconSendsThem) {
  auto r = httpRequest("POST", url("/track"),
                       json({{"websiteId", site_}, {"url", "https://example.com/"}}).dump(),
                       {"Content-Type: text/plain;charset=UTF-8"});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_TRUE(waitForRows(1));
}

TEST_F(Track, InvalidBodiesAre400NamingTheFieldAndStoreNothing) {
  const std::string longUrl = "https://example.com/" + std::string(2100, 'a');
  struct Case {
    json body;
    std::string field;
  } cases[] = {
      {{{"url", "https://example.com/"}}, "websiteId"},
      {{{"websiteId", "not-a-uuid"}, {"url", "https://example.com/"}}, "websiteId"},
      {{{"websiteId", 42}, {"url", "https://example.com/"}}, "websiteId"},
      {{{"websiteId", site_}}, "url"},
      {{{"websiteId", site_}, {"url", "/relative"}}, "url"},
      {{{"websiteId", site_}, {"url", "ftp://example.com/"}}, "url"},
      {{{"websiteId", site_}, {"url", longUrl}}, "url"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"eventType", ""}}, "eventType"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"eventType", std::string(65, 'e')}},
       "eventType"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"referrer", longUrl}}, "referrer"},
      {{{"websiteId", site_},
        {"url", "https://example.com/"},
        {"sessionId", std::string(129, 's')}},
       "sessionId"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"timestamp", "yesterday"}},
       "timestamp"},
      {{{"websiteId", site_},
        {"url", "https://example.com/"},
        {"timestamp", util::nowMillis() - 25LL * 3600 * 1000}},
       "timestamp"},
      {{{"websiteId", site_},
        {"url", "https://example.com/"},
        {"timestamp", util::nowMillis() + 10LL * 60 * 1000}},
       "timestamp"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"interactive", "no"}},
       "interactive"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"interactive", 0}}, "interactive"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"props", "x"}}, "props"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"props", {{"a", {{"nested", 1}}}}}},
       "props"},
      {{{"websiteId", site_}, {"url", "https://example.com/"}, {"props", {{"a", {1, 2}}}}},
       "props"},
  };
  json tooMany = json::object();
  for (int i = 0; i < 31; ++i) tooMany["k" + std::to_string(i)] = i;
  for (const auto& c : cases) {
    auto r = track(c.body);
    EXPECT_EQ(r.status, 400) << c.body.dump().substr(0, 200);
    EXPECT_EQ(errorCode(r), "invalid_request") << c.body.dump().substr(0, 200);
    EXPECT_THAT(r.body, HasSubstr(c.field)) << c.body.dump().substr(0, 200);
  }
  auto many = track({{"websiteId", site_}, {"url", "https://example.com/"}, {"props", tooMany}});
  EXPECT_EQ(many.status, 400);
  for (const std::string& raw :
       {std::string("{\"websiteId\":"), std::string("[1,2]"), std::string("null"),
        std::string("{\"websiteId\":\"") + site_ +
            "\",\"url\":\"https://example.com/\xff\xfe\"}"}) {
    auto r = httpRequest("POST", url("/track"), raw, {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 400) << raw;
    EXPECT_EQ(errorCode(r), "invalid_request");
  }
  EXPECT_FALSE(waitForRows(1, std::chrono::milliseconds(1500))) << "nothing may be stored";
  EXPECT_EQ(httpRequest("GET", url("/healthz")).status, 200) << "the daemon keeps serving";
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// POSTs a body given as raw JSON text (numbers spelt as wanted, escapes as written).
HttpResponse trackRaw(const std::string& url, const std::string& body,
                      std::vector<std::string> headers = {}) {
  headers.emplace_back("Content-Type: application/json");
  return httpRequest("POST", url, body, headers);
}

// Lengths are code points: API.md says characters, and a browser's non-ASCII URL is as long as it
// looks, not as its bytes.
TEST_F(Track, LengthsAreCharactersNotBytes) {
  const std::string e = "\xc3\xa9";              // é, two bytes
  const std::string smile = "\xf0\x9f\x98\x80";  // four bytes
  const std::string base = "https://example.com/";
  const std::string url2048 = base + repeat(e, 2048 - static_cast<int>(base.size()));
  auto ok = track({{"websiteId", site_},
                   {"url", url2048},
                   {"referrer", url2048},
                   {"eventType", repeat(smile, 64)},
                   {"sessionId", repeat(e, 128)}});
  EXPECT_EQ(ok.status, 202) << ok.body;
  struct Case {
    json body;
    std::string field;
  } over[] = {
      {{{"websiteId", site_}, {"url", url2048 + e}}, "url"},
      {{{"websiteId", site_}, {"url", base}, {"referrer", url2048 + e}}, "referrer"},
      {{{"websiteId", site_}, {"url", base}, {"eventType", repeat(smile, 65)}}, "eventType"},
      {{{"websiteId", site_}, {"url", base}, {"sessionId", repeat(e, 129)}}, "sessionId"},
  };
  for (const auto& c : over) {
    auto r = track(c.body);
    EXPECT_EQ(r.status, 400) << c.field;
    EXPECT_THAT(r.body, HasSubstr(c.field + " must be"));
  }
  ASSERT_TRUE(waitForRows(1));
  EXPECT_FALSE(waitForRows(2, std::chrono::milliseconds(500)));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto row = conn.exec("SELECT url, char_length(url), char_length(event_type) FROM events");
  EXPECT_EQ(row.get(0, 0), url2048);
  EXPECT_EQ(row.getInt(0, 1), 2048);
  EXPECT_EQ(row.getInt(0, 2), 64);
}

// Every class of value PostgreSQL would refuse or alter after the 202 (a NUL in text or jsonb,
// a number jsonb would keep but a double cannot, malformed UTF-8, over-long text) is refused at
// ingest, naming the field; nothing of it is stored.
TEST_F(Track, WhatTheDatabaseWouldRefuseIs400NamingTheField) {
  const std::string s = "\"websiteId\":\"" + site_ + "\"";
  const std::string url = ",\"url\":\"https://example.com/\"";
  struct Case {
    std::string body;
    std::string field;
    std::vector<std::string> headers = {};
  } cases[] = {
      {"{" + s + url + ",\"eventType\":\"sign\\u0000up\"}", "eventType"},
      {"{" + s + ",\"url\":\"https://example.com/a\\u0000b\"}", "url"},
      {"{" + s + url + ",\"referrer\":\"https://ref.example/\\u0000\"}", "referrer"},
      {"{" + s + url + ",\"sessionId\":\"\\u0000\"}", "sessionId"},
      {"{" + s + url + ",\"props\":{\"k\\u0000\":\"v\"}}", "props keys"},
      {"{" + s + url + ",\"props\":{\"k\":\"v\\u0000\"}}", "props.k"},
      {"{" + s + url + ",\"props\":{\"k\":\"\\ud800\"}}", "body"},
      {"{" + s + url + ",\"props\":{\"k\":\"\\udc00x\"}}", "body"},
      {"{" + s + url + ",\"props\":{\"k\":\"\xed\xa0\x80\"}}", "body"},
      {"{" + s + url + ",\"props\":{\"k\":\"\xc0\xaf\"}}", "body"},
      {"{" + s + url + ",\"props\":{\"n\":1e400}}", "body"},
      {"{" + s + url + ",\"props\":{\"n\":-1e400}}", "body"},
      {"{" + s + url + ",\"props\":{\"n\":1e-400}}", "props.n"},
      {"{" + s + url + ",\"props\":{\"n\":123456789012345678901234}}", "props.n"},
      {"{" + s + url + ",\"props\":{\"n\":0.12345678901234567890123}}", "props.n"},
      {"{" + s + url + "}", "User-Agent", {"User-Agent: Mozilla/5.0 \xff\xfe"}},
  };
  for (const auto& c : cases) {
    auto r = trackRaw(this->url("/track"), c.body, c.headers);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(errorCode(r), "invalid_request") << c.body;
    EXPECT_THAT(r.body, HasSubstr(c.field)) << c.body;
  }
  // With the owner's token, the body's userAgent and ip are stored: they are checked as well.
  const std::string token =
      auth::signToken({owner_, util::nowMillis() / 1000, util::nowMillis() / 1000 + 600}, secret_);
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {"{" + s + url + ",\"userAgent\":\"Bot\\u0000\"}", "userAgent"},
           {"{" + s + url + ",\"ip\":\"not-an-address\"}", "ip"}}) {
    auto r = trackRaw(this->url("/track"), body, {"Authorization: Bearer " + token});
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_THAT(r.body, HasSubstr(field)) << body;
  }
  EXPECT_FALSE(waitForRows(1, std::chrono::milliseconds(1000))) << "nothing may be stored";
}

// The other side of the same promise: whatever is answered 202 is stored exactly as it was sent,
// field by field, props included, once the writer has drained the queue.
TEST_F(Track, Accepted202MeansStoredExactlyAsSent) {
  const auto now = util::nowMillis();
  const std::string base = "https://example.com/";
  const std::string e = "\xc3\xa9";
  struct Case {
    std::string url;
    std::string body;  // the rest of the JSON object after websiteId and url
    std::string userAgent = kChromeWindows;
    std::string eventType = "pageview";
    std::string referrer;
    std::string sessionId;
    json props;
    std::int64_t ts = 0;  // 0: the time of the request
  };
  const std::string ctl = "\\u0001\\u001f\\t\\n\\r\\\\\\\"/\\u007f";
  const std::string rawProps =
      "{\"ctl\":\"" + ctl +
      "\",\"bmp\":\"\\uffff\\ufffe\",\"astral\":\"\\udbff\\udfff\xf0\x9f\x98\x80\",\"\":\"empty "
      "key\",\"\xd0\xba\xd0\xbb\":\"\xd0\xb7\",\"tenth\":0.1,\"hundred\":1e2,\"negzero\":-0,"
      "\"u64\":18446744073709551615,\"i64\":-9223372036854775808,\"max\":1.7976931348623157e308,"
      "\"min\":2.2250738585072014e-308,\"pi\":3.141592653589793,\"t\":true,\"f\":false}";
  std::vector<Case> cases;
  {
    Case c;
    c.url = base + "long/" + repeat(e, 2048 - static_cast<int>(base.size()) - 5);
    c.eventType = repeat("\xf0\x9f\x98\x80", 64);
    c.sessionId = repeat("\xd0\xb6", 128);
    c.referrer = "https://ref.example.net/" + repeat("\xe2\x82\xac", 2048 - 24);
    c.body = ",\"eventType\":" + json(c.eventType).dump() +
             ",\"sessionId\":" + json(c.sessionId).dump() +
             ",\"referrer\":" + json(c.referrer).dump();
    cases.push_back(c);
  }
  {
    Case c;
    c.url = base + "props?q=%00x#frag";
    c.eventType = "with props";
    c.props = json::parse(rawProps);
    c.body = ",\"eventType\":\"with props\",\"props\":" + rawProps;
    cases.push_back(c);
  }
  {
    Case c;
    c.url = base + "unicode-agent";
    c.userAgent =
        "Mozilla/5.0 (X11; Linux x86_64) \xc3\x9cn\xc3\xaf"
        "c\xc3\xb8"
        "de/1.0";
    cases.push_back(c);
  }
  {
    Case c;
    c.url = base + "offset";
    c.ts = now - 3600 * 1000;
    std::string local = util::formatRfc3339Millis(c.ts + 2 * 3600 * 1000);
    local.replace(local.size() - 1, 1, "+02:00");
    c.body = ",\"timestamp\":\"" + local + "\",\"referrer\":\"\"";
    cases.push_back(c);
  }
  {
    Case c;
    c.url = "https://Sub.Example.COM/Path/%C3%A9?x=\\\\y";
    c.body = ",\"referrer\":\"https://example.com/inside\"";
    c.referrer = "https://example.com/inside";
    cases.push_back(c);
  }
  for (const auto& c : cases) {
    auto r =
        trackRaw(url("/track"),
                 "{\"websiteId\":\"" + site_ + "\",\"url\":" + json(c.url).dump() + c.body + "}",
                 {"User-Agent: " + c.userAgent});
    ASSERT_EQ(r.status, 202) << r.body << " " << c.url.substr(0, 60);
  }
  ASSERT_TRUE(waitForRows(static_cast<long>(cases.size())));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  EXPECT_EQ(rowCount(), static_cast<long>(cases.size()));
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url.substr(0, 60));
    auto row = conn.execArgs(
        "SELECT event_type, url, page, hostname, referrer, session_id, user_agent, props::text,"
        " (extract(epoch from ts) * 1000)::bigint FROM events WHERE url = $1",
        c.url);
    ASSERT_EQ(row.rows(), 1);
    auto parsed = util::parseHttpUrl(c.url);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(row.get(0, 0), c.eventType);
    EXPECT_EQ(row.get(0, 1), c.url);
    EXPECT_EQ(row.get(0, 2), parsed->path);
    EXPECT_EQ(row.get(0, 3), parsed->host);
    if (c.referrer.empty()) {
      EXPECT_TRUE(row.isNull(0, 4));
    } else {
      EXPECT_EQ(row.get(0, 4), c.referrer);
    }
    if (!c.sessionId.empty()) {
      EXPECT_EQ(row.get(0, 5), c.sessionId);
    }
    EXPECT_EQ(row.get(0, 6), c.userAgent);
    if (c.props.is_null()) {
      EXPECT_TRUE(row.isNull(0, 7));
    } else {
      const json stored = json::parse(row.get(0, 7));
      EXPECT_EQ(stored, c.props) << stored.dump();
      EXPECT_EQ(stored["ctl"], "\x01\x1f\t\n\r\\\"/\x7f");
      EXPECT_EQ(stored["u64"].get<std::uint64_t>(), 18446744073709551615ULL);
      EXPECT_EQ(stored["i64"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
    }
    if (c.ts != 0) {
      EXPECT_EQ(row.getInt(0, 8), c.ts);
    }
  }
}

TEST_F(Track, UnknownWebsiteAndForeignHostsAreRefused) {
  auto unknown = track(
      {{"websiteId", "0190d7a0-0000-7000-8000-000000000000"}, {"url", "https://example.com/"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(errorCode(unknown), "unknown_website");
  auto otherHost = track({{"websiteId", site_}, {"url", "https://evil.test/"}});
  EXPECT_EQ(otherHost.status, 403);
  EXPECT_EQ(errorCode(otherHost), "domain_mismatch");
  auto lookalike = track({{"websiteId", site_}, {"url", "https://notexample.com/"}});
  EXPECT_EQ(lookalike.status, 403);
  auto badOrigin =
      track({{"websiteId", site_}, {"url", "https://example.com/"}}, {"Origin: https://evil.test"});
  EXPECT_EQ(badOrigin.status, 403);
  EXPECT_EQ(errorCode(badOrigin), "domain_mismatch");
  EXPECT_EQ(track({{"websiteId", site_}, {"url", "https://blog.example.com/"}},
                  {"Origin: https://blog.example.com"})
                .status,
            202);
  EXPECT_TRUE(waitForRows(1));
  EXPECT_FALSE(waitForRows(2, std::chrono::milliseconds(1000)));
}

TEST_F(Track, WebsitesCreatedAfterStartAreTrackedAtOnceAndDeletedOnesRefusedAtOnce) {
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  // Created behind the daemon's back, unannounced: looked up on first use.
  auto fresh = sites::create(conn, owner_, "New", "new.example").id;
  EXPECT_EQ(track({{"websiteId", fresh}, {"url", "https://new.example/"}}).status, 202);
  // Deleted and announced, as mpctl website del does: refused as soon as the announcement
  // reaches the daemon over Redis.
  sites::remove(conn, fresh);
  redis::Client redis(redis::Url::parse(redis_.url()), std::chrono::seconds(2));
  ASSERT_TRUE(sites::announceWebsitesDeleted(redis, {fresh}));
  HttpResponse refused;
  EXPECT_TRUE(test::eventually([&] {
    refused = track({{"websiteId", fresh}, {"url", "https://new.example/"}});
    return refused.status == 404;
  })) << refused.status
      << ' ' << refused.body;
  EXPECT_EQ(errorCode(refused), "unknown_website");
}

TEST_F(Track, WrongMediaTypeIs415AndHugeBodyIs413) {
  auto form = httpRequest("POST", url("/track"), "websiteId=x",
                          {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(form.status, 415);
  EXPECT_EQ(errorCode(form), "unsupported_media_type");
  const std::string big = json({{"websiteId", site_},
                                {"url", "https://example.com/"},
                                {"props", {{"pad", std::string(20000, 'x')}}}})
                              .dump();
  auto tooBig = httpRequest("POST", url("/track"), big, {"Content-Type: application/json"});
  EXPECT_EQ(tooBig.status, 413);
  EXPECT_EQ(errorCode(tooBig), "payload_too_large");
  // Far past the limit, the server refuses before buffering the body (as a browser sends it:
  // no Expect: 100-continue), in the same JSON shape.
  const std::string huge(1024 * 1024, 'x');
  auto megabyte =
      httpRequest("POST", url("/track"), huge, {"Content-Type: application/json", "Expect:"});
  EXPECT_EQ(megabyte.status, 413);
  EXPECT_EQ(errorCode(megabyte), "payload_too_large");
  EXPECT_EQ(httpRequest("GET", url("/healthz")).status, 200) << "the daemon keeps serving";
}

TEST_F(Track, OptionsAnswersCorsPreflight) {
  auto r = httpRequest("OPTIONS", url("/track"), "",
                       {"Origin: https://example.com", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("access-control-allow-origin"), "*");
  EXPECT_THAT(r.header("access-control-allow-methods"), HasSubstr("POST"));
  EXPECT_THAT(r.header("access-control-allow-methods"), HasSubstr("OPTIONS"));
  EXPECT_THAT(r.header("access-control-allow-headers"), HasSubstr("Content-Type"));
  EXPECT_FALSE(r.header("access-control-max-age").empty());
}

TEST_F(Track, BotsAreAnswered202AndNotStored) {
  for (const char* ua : {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                         "curl/8.0.1", "python-requests/2.31.0"}) {
    auto r = track({{"websiteId", site_}, {"url", "https://example.com/"}},
                   {std::string("User-Agent: ") + ua});
    EXPECT_EQ(r.status, 202) << ua;
  }
  EXPECT_FALSE(waitForRows(1, std::chrono::milliseconds(1500)));
  auto metrics = httpRequest("GET", daemon_->metricsUrl());
  EXPECT_THAT(metrics.body, HasSubstr("mp_events_dropped_total{reason=\"bot\"} 3"));
}

TEST_F(Track, VisitorIdIsStableWithinADayAndDiffersAcrossSites) {
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  const std::string second = sites::create(conn, owner_, "Second", "second.example").id;
  waitForSite(second);
  const std::vector<std::string> ua = {"User-Agent: " + std::string(kChromeWindows)};
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/a"}}, ua).status, 202);
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/b"}}, ua).status, 202);
  ASSERT_EQ(track({{"websiteId", second}, {"url", "https://second.example/"}}, ua).status, 202);
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/c"}},
                  {"User-Agent: Firefox-like/1.0"})
                .status,
            202);
  ASSERT_TRUE(waitForRows(4));
  auto rows = conn.exec(
      "SELECT website_id::text, page, visitor_id, session_id FROM events ORDER BY ts, id");
  std::map<std::string, std::int64_t> byPage;
  std::map<std::string, std::string> sessionByPage;
  for (int i = 0; i < rows.rows(); ++i) {
    byPage[std::string(rows.get(i, 1))] = rows.getInt(i, 2);
    sessionByPage[std::string(rows.get(i, 1))] = std::string(rows.get(i, 3));
  }
  EXPECT_EQ(byPage["/a"], byPage["/b"]) << "same visitor, same day, same site";
  EXPECT_EQ(sessionByPage["/a"], sessionByPage["/b"]);
  EXPECT_NE(byPage["/a"], byPage["/"]) << "another site gives another id";
  EXPECT_NE(byPage["/a"], byPage["/c"]) << "another browser is another visitor";
}

TEST_F(Track, RealtimeCountsSessionsOfTheLastFiveMinutes) {
  for (const char* session : {"s1", "s2", "s2", "s3"}) {
    ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/"}, {"sessionId", session}})
                  .status,
              202);
  }
  redis::Client client(redis::Url::parse(redis_.url()), std::chrono::seconds(2));
  const auto now = util::nowMillis() / 1000;
  auto count = client.command({"ZCOUNT", "mp:rt:" + site_, std::to_string(now - 300), "+inf"});
  EXPECT_EQ(count.integer(), 3);
  auto ttl = client.command({"TTL", "mp:rt:" + site_});
  EXPECT_GT(ttl.integer(), 1700);
  EXPECT_LE(ttl.integer(), 1800);
}

TEST_F(Track, EventsArePublishedForTheLiveFeed) {
  redis::Client subscriber(redis::Url::parse(redis_.url()), std::chrono::seconds(5));
  auto sub = subscriber.command({"SUBSCRIBE", "events:" + site_});
  ASSERT_TRUE(sub.isArray()) << sub.debugString();
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/live?x=1"}, {"referrer", ""}},
                  {"User-Agent: " + std::string(kChromeWindows)})
                .status,
            202);
  auto message = subscriber.readReply();
  ASSERT_TRUE(message.isArray()) << message.debugString();
  auto frame = json::parse(message.elements().at(2).str());
  EXPECT_EQ(frame["type"], "event");
  EXPECT_EQ(frame["websiteId"], site_);
  EXPECT_EQ(frame["eventType"], "pageview");
  EXPECT_EQ(frame["page"], "/live");
  EXPECT_EQ(frame["url"], "https://example.com/live?x=1");
  EXPECT_TRUE(frame["referrer"].is_null());
  EXPECT_TRUE(frame["sessionId"].is_string());
  EXPECT_TRUE(frame["timestamp"].is_string());
  EXPECT_EQ(frame["browser"], "Chrome");
  EXPECT_EQ(frame["os"], "Windows");
  EXPECT_EQ(frame["device"], "desktop");
  EXPECT_TRUE(frame.contains("country"));
}

class TrackRateLimited : public TrackingFixture {
 protected:
  std::string extraToml() override { return "[ingest]\nrate_limit_per_minute = 5\n"; }
};

TEST_F(TrackRateLimited, OverTheLimitIs429WithRetryAfter) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/"}}).status, 202) << i;
  }
  auto limited = track({{"websiteId", site_}, {"url", "https://example.com/"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(errorCode(limited), "rate_limited");
  const long retry = std::stol(limited.header("retry-after"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 60);
  EXPECT_TRUE(waitForRows(5));
  EXPECT_FALSE(waitForRows(6, std::chrono::milliseconds(1000))) << "a refused event is not stored";
}

class TrackBehindProxy : public TrackingFixture {
 protected:
  std::string extraToml() override {
    return "[geoip]\ndatabase = \"" + testdataPath("geoip/GeoLite2-City-Test.mmdb").string() +
           "\"\n[privacy]\nip_storage = \"full\"\n";
  }
  void amendHttp(std::string& http) override {
    http += "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n";
  }
};

TEST_F(TrackBehindProxy, CountryAndAddressComeFromTheForwardedClient) {
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/"}},
                  {"X-Forwarded-For: 81.2.69.160, 10.0.0.1"})
                .status,
            202);
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/jp"}},
                  {"X-Forwarded-For: 2001:218::1"})
                .status,
            202);
  ASSERT_TRUE(waitForRows(2));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto rows = conn.exec("SELECT page, country, host(ip) FROM events ORDER BY page");
  EXPECT_EQ(rows.get(0, 0), "/");
  EXPECT_EQ(rows.get(0, 1), "GB");
  EXPECT_EQ(rows.get(0, 2), "81.2.69.160");
  EXPECT_EQ(rows.get(1, 1), "JP");
  EXPECT_EQ(rows.get(1, 2), "2001:218::1");
}

// An appending proxy keeps what the client sent and adds the address it saw: only that right-most
// entry is vouched for, so a forged left-most one must not choose the recorded address or country.
TEST_F(TrackBehindProxy, AForgedLeftMostForwardedEntryIsNotTheClient) {
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/forged"}},
                  {"X-Forwarded-For: 81.2.69.160, 2001:218::1, 10.0.0.1"})
                .status,
            202);
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/malformed"}},
                  {"X-Forwarded-For: 81.2.69.160, unknown, 10.0.0.1"})
                .status,
            202);
  ASSERT_TRUE(waitForRows(2));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto rows = conn.exec("SELECT page, country, host(ip) FROM events ORDER BY page");
  EXPECT_EQ(rows.get(0, 0), "/forged");
  EXPECT_EQ(rows.get(0, 1), "JP");
  EXPECT_EQ(rows.get(0, 2), "2001:218::1");
  // A malformed entry ends the walk at the trusted proxy right of it, never left of it.
  EXPECT_EQ(rows.get(1, 0), "/malformed");
  EXPECT_EQ(rows.get(1, 2), "10.0.0.1");
}

class TrackRateLimitedBehindProxy : public TrackingFixture {
 protected:
  std::string extraToml() override { return "[ingest]\nrate_limit_per_minute = 5\n"; }
  void amendHttp(std::string& http) override { http += "trusted_proxies = [\"127.0.0.1\"]\n"; }
};

// A subscriber holds a whole IPv6 /64: changing the address inside it must not buy a new budget.
TEST_F(TrackRateLimitedBehindProxy, AddressesOfOneIpv6Slash64ShareOneBudget) {
  const json event = {{"websiteId", site_}, {"url", "https://example.com/"}};
  // The minute may turn over between requests; then the whole run is repeated in the next one.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto minute = util::nowMillis() / 60000;
    std::vector<long> statuses;
    for (int i = 1; i <= 5; ++i) {
      statuses.push_back(track(event, {"X-Forwarded-For: 2001:db8:" + std::to_string(attempt) +
                                       ":2::" + std::to_string(i)})
                             .status);
    }
    auto sameSlash64 = track(
        event, {"X-Forwarded-For: 2001:db8:" + std::to_string(attempt) + ":2:ffff:ffff:ffff:1"});
    auto otherSlash64 =
        track(event, {"X-Forwarded-For: 2001:db8:" + std::to_string(attempt) + ":3::1"});
    auto ipv4 = track(event, {"X-Forwarded-For: 198.51.100." + std::to_string(attempt + 1)});
    if (util::nowMillis() / 60000 != minute) continue;
    EXPECT_EQ(statuses, std::vector<long>(5, 202));
    EXPECT_EQ(sameSlash64.status, 429) << sameSlash64.body;
    EXPECT_EQ(otherSlash64.status, 202) << otherSlash64.body;
    EXPECT_EQ(ipv4.status, 202) << ipv4.body;
    return;
  }
  FAIL() << "every run straddled a minute boundary";
}

TEST_F(Track, XForwardedForIsIgnoredFromUntrustedPeers) {
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/"}},
                  {"X-Forwarded-For: 81.2.69.160"})
                .status,
            202);
  ASSERT_TRUE(waitForRows(1));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  EXPECT_EQ(conn.exec("SELECT host(ip) FROM events").get(0, 0), "127.0.0.0");
}

TEST_F(Track, ServerSideTrackingWithTheOwnersToken) {
  const std::string token =
      auth::signToken({owner_, util::nowMillis() / 1000, util::nowMillis() / 1000 + 600}, secret_);
  const auto old = util::nowMillis() - 10LL * 24 * 3600 * 1000;
  auto r = track({{"websiteId", site_},
                  {"url", "https://example.com/api"},
                  {"ip", "89.160.20.112"},
                  {"userAgent", kChromeWindows},
                  {"timestamp", old}},
                 {"Authorization: Bearer " + token});
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(waitForRows(1));
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto row =
      conn.exec("SELECT host(ip), browser, (extract(epoch from ts) * 1000)::bigint FROM events");
  EXPECT_EQ(row.get(0, 0), "89.160.20.0");
  EXPECT_EQ(row.get(0, 1), "Chrome");
  EXPECT_EQ(row.getInt(0, 2), old);

  // Another user's token is 403; without a token, ip/userAgent are ignored and old timestamps
  // refused.
  auto other = users::create(conn, "other@example.com", "password123", 4);
  const std::string otherToken = auth::signToken(
      {other.id, util::nowMillis() / 1000, util::nowMillis() / 1000 + 600}, secret_);
  auto forbidden = track({{"websiteId", site_}, {"url", "https://example.com/"}},
                         {"Authorization: Bearer " + otherToken});
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(errorCode(forbidden), "forbidden");
  EXPECT_EQ(
      track({{"websiteId", site_}, {"url", "https://example.com/"}, {"timestamp", old}}).status,
      400);
  ASSERT_EQ(
      track({{"websiteId", site_}, {"url", "https://example.com/anon"}, {"ip", "89.160.20.112"}})
          .status,
      202);
  ASSERT_TRUE(waitForRows(2));
  EXPECT_EQ(conn.exec("SELECT host(ip) FROM events WHERE page = '/anon'").get(0, 0), "127.0.0.0");
}

}  // namespace
}  // namespace mp::test
