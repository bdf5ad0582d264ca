// What a browser meets: the tracker script and the dashboard files (caching, gzip, CSP), the
// dashboard's session cookie (HTTP API and live feed), share links, and the tracking routes of
// Plausible's and Umami's snippets and clients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "db/connection.hpp"
#include "sites/sites.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/tracking.hpp"
#include "support/ws_client.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

std::string readSource(const std::string& relative) {
  std::ifstream in(sourcePath(relative), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Web : public TrackingFixture {
 protected:
  std::string extraToml() override {
    return "[web]\nroot = \"" + sourcePath("web").string() + "\"\n";
  }

  /// A bearer token of the seeded owner.
  std::string ownerToken() {
    auto r = httpRequest("POST", url("/auth/login"),
                         R"({"email":"owner@example.com","password":"password123"})",
                         {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["accessToken"].get<std::string>();
  }

  /// The session cookie ("mp_session=…") of a dashboard login.
  std::string sessionCookie() {
    auto r = httpRequest("POST", url("/auth/session"),
                         R"({"email":"owner@example.com","password":"password123"})",
                         {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set = r.header("set-cookie");
    return set.substr(0, set.find(';'));
  }

  /// The rows of the events table as "event_type page props", oldest first.
  std::vector<std::string> storedEvents() {
    db::Connection conn(db_.url(), std::chrono::seconds(5));
    auto r = conn.exec(
        "SELECT event_type || ' ' || page || ' ' || coalesce(referrer, '') || ' ' ||"
        " coalesce(props::text, '') FROM events ORDER BY ts, page");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
    return out;
  }

  HttpResponse post(const std::string& path, const std::string& body,
                    std::vector<std::string> headers = {}) {
    headers.emplace_back(std::string("User-Agent: ") + kChromeWindows);
    return httpRequest("POST", url(path), body, headers);
  }
};

TEST_F(Web, TheTrackerIsServedGzippedCachedAndUnderOneKibibyte) {
  const std::string source = readSource("web/tracker.js");
  ASSERT_FALSE(source.empty());
  auto plain = httpRequest("GET", url("/js/script.js"));
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, source);
  EXPECT_THAT(plain.header("content-type"), HasSubstr("javascript"));
  EXPECT_THAT(plain.header("cache-control"), HasSubstr("max-age=86400"));
  EXPECT_EQ(plain.header("access-control-allow-origin"), "*");
  const std::string etag = plain.header("etag");
  ASSERT_FALSE(etag.empty());

  auto gzip = httpRequest("GET", url("/js/script.js"), "", {"Accept-Encoding: gzip"});
  ASSERT_EQ(gzip.status, 200);
  EXPECT_EQ(gzip.header("content-encoding"), "gzip");
  EXPECT_EQ(gzip.header("vary"), "Accept-Encoding");
  EXPECT_LT(gzip.body.size(), 1024u) << "the tracker must stay under 1 KiB gzipped";
  EXPECT_NE(gzip.header("etag"), etag);

  auto again = httpRequest("GET", url("/js/script.js"), "", {"If-None-Match: " + etag});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());

  // Umami's path and Plausible's extension names are the same script.
  for (const char* path : {"/script.js", "/js/script.outbound-links.js",
                           "/js/script.hash.file-downloads.outbound-links.js"}) {
    auto r = httpRequest("GET", url(path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, source) << path;
  }
  for (const char* path :
       {"/js/other.js", "/js/script..js", "/js/script.Hash.js", "/js/script.js.map"}) {
    EXPECT_EQ(httpRequest("GET", url(path)).status, 404) << path;
  }
}

TEST_F(Web, TheDashboardPageHasAStrictContentSecurityPolicyAndNoInlineScript) {
  auto page = httpRequest("GET", url("/"), "", {"Accept-Encoding: gzip, deflate"});
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(page.header("content-type"), HasSubstr("text/html"));
  EXPECT_EQ(page.header("content-encoding"), "gzip");
  const std::string csp = page.header("content-security-policy");
  EXPECT_THAT(csp, HasSubstr("script-src 'self'"));
  EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'"));
  EXPECT_THAT(csp, Not(HasSubstr("unsafe-inline")));
  EXPECT_EQ(page.header("x-frame-options"), "DENY");

  auto plain = httpRequest("GET", url("/"));
  const std::string html = plain.body;
  EXPECT_EQ(html, readSource("web/dashboard/index.html"));
  // Every script of the page comes from a file (the policy would block an inline one).
  std::size_t pos = 0;
  int scripts = 0;
  while ((pos = html.find("<script", pos)) != std::string::npos) {
    const auto end = html.find('>', pos);
    EXPECT_THAT(html.substr(pos, end - pos), HasSubstr("src=")) << "an inline <script>";
    pos = end;
    ++scripts;
  }
  EXPECT_GE(scripts, 1);
  EXPECT_THAT(html, Not(HasSubstr(" onclick="))) << "inline handlers are blocked by the policy";

  auto asset = httpRequest("GET", url("/app/style.css"));
  EXPECT_EQ(asset.status, 200);
  EXPECT_THAT(asset.header("content-type"), HasSubstr("text/css"));
  EXPECT_EQ(asset.header("cache-control"), "no-cache");
  for (const char* path : {"/app/nope.js", "/app/..%2Fweb_test.cpp", "/app/.hidden"}) {
    EXPECT_EQ(httpRequest("GET", url(path)).status, 404) << path;
  }
}

TEST_F(Web, UiConfigNamesTheLiveFeedAndTheSnippetOnTheHostThePageCameFrom) {
  auto r = httpRequest("GET", url("/ui/config"), "", {"Host: stats.example.com:8443"});
  ASSERT_EQ(r.status, 200);
  auto body = json::parse(r.body);
  EXPECT_EQ(body["wsUrl"], "ws://stats.example.com:" + std::to_string(daemon_->wsPort()) + "/ws");
  EXPECT_EQ(body["trackerUrl"], "http://stats.example.com:8443/js/script.js");
  EXPECT_FALSE(body["version"].get<std::string>().empty());
}

TEST_F(Web, TheSessionCookieIsHttpOnlyStrictAndWorksLikeABearerToken) {
  auto wrong = httpRequest("POST", url("/auth/session"),
                           R"({"email":"owner@example.com","password":"wrong-password"})",
                           {"Content-Type: application/json"});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(errorCode(wrong), "invalid_credentials");
  EXPECT_EQ(wrong.header("set-cookie"), "");

  auto login = httpRequest("POST", url("/auth/session"),
                           R"({"email":"owner@example.com","password":"password123"})",
                           {"Content-Type: application/json"});
  ASSERT_EQ(login.status, 200) << login.body;
  const auto account = json::parse(login.body);
  EXPECT_EQ(account["email"], "owner@example.com");
  EXPECT_FALSE(account.contains("accessToken")) << "no token readable by page scripts";
  const std::string set = login.header("set-cookie");
  EXPECT_THAT(set, HasSubstr("mp_session="));
  EXPECT_THAT(set, HasSubstr("HttpOnly"));
  EXPECT_THAT(set, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(set, HasSubstr("Path=/"));
  EXPECT_THAT(set, Not(HasSubstr("Secure"))) << "plain HTTP without a proxy: auto leaves it off";
  const std::string cookie = "Cookie: " + set.substr(0, set.find(';'));

  auto me = httpRequest("GET", url("/auth/me"), "", {cookie});
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["id"], owner_);
  EXPECT_EQ(httpRequest("GET", url("/websites"), "", {cookie}).status, 200);
  EXPECT_EQ(httpRequest("GET", url("/stats/" + site_ + "/overview"), "", {cookie}).status, 200);

  // A change needs the dashboard's own origin: another page of the same site cannot make one.
  const std::string host = "127.0.0.1:" + std::to_string(daemon_->httpPort());
  const std::string body = R"({"name":"B","domain":"b.example"})";
  auto noOrigin =
      httpRequest("POST", url("/websites"), body, {cookie, "Content-Type: application/json"});
  EXPECT_EQ(noOrigin.status, 403);
  auto otherOrigin =
      httpRequest("POST", url("/websites"), body,
                  {cookie, "Content-Type: application/json", "Origin: http://evil.test"});
  EXPECT_EQ(otherOrigin.status, 403);
  auto sameOrigin =
      httpRequest("POST", url("/websites"), body,
                  {cookie, "Content-Type: application/json", "Origin: http://" + host});
  EXPECT_EQ(sameOrigin.status, 201) << sameOrigin.body;

  auto bad = httpRequest("GET", url("/auth/me"), "", {"Cookie: mp_session=not.a.token"});
  EXPECT_EQ(bad.status, 401);

  // The tracker never authenticates by cookie: a stale one on a page view changes nothing.
  auto tracked = track({{"websiteId", site_}, {"url", "https://example.com/"}},
                       {"Cookie: mp_session=not.a.token"});
  EXPECT_EQ(tracked.status, 202) << tracked.body;

  auto logout = httpRequest("DELETE", url("/auth/session"), "", {cookie});
  EXPECT_EQ(logout.status, 204);
  EXPECT_THAT(logout.header("set-cookie"), HasSubstr("mp_session=;"));
  EXPECT_THAT(logout.header("set-cookie"), HasSubstr("Max-Age=0"));
}

TEST_F(Web, TheSessionCookieBehindAnHttpsProxyIsSecure) {
  // Without the proxy being trusted the header is not believed.
  auto r = httpRequest("POST", url("/auth/session"),
                       R"({"email":"owner@example.com","password":"password123"})",
                       {"Content-Type: application/json", "X-Forwarded-Proto: https"});
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.header("set-cookie"), Not(HasSubstr("Secure")));
}

class WebBehindProxy : public Web {
 protected:
  void amendHttp(std::string& http) override { http += "trusted_proxies = [\"127.0.0.1\"]\n"; }
};

TEST_F(WebBehindProxy, TheSessionCookieOverHttpsIsSecureAndTheLiveFeedWss) {
  auto r = httpRequest("POST", url("/auth/session"),
                       R"({"email":"owner@example.com","password":"password123"})",
                       {"Content-Type: application/json", "X-Forwarded-Proto: https"});
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.header("set-cookie"), HasSubstr("; Secure"));
  auto config = json::parse(
      httpRequest("GET", url("/ui/config"), "", {"X-Forwarded-Proto: https", "Host: s.example"})
          .body);
  EXPECT_THAT(config["wsUrl"].get<std::string>(), ::testing::StartsWith("wss://s.example:"));
  EXPECT_EQ(config["trackerUrl"], "https://s.example/js/script.js");
}

TEST_F(Web, TheLiveFeedTakesTheSessionCookieFromPagesOfItsOwnHost) {
  const std::string cookie = "Cookie: " + sessionCookie();
  const std::string page = "Origin: http://127.0.0.1:" + std::to_string(daemon_->httpPort());
  {
    WsClient ws;
    ASSERT_EQ(ws.connect(daemon_->wsPort(), "/ws", {cookie, page}), 101) << ws.responseBody();
    ws.sendText(json{{"type", "subscribe"}, {"websiteId", site_}}.dump());
    auto subscribed = ws.nextOfType("subscribed", std::chrono::seconds(5));
    ASSERT_TRUE(subscribed);
    ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/live"}}).status, 202);
    auto event = ws.nextOfType("event", std::chrono::seconds(5));
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["page"], "/live");
  }
  WsClient foreign;
  EXPECT_EQ(foreign.connect(daemon_->wsPort(), "/ws", {cookie, "Origin: http://evil.test"}), 403);
  WsClient none;
  EXPECT_EQ(none.connect(daemon_->wsPort(), "/ws", {page}), 401);
  WsClient stale;
  EXPECT_EQ(stale.connect(daemon_->wsPort(), "/ws", {"Cookie: mp_session=x.y.z", page}), 401);
}

TEST_F(Web, ShareLinksReadOneWebsitesStatsUntilRevoked) {
  const std::vector<std::string> owner = {"Authorization: Bearer " + ownerToken(),
                                          "Content-Type: application/json"};
  ASSERT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/shared"}}).status, 202);
  ASSERT_TRUE(waitForRows(1));

  auto created =
      httpRequest("POST", url("/websites/" + site_ + "/shares"), R"({"label":"the team"})", owner);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto share = json::parse(created.body);
  const std::string token = share["token"];
  EXPECT_GE(token.size(), 32u);
  EXPECT_EQ(share["label"], "the team");
  EXPECT_EQ(share["url"], "/share/" + token);
  auto listed =
      json::parse(httpRequest("GET", url("/websites/" + site_ + "/shares"), "", owner).body);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], share["id"]);

  const std::string shareHeader = "X-Share-Token: " + token;
  auto info = httpRequest("GET", url("/shares/" + token));
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(json::parse(info.body)["websiteId"], site_);
  EXPECT_EQ(json::parse(info.body)["domain"], "example.com");
  EXPECT_EQ(httpRequest("GET", url("/share/" + token)).status, 200);

  // The same numbers as the owner's.
  for (const char* route :
       {"/top-pages", "/timeseries", "/breakdown?dimension=browser", "/sources"}) {
    auto asOwner = httpRequest("GET", url("/stats/" + site_ + route), "", owner);
    auto asShare = httpRequest("GET", url("/stats/" + site_ + route), "", {shareHeader});
    ASSERT_EQ(asShare.status, 200) << route << asShare.body;
    EXPECT_EQ(asShare.body, asOwner.body) << route;
  }
  EXPECT_EQ(httpRequest("GET", url("/websites/" + site_), "", {shareHeader}).status, 200);
  EXPECT_EQ(httpRequest("GET", url("/websites/" + site_ + "/goals"), "", {shareHeader}).status,
            200);
  // Read-only, and only this website.
  EXPECT_EQ(httpRequest("POST", url("/websites/" + site_ + "/goals"), R"({"eventName":"X"})",
                        {shareHeader, "Content-Type: application/json"})
                .status,
            401);
  EXPECT_EQ(httpRequest("GET", url("/websites/" + site_ + "/shares"), "", {shareHeader}).status,
            401);
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  const std::string other = sites::create(conn, owner_, "Other", "other.example").id;
  EXPECT_EQ(httpRequest("GET", url("/stats/" + other + "/overview"), "", {shareHeader}).status,
            404);

  auto revoked = httpRequest(
      "DELETE", url("/websites/" + site_ + "/shares/" + share["id"].get<std::string>()), "", owner);
  EXPECT_EQ(revoked.status, 204);
  EXPECT_EQ(httpRequest("GET", url("/shares/" + token)).status, 404);
  EXPECT_EQ(httpRequest("GET", url("/share/" + token)).status, 404);
  EXPECT_EQ(httpRequest("GET", url("/stats/" + site_ + "/top-pages"), "", {shareHeader}).status,
            404);
  EXPECT_EQ(
      httpRequest("DELETE", url("/websites/" + site_ + "/shares/" + share["id"].get<std::string>()),
                  "", owner)
          .status,
      404);
  EXPECT_EQ(httpRequest("GET", url("/shares/short")).status, 404);
  EXPECT_EQ(
      httpRequest("GET", url("/stats/" + site_ + "/top-pages"), "", {"X-Share-Token: x!"}).status,
      404);
  auto tooLong = httpRequest("POST", url("/websites/" + site_ + "/shares"),
                             json{{"label", std::string(201, 'x')}}.dump(), owner);
  EXPECT_EQ(tooLong.status, 400);
  EXPECT_THAT(tooLong.body, HasSubstr("label"));
}

