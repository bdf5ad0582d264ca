// Coherence across daemons sharing one PostgreSQL and one Redis: a website is usable everywhere
// from the moment its creation is answered and gone everywhere from the moment its deletion is
// answered; a token dies with its account and with a password change; events of a deleted
// website are never stored, those still queued included; unknown ids cost no query each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "db/connection.hpp"
#include "events/event.hpp"
#include "ingest/event_store.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "sites/sites.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/tracking.hpp"
#include "support/wait.hpp"
#include "support/ws_client.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

events::Event eventOf(const std::string& websiteId, const std::string& page) {
  events::Event e;
  e.id = util::uuidV7();
  e.websiteId = websiteId;
  e.tsMillis = util::nowMillis();
  e.eventType = "pageview";
  e.url = "https://example.com" + page;
  e.page = page;
  e.hostname = "example.com";
  e.sessionId = "s-" + page;
  e.visitorId = 42;
  e.userAgent = kChromeWindows;
  e.browser = "Chrome";
  e.os = "Windows";
  e.device = "desktop";
  return e;
}

// Two daemons, A (daemon_) and B (other_), on one database and one Redis; the owner's token.
class Coherence : public TrackingFixture {
 protected:
  void SetUp() override {
    TrackingFixture::SetUp();
    if (HasFatalFailure()) return;
    other_ = makeDaemon(redis_.url());
    ASSERT_TRUE(other_->start()) << other_->output();
    token_ = login(*daemon_, "owner@example.com", "password123");
  }

  void TearDown() override {
    if (HasFailure() && other_) {
      std::fprintf(stderr, "--- second daemon output ---\n%s\n", other_->output().c_str());
    }
    TrackingFixture::TearDown();
  }

