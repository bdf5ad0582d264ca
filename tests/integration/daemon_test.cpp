// The daemon skeleton against real PostgreSQL and Redis: schema gate, health, readiness, errors,
// signals.
#include "support/daemon.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "db/connection.hpp"
#include "support/env.hpp"
#include "support/http.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// A database with every migration applied, through mpctl as a sysadmin would.
void migrate(const TempDatabase& db) {
  auto r = runProcess({mpctlPath(), "-c", "/dev/null", "db", "migrate"}, "",
                      {{"MP_DATABASE_URL", db.url()}});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
}

json errorOf(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return json();
  return body["error"];
}

TEST(Daemon, RefusesAPendingSchemaWithExit4) {
  TempDatabase db;  // nothing applied
  DaemonProcess daemon(DaemonOptions(db.url()));
  EXPECT_FALSE(daemon.start());
  EXPECT_EQ(daemon.exitCode(), 4) << daemon.output();
  EXPECT_THAT(daemon.output(), HasSubstr("run mpctl db migrate"));
}

TEST(Daemon, RefusesAnUnknownMigrationWithExit4) {
  TempDatabase db;
  migrate(db);
  db::Connection conn(db.url(), std::chrono::seconds(5));
  conn.exec(
      "INSERT INTO schema_migrations(version, name, checksum) "
      "VALUES (9999, 'from_the_future', 'x')");
  DaemonProcess daemon(DaemonOptions(db.url()));
  EXPECT_FALSE(daemon.start());
  EXPECT_EQ(daemon.exitCode(), 4) << daemon.output();
}

TEST(Daemon, UnreachableDatabaseAtStartExits5) {
  DaemonProcess daemon(
      DaemonOptions("postgresql://postgres@127.0.0.1:" + std::to_string(freePort()) + "/none"));
  EXPECT_FALSE(daemon.start());
  EXPECT_EQ(daemon.exitCode(), 5) << daemon.output();
}