TEST_F(Web, PlausiblesEventPayloadIsTrackedLikeTrack) {
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  sites::create(conn, owner_, "Blog", "blog.example.com");
  sites::create(conn, owner_, "Shop", "shop.test");
  const std::vector<std::string> text = {"Content-Type: text/plain"};

  auto view = post(
      "/api/event",
      R"({"n":"pageview","u":"https://example.com/a?x=1","d":"example.com","r":"https://news.ycombinator.com/item","w":1280})",
      text);
  EXPECT_EQ(view.status, 202) << view.body;
  EXPECT_EQ(view.body, "ok");
  EXPECT_EQ(view.header("access-control-allow-origin"), "*");
  auto custom = post(
      "/api/event",
      R"({"name":"Signup","url":"https://example.com/pricing","domain":"example.com","props":{"plan":"pro","empty":""}})",
      {"Content-Type: application/json"});
  EXPECT_EQ(custom.status, 202) << custom.body;
  auto jsonProps = post(
      "/api/event",
      R"({"n":"Download","u":"https://example.com/f","d":"example.com","p":"{\"file\":\"a.pdf\"}","i":false})",
      text);
  EXPECT_EQ(jsonProps.status, 202) << jsonProps.body;
  auto hash = post(
      "/api/event",
      R"({"n":"pageview","u":"https://example.com/#/settings","d":"example.com","h":1})", text);
  EXPECT_EQ(hash.status, 202) << hash.body;
  // One event for each website the snippet names (a roll-up of sub-domains); a domain this
  // server does not know, or whose host the page is not on, is dropped.
  auto both = post(
      "/api/event",
      R"({"n":"pageview","u":"https://blog.example.com/both","d":"blog.example.com, example.com,unknown.test"})",
      text);
  EXPECT_EQ(both.status, 202) << both.body;
  EXPECT_EQ(both.header("x-metricpulse-dropped"), "unknown_website");
  auto mismatch =
      post("/api/event",
           R"({"n":"pageview","u":"https://example.com/one","d":"example.com,shop.test"})", text);
  EXPECT_EQ(mismatch.status, 202) << mismatch.body;
  EXPECT_EQ(mismatch.header("x-metricpulse-dropped"), "domain_mismatch");

  ASSERT_TRUE(waitForRows(7)) << rowCount();
  auto rows = storedEvents();
  EXPECT_THAT(rows, ::testing::Contains("pageview /a https://news.ycombinator.com/item "));
  EXPECT_THAT(rows, ::testing::Contains("Signup /pricing  {\"plan\": \"pro\"}"));
  EXPECT_THAT(rows, ::testing::Contains("Download /f  {\"file\": \"a.pdf\"}"));
  EXPECT_THAT(rows, ::testing::Contains("pageview /#/settings  "));
  EXPECT_EQ(std::count(rows.begin(), rows.end(), "pageview /both  "), 2);
  EXPECT_EQ(std::count(rows.begin(), rows.end(), "pageview /one  "), 1);
  auto interactive = conn.exec("SELECT interactive FROM events WHERE page = '/f'");
  EXPECT_EQ(std::string(interactive.get(0, 0)), "f");

  // Errors as /track's, naming Plausible's fields.
  auto missing = post("/api/event", R"({"u":"https://example.com/","d":"example.com"})", text);
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("n is required"));
  auto unknown = post("/api/event", R"({"n":"pageview","u":"https://x.test/","d":"x.test"})", text);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(errorCode(unknown), "unknown_website");
  auto foreign =
      post("/api/event", R"({"n":"pageview","u":"https://evil.test/","d":"example.com"})", text);
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(errorCode(foreign), "domain_mismatch");
  auto badProps =
      post("/api/event",
           R"({"n":"x","u":"https://example.com/","d":"example.com","p":{"a":{"b":1}}})", text);
  EXPECT_EQ(badProps.status, 400);
  auto notJson =
      post("/api/event", "n=pageview", {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(notJson.status, 415);
  auto bot = httpRequest(
      "POST", url("/api/event"), R"({"n":"pageview","u":"https://example.com/","d":"example.com"})",
      {"User-Agent: Googlebot/2.1 (+http://www.google.com/bot.html)", "Content-Type: text/plain"});
  EXPECT_EQ(bot.status, 202);
  EXPECT_EQ(bot.header("x-metricpulse-dropped"), "bot");
  auto preflight = httpRequest("OPTIONS", url("/api/event"));
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("access-control-allow-origin"), "*");
  EXPECT_FALSE(waitForRows(8, std::chrono::milliseconds(800)));
}

TEST_F(Web, UmamisSendAndBatchPayloadsAreTrackedLikeTrack) {
  const std::vector<std::string> type = {"Content-Type: application/json"};
  auto sent = post("/api/send",
                   json{{"type", "event"},
                        {"payload",
                         {{"website", site_},
                          {"hostname", "example.com"},
                          {"url", "/pricing?plan=pro"},
                          {"referrer", "https://duckduckgo.com/"},
                          {"title", "Pricing"},
                          {"language", "en-US"},
                          {"screen", "1920x1080"},
                          {"name", "checkout"},
                          {"data", {{"cart", {{"items", 2}}}, {"coupon", "X"}}}}}}
                       .dump(),
                   type);
  EXPECT_EQ(sent.status, 202) << sent.body;
  auto identify =
      post("/api/send", json{{"type", "identify"}, {"payload", {{"website", site_}}}}.dump(), type);
  EXPECT_EQ(identify.status, 202);
  EXPECT_EQ(identify.header("x-metricpulse-dropped"), "identify");

  auto batch = post(
      "/api/batch",
      json::array(
          {json{{"type", "event"},
                {"payload", {{"website", site_}, {"hostname", "example.com"}, {"url", "/b1"}}}},
           json{{"type", "event"},
                {"payload", {{"website", site_}, {"url", "https://example.com/b2"}}}}})
          .dump(),
      type);
  EXPECT_EQ(batch.status, 202) << batch.body;
  EXPECT_EQ(json::parse(batch.body)["accepted"], 2);
  ASSERT_TRUE(waitForRows(3));
  auto rows = storedEvents();
  EXPECT_THAT(
      rows,
      ::testing::Contains(
          "checkout /pricing https://duckduckgo.com/ {\"coupon\": \"X\", \"cart.items\": 2}"));
  EXPECT_THAT(rows, ::testing::Contains("pageview /b1  "));
  EXPECT_THAT(rows, ::testing::Contains("pageview /b2  "));

  // A bad event refuses the whole batch, naming it, before anything is queued.
  auto bad = post(
      "/api/batch",
      json::array(
          {json{{"type", "event"},
                {"payload", {{"website", site_}, {"hostname", "example.com"}, {"url", "/ok"}}}},
           json{{"type", "event"},
                {"payload", {{"website", site_}, {"hostname", "evil.test"}, {"url", "/x"}}}}})
          .dump(),
      type);
  EXPECT_EQ(bad.status, 403);
  EXPECT_THAT(bad.body, HasSubstr("events[1]"));
  auto noHost =
      post("/api/send",
           json{{"type", "event"}, {"payload", {{"website", site_}, {"url", "/x"}}}}.dump(), type);
  EXPECT_EQ(noHost.status, 400);
  EXPECT_THAT(noHost.body, HasSubstr("payload.hostname"));
  EXPECT_EQ(post("/api/send",
                 json{{"type", "event"},
                      {"payload", {{"website", "not-a-uuid"}, {"url", "https://example.com/"}}}}
                     .dump(),
                 type)
                .status,
            400);
  EXPECT_EQ(post("/api/batch", "{}", type).status, 400);
  EXPECT_FALSE(waitForRows(4, std::chrono::milliseconds(800)));
}

}  // namespace
}  // namespace mp::test