  static std::string login(const DaemonProcess& d, const std::string& email,
                           const std::string& password) {
    auto r = httpRequest("POST", d.baseUrl() + "/auth/login",
                         json({{"email", email}, {"password", password}}).dump(),
                         {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.body;
    auto body = json::parse(r.body, nullptr, false);
    return body.is_object() && body.contains("accessToken") ? body["accessToken"].get<std::string>()
                                                            : std::string();
  }

  static HttpResponse get(const DaemonProcess& d, const std::string& path,
                          const std::string& token) {
    return httpRequest("GET", d.baseUrl() + path, "", {"Authorization: Bearer " + token});
  }

  static HttpResponse trackOn(const DaemonProcess& d, const std::string& websiteId,
                              const std::string& page, const std::string& host = "example.com") {
    return httpRequest(
        "POST", d.baseUrl() + "/track",
        json({{"websiteId", websiteId}, {"url", "https://" + host + page}}).dump(),
        {"Content-Type: application/json", "User-Agent: " + std::string(kChromeWindows)});
  }

  std::string createWebsite(const DaemonProcess& d, const std::string& domain) {
    auto r = httpRequest("POST", d.baseUrl() + "/websites",
                         json({{"name", domain}, {"domain", domain}}).dump(),
                         {"Content-Type: application/json", "Authorization: Bearer " + token_});
    EXPECT_EQ(r.status, 201) << r.body;
    auto body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body.value("id", "") : std::string();
  }

  long eventsOf(const std::string& websiteId, const std::string& page = "") {
    db::Connection conn(db_.url(), 5s);
    if (page.empty()) {
      return static_cast<long>(
          conn.execArgs("SELECT count(*) FROM events WHERE website_id = $1", websiteId)
              .getInt(0, 0));
    }
    return static_cast<long>(
        conn.execArgs("SELECT count(*) FROM events WHERE website_id = $1 AND page = $2", websiteId,
                      page)
            .getInt(0, 0));
  }

  bool waitForEvent(const std::string& websiteId, const std::string& page) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (eventsOf(websiteId, page) > 0) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // A live-feed client of `d` with `token`; the status of the upgrade.
  static int openFeed(WsClient& client, const DaemonProcess& d, const std::string& token) {
    for (int attempt = 0;; ++attempt) {
      try {
        return client.connect(d.wsPort(), "/ws?token=" + token);
      } catch (const std::runtime_error&) {
        if (attempt >= 50) throw;
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  // The answer to a subscribe: "subscribed" or "error" (with its code), or "" for none.
  static std::string subscribe(WsClient& client, const std::string& websiteId) {
    client.sendText(json({{"type", "subscribe"}, {"websiteId", websiteId}}).dump());
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto frame = client.next(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!frame) return "";
      if (frame->type != ws::Event::Type::Text) continue;
      auto message = json::parse(frame->payload, nullptr, false);
      if (!message.is_object() || message.value("websiteId", "") != websiteId) continue;
      const std::string type = message.value("type", "");
      if (type == "subscribed") return type;
      if (type == "error") return "error:" + message.value("code", "");
    }
    return "";
  }

  // The value of a counter without labels on d's /metrics, or -1.
  static long metric(const DaemonProcess& d, const std::string& name) {
    const auto body = httpRequest("GET", d.metricsUrl()).body;
    std::smatch m;
    if (!std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)"))) return -1;
    return std::stol(m[1]);
  }

  ProcessResult mpctl(const DaemonProcess& d, std::vector<std::string> args,
                      const std::string& input = "") {
    args.insert(args.begin(), {mpctlPath(), "-c", d.configPath().string()});
    return runProcess(args, input);
  }

  std::unique_ptr<DaemonProcess> other_;
  std::string token_;
};

TEST_F(Coherence, AWebsiteCreatedOnOneDaemonIsTrackedAndSubscribableOnAnotherAtOnce) {
  // B's live-feed client is open before the website exists.
  WsClient client;
  ASSERT_EQ(openFeed(client, *other_, token_), 101);

  const std::string id = createWebsite(*daemon_, "fresh.example.net");
  ASSERT_FALSE(id.empty());
  // Right after the 201, with no wait: B takes the first page view and stores it.
  auto first = trackOn(*other_, id, "/first", "fresh.example.net");
  EXPECT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(subscribe(client, id), "subscribed");
  EXPECT_TRUE(waitForEvent(id, "/first"));

  // The same through mpctl: usable on both daemons as soon as the command returns.
  auto add = mpctl(*daemon_, {"website", "add", "--owner", "owner@example.com", "--name", "Cli",
                              "--domain", "cli.example.net"});
  ASSERT_EQ(add.exitCode, 0) << add.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(add.out, m, std::regex("\\(([0-9a-f-]{36})\\)")));
  const std::string cli = m[1];
  EXPECT_EQ(trackOn(*other_, cli, "/cli", "cli.example.net").status, 202);
  EXPECT_EQ(trackOn(*daemon_, cli, "/cli-a", "cli.example.net").status, 202);
  EXPECT_EQ(subscribe(client, cli), "subscribed");
  EXPECT_TRUE(waitForEvent(cli, "/cli"));
  // And mpctl's deletion is refused by both daemons as soon as the command returns.
  auto del = mpctl(*daemon_, {"website", "del", cli, "--yes"});
  ASSERT_EQ(del.exitCode, 0) << del.err;
  EXPECT_EQ(trackOn(*other_, cli, "/cli-gone", "cli.example.net").status, 404);
  EXPECT_EQ(trackOn(*daemon_, cli, "/cli-gone-a", "cli.example.net").status, 404);
  WsClient late;
  ASSERT_EQ(openFeed(late, *other_, token_), 101);
  EXPECT_EQ(subscribe(late, cli), "error:not_found");
}

TEST_F(Coherence, AWebsiteDeletedOnOneDaemonIsGoneOnAnotherAtOnce) {
  const std::string id = createWebsite(*daemon_, "doomed.example.net");
  ASSERT_FALSE(id.empty());
  // B knows the website well: it tracks it, serves (and caches) its stats, feeds a client.
  ASSERT_EQ(trackOn(*other_, id, "/before", "doomed.example.net").status, 202);
  ASSERT_TRUE(waitForEvent(id, "/before"));
  const std::string stats = "/stats/" + id + "/overview";
  ASSERT_EQ(get(*other_, stats, token_).status, 200);
  auto cached = get(*other_, stats, token_);
  ASSERT_EQ(cached.status, 200);
  ASSERT_EQ(cached.header("x-cache"), "HIT");
  WsClient client;
  ASSERT_EQ(openFeed(client, *other_, token_), 101);
  ASSERT_EQ(subscribe(client, id), "subscribed");

  auto del = httpRequest("DELETE", daemon_->baseUrl() + "/websites/" + id, "",
                         {"Authorization: Bearer " + token_});
  ASSERT_EQ(del.status, 204) << del.body;

  // On the other daemon, as soon as the announcement reaches it (the 204 does not wait for
  // other daemons; an event it still takes meanwhile is never stored, see below):
  HttpResponse tracked;
  EXPECT_TRUE(test::eventually([&] {
    tracked = trackOn(*other_, id, "/after", "doomed.example.net");
    return tracked.status == 404;
  })) << tracked.status
      << ' ' << tracked.body;
  EXPECT_EQ(errorCode(tracked), "unknown_website");
  auto answer = get(*other_, stats, token_);
  EXPECT_EQ(answer.status, 404) << answer.body;
  EXPECT_NE(answer.header("x-cache"), "HIT");
  WsClient late;
  ASSERT_EQ(openFeed(late, *other_, token_), 101);
  EXPECT_EQ(subscribe(late, id), "error:not_found");
  // The cached answers are gone from Redis too.
  redis::Client redis(redis::Url::parse(redis_.url()), 2s);
  auto keys = redis.command({"KEYS", redis::statsCachePattern(id)});
  EXPECT_TRUE(keys.elements().empty());
  // And A refuses it as well.
  EXPECT_EQ(trackOn(*daemon_, id, "/after-a", "doomed.example.net").status, 404);
  EXPECT_EQ(eventsOf(id), 0);
}

TEST_F(Coherence, EventsStillQueuedWhenTheirWebsiteIsDeletedAreNotStored) {
  db::Connection conn(db_.url(), 5s);
  const std::string doomed = sites::create(conn, owner_, "Doomed", "doomed.example.org").id;
  // No writer runs while the events wait in the queue.
  ASSERT_EQ(daemon_->stop(), 0);
  ASSERT_EQ(other_->stop(), 0);
  redis::Client redis(redis::Url::parse(redis_.url()), 2s);
  // One stream entry: its events are written in one batch, so once the kept one is stored the
  // others were dealt with.
  const std::string entry = events::toQueueJson(eventOf(doomed, "/queued")) + "\n" +
                            events::toQueueJson(eventOf(site_, "/kept")) + "\n" +
                            events::toQueueJson(eventOf(doomed, "/queued-too"));
  ASSERT_TRUE(redis.command({"XADD", redis::kIngestStream, "*", "b", entry}).isString());

  auto del = mpctl(*daemon_, {"website", "del", doomed, "--yes"});
  ASSERT_EQ(del.exitCode, 0) << del.err;

  ASSERT_TRUE(daemon_->start()) << daemon_->output();
  ASSERT_TRUE(waitForEvent(site_, "/kept"));
  EXPECT_EQ(eventsOf(doomed), 0);
}

TEST_F(Coherence, AWriterRacingADeletionNeverLeavesItsEventsBehind) {
  db::Connection conn(db_.url(), 5s);
  const std::string doomed = sites::create(conn, owner_, "Doomed", "race.example.org").id;
  // A deletion in progress, as sites::remove runs it: the website's row, then its events.
  db::Connection deleter(db_.url(), 5s);
  deleter.exec("BEGIN");
  deleter.execArgs("DELETE FROM websites WHERE id = $1", doomed);
  deleter.execArgs("DELETE FROM events WHERE website_id = $1", doomed);

  auto written = std::async(std::launch::async, [&] {
    db::Connection writer(db_.url(), 5s);
    return ingest::EventStore::insertBatch(
        writer, std::vector<events::Event>{eventOf(doomed, "/racing"), eventOf(site_, "/ok")});
  });
  // The batch waits for the deletion to end rather than writing past it.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool waiting = false;
  while (!waiting && std::chrono::steady_clock::now() < deadline) {
    waiting = conn.exec(
                      "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                      "AND datname = current_database()")
                  .getInt(0, 0) > 0;
    if (!waiting) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(waiting);
  deleter.exec("COMMIT");
  ASSERT_EQ(written.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(written.get(), 1u);
  EXPECT_EQ(eventsOf(doomed), 0);
  EXPECT_EQ(eventsOf(site_, "/ok"), 1);
}

TEST_F(Coherence, UnknownWebsiteIdsDoNotCostAQueryPerRequest) {
  std::vector<std::string> unknown;
  for (int i = 0; i < 5; ++i) unknown.push_back(util::uuidV7());
  const long before = metric(*daemon_, "mp_website_lookups_total");
  ASSERT_GE(before, 0);
  for (int round = 0; round < 20; ++round) {
    for (const auto& id : unknown) {
      auto r = trackOn(*daemon_, id, "/x");
      ASSERT_EQ(r.status, 404) << r.body;
      ASSERT_EQ(errorCode(r), "unknown_website");
    }
  }
  // 100 requests, 5 ids: at most one query per id (and one periodic reload, should it fall in).
  EXPECT_LE(metric(*daemon_, "mp_website_lookups_total") - before, 6);
}

TEST_F(Coherence, ADeletedAccountsTokenIsRefusedEverywhere) {
  const std::string stats = "/stats/" + site_ + "/overview";
  // Both daemons have seen the token succeed (and cached its account).
  for (const DaemonProcess* d : {daemon_.get(), other_.get()}) {
    ASSERT_EQ(get(*d, "/websites", token_).status, 200);
    ASSERT_EQ(get(*d, "/auth/me", token_).status, 200);
    ASSERT_EQ(get(*d, stats, token_).status, 200);
    WsClient client;
    ASSERT_EQ(openFeed(client, *d, token_), 101);
  }

  auto del = mpctl(*daemon_, {"user", "del", "owner@example.com", "--yes"});
  ASSERT_EQ(del.exitCode, 0) << del.err;

  // Every daemon refuses it as soon as the announcement reaches it over Redis (mpctl returns
  // once it is published, not once each daemon has applied it); then on every route.
  for (const DaemonProcess* d : {daemon_.get(), other_.get()}) {
    EXPECT_TRUE(test::eventually([&] { return get(*d, "/websites", token_).status == 401; }));
    EXPECT_EQ(get(*d, "/auth/me", token_).status, 401);
    EXPECT_EQ(get(*d, stats, token_).status, 401);
    WsClient client;
    EXPECT_EQ(openFeed(client, *d, token_), 401);
  }
}

TEST_F(Coherence, APasswordChangeEndsEarlierTokensEverywhere) {
  for (const DaemonProcess* d : {daemon_.get(), other_.get()}) {
    ASSERT_EQ(get(*d, "/websites", token_).status, 200);
    WsClient client;
    ASSERT_EQ(openFeed(client, *d, token_), 101);
  }

  auto passwd = mpctl(*daemon_, {"user", "passwd", "owner@example.com", "--password-stdin"},
                      "another-password\n");
  ASSERT_EQ(passwd.exitCode, 0) << passwd.err;

  // As soon as the announcement reaches each daemon (see above), on every route.
  for (const DaemonProcess* d : {daemon_.get(), other_.get()}) {
    EXPECT_TRUE(test::eventually([&] { return get(*d, "/websites", token_).status == 401; }));
    EXPECT_EQ(get(*d, "/auth/me", token_).status, 401);
    WsClient client;
    EXPECT_EQ(openFeed(client, *d, token_), 401);
  }
  // The new password gives a token both daemons take.
  const std::string fresh = login(*other_, "owner@example.com", "another-password");
  ASSERT_FALSE(fresh.empty());
  for (const DaemonProcess* d : {daemon_.get(), other_.get()}) {
    EXPECT_EQ(get(*d, "/websites", fresh).status, 200);
    WsClient client;
    EXPECT_EQ(openFeed(client, *d, fresh), 101);
  }
}

TEST_F(Coherence, AccountAndWebsiteRoutesDoNotHoldTheHttpWorkers) {
  // PostgreSQL stalls on the accounts and websites tables (a migration, a long lock).
  db::Connection locker(db_.url(), 5s);
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE users, websites IN ACCESS EXCLUSIVE MODE");
  // More waiting requests than the daemon has HTTP workers (2).
  std::vector<std::future<HttpResponse>> stalled;
  for (const char* path : {"/auth/me", "/websites", "/auth/me", "/websites", "/auth/me"}) {
    stalled.push_back(std::async(std::launch::async, [this, path] {
      return httpRequest("GET", daemon_->baseUrl() + path, "", {"Authorization: Bearer " + token_},
                         30000);
    }));
  }
  // Wait until every one of them waits on the lock in PostgreSQL.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  db::Connection probe(db_.url(), 5s);
  long waiting = 0;
  while (waiting < 2 && std::chrono::steady_clock::now() < deadline) {
    waiting = static_cast<long>(probe
                                    .exec("SELECT count(*) FROM pg_stat_activity WHERE "
                                          "wait_event_type = 'Lock' AND datname = "
                                          "current_database()")
                                    .getInt(0, 0));
    if (waiting < 2) std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(waiting, 2);
  // The workers are free: tracking a known website and health checks are still answered.
  auto tracked = httpRequest(
      "POST", daemon_->baseUrl() + "/track",
      json({{"websiteId", site_}, {"url", "https://example.com/during-the-stall"}}).dump(),
      {"Content-Type: application/json", "User-Agent: " + std::string(kChromeWindows)}, 5000);
  EXPECT_EQ(tracked.status, 202) << tracked.error;
  EXPECT_EQ(httpRequest("GET", daemon_->baseUrl() + "/healthz", "", {}, 5000).status, 200);
  locker.exec("COMMIT");
  for (auto& request : stalled) EXPECT_EQ(request.get().status, 200);
}

}  // namespace
}  // namespace mp::test