TEST(Daemon, HealthReadinessAndErrorShape) {
  TempDatabase db;
  migrate(db);
  DaemonProcess daemon(DaemonOptions(db.url()));
  ASSERT_TRUE(daemon.start()) << daemon.output();

  auto health = httpRequest("GET", daemon.baseUrl() + "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body), json({{"status", "ok"}}));
  EXPECT_THAT(health.header("content-type"), HasSubstr("application/json"));

  auto ready = httpRequest("GET", daemon.baseUrl() + "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(json::parse(ready.body),
            json({{"status", "ready"}, {"database", "ok"}, {"redis", "ok"}}));

  auto missing = httpRequest("GET", daemon.baseUrl() + "/no/such/thing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(errorOf(missing)["code"], "not_found");
  EXPECT_TRUE(errorOf(missing)["message"].is_string());

  auto wrongMethod = httpRequest("DELETE", daemon.baseUrl() + "/healthz");
  EXPECT_EQ(wrongMethod.status, 405);
  EXPECT_EQ(errorOf(wrongMethod)["code"], "method_not_allowed");
  EXPECT_EQ(wrongMethod.header("allow"), "GET");

  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
}

TEST(Daemon, ReadyzFollowsRedisDownAndBackWithoutRestart) {
  TempDatabase db;
  migrate(db);
  RedisProcess redis;
  DaemonOptions options{db.url()};
  options.redisUrl = redis.url();
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  EXPECT_EQ(httpRequest("GET", daemon.baseUrl() + "/readyz").status, 200);

  redis.stop();
  auto down = httpRequest("GET", daemon.baseUrl() + "/readyz");
  EXPECT_EQ(down.status, 503);
  auto body = json::parse(down.body);
  EXPECT_EQ(body["redis"], "down");
  EXPECT_EQ(body["database"], "ok");
  EXPECT_EQ(httpRequest("GET", daemon.baseUrl() + "/healthz").status, 200);

  redis.start();
  long status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = httpRequest("GET", daemon.baseUrl() + "/readyz").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
}

TEST(Daemon, ReadyzNamesTheDatabaseWhenItIsDown) {
  // A database that is dropped under the daemon stands in for a PostgreSQL outage.
  auto db = std::make_unique<TempDatabase>();
  migrate(*db);
  DaemonProcess daemon(DaemonOptions(db->url()));
  ASSERT_TRUE(daemon.start()) << daemon.output();
  EXPECT_EQ(httpRequest("GET", daemon.baseUrl() + "/readyz").status, 200);
  db.reset();
  auto down = httpRequest("GET", daemon.baseUrl() + "/readyz");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(json::parse(down.body)["database"], "down");
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
}

// Stopped while logins are still being checked on the blocking pool (bcrypt): those answers are
// made after the HTTP threads have stopped, and the daemon still exits cleanly, with no crash.
TEST(Daemon, StopsCleanlyWhileAnswersAreStillBeingMade) {
  TempDatabase db;
  migrate(db);
  DaemonOptions options(db.url());
  options.bcryptCost = 12;  // a quarter of a second or so per login, two at a time
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  const std::string creds = R"({"email":"stop@example.com","password":"password123"})";
  ASSERT_EQ(httpRequest("POST", daemon.baseUrl() + "/auth/signup", creds,
                        {"Content-Type: application/json"})
                .status,
            201);
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&] {
      auto r = httpRequest("POST", daemon.baseUrl() + "/auth/login", creds,
                           {"Content-Type: application/json"}, 10000);
      if (r.status == 200) ++answered;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
  for (auto& t : clients) t.join();
  EXPECT_LT(answered.load(), 12) << "the daemon stopped before every login was checked";
}

TEST(Daemon, SigintAlsoStopsCleanlyAndSighupKeepsServing) {
  TempDatabase db;
  migrate(db);
  DaemonProcess daemon(DaemonOptions(db.url()));
  ASSERT_TRUE(daemon.start()) << daemon.output();
  daemon.sendSignal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(httpRequest("GET", daemon.baseUrl() + "/healthz").status, 200);
  EXPECT_THAT(daemon.output(), HasSubstr("reload: log level is now debug"));
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.stop(SIGINT), 0) << daemon.output();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
}

TEST(Daemon, RefusesAPortAlreadyInUse) {
  TempDatabase db;
  migrate(db);
  DaemonProcess first(DaemonOptions(db.url()));
  ASSERT_TRUE(first.start()) << first.output();
  DaemonOptions options{db.url()};
  options.env["MP_HTTP_LISTEN"] = "127.0.0.1:" + std::to_string(first.httpPort());
  DaemonProcess second(options);
  EXPECT_FALSE(second.start(std::chrono::seconds(10)));
  EXPECT_EQ(second.exitCode(), 1) << second.output();
  EXPECT_THAT(second.output(), HasSubstr("cannot listen on"));
}

// The live feed's loops share their port with each other (SO_REUSEPORT), never with another
// process that holds it already: a second daemon on the same websocket.listen fails to start
// rather than quietly taking half of the first one's dashboards.
TEST(Daemon, RefusesALiveFeedPortAlreadyInUse) {
  TempDatabase db;
  migrate(db);
  DaemonOptions firstOptions{db.url()};
  firstOptions.wsToml = "threads = 2\n";
  DaemonProcess first(firstOptions);
  ASSERT_TRUE(first.start()) << first.output();
  DaemonOptions options{db.url()};
  options.wsToml = "threads = 2\n";
  options.env["MP_WS_LISTEN"] = "127.0.0.1:" + std::to_string(first.wsPort());
  DaemonProcess second(options);
  // The HTTP API is up before the live feed binds, so /healthz may answer for a moment before
  // the start fails: what counts is that the process ends, with exit code 1.
  if (second.start(std::chrono::seconds(10))) {
    EXPECT_EQ(second.waitExit(std::chrono::seconds(10)), 1) << second.output();
  } else {
    EXPECT_EQ(second.exitCode(), 1) << second.output();
  }
  EXPECT_THAT(
      second.output(),
      HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(first.wsPort()) + " (websocket)"));
}

}  // namespace
}  // namespace mp::test
