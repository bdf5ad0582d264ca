// Redis under Sentinel: daemons find the master through the sentinels, the master is killed in
// the middle of a burst of tracking, a replica is promoted, and every event answered 202 is
// stored exactly once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "db/connection.hpp"
#include "redis/client.hpp"
#include "redis/sentinel.hpp"
#include "support/burst.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kMaster = "mp";

// One redis-server in Sentinel mode watching `masterPort`.
class SentinelProcess {
 public:
  explicit SentinelProcess(int masterPort) : port_(freePort()) {
    const auto conf =
        dir_.write("sentinel.conf", "port " + std::to_string(port_) +
                                        "\nbind 127.0.0.1\n"
                                        "sentinel monitor " +
                                        kMaster + " 127.0.0.1 " + std::to_string(masterPort) +
                                        " 2\n"
                                        "sentinel down-after-milliseconds mp 1000\n"
                                        "sentinel failover-timeout mp 5000\n"
                                        "sentinel parallel-syncs mp 1\n");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, STDIN_FILENO);
      dup2(devnull, STDOUT_FILENO);
      execlp("redis-server", "redis-server", conf.c_str(), "--sentinel",
             static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~SentinelProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  int port_;
  pid_t pid_ = -1;
};

// The master's port as the sentinels name it, or 0.
int masterPort(const std::string& sentinels) {
  redis::Url url = redis::Url::parse("redis://127.0.0.1:1");
  url.sentinels = {sentinels};
  url.masterName = kMaster;
  try {
    return redis::resolveMaster(url, 300ms).port;
  } catch (const std::exception&) {
    return 0;
  }
}

bool replicaInSync(const RedisProcess& replica) {
  redis::Client client(redis::Url::parse(replica.url()), 500ms);
  try {
    auto info = client.command({"INFO", "replication"}).str();
    return info.find("master_link_status:up") != std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

// The base URLs of `daemons`, for trackBurst.
std::vector<std::string> urls(const std::vector<std::unique_ptr<DaemonProcess>>& daemons) {
  std::vector<std::string> out;
  for (const auto& d : daemons) out.push_back(d->baseUrl());
  return out;
}

TEST(RedisFailover, EveryEventAnswered202IsStoredOnceWhenTheMasterIsKilledMidBurst) {
  // Redis 7 waits repl-diskless-sync-delay (5 s) for more replicas before a first sync, which
  // left the wait below (5 s) a coin toss on a busy machine: no delay, and 20 s to sync.
  RedisProcess master({"--repl-diskless-sync-delay", "0"});
  RedisProcess replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  for (int i = 0; i < 800 && !replicaInSync(replica); ++i) std::this_thread::sleep_for(25ms);
  ASSERT_TRUE(replicaInSync(replica));
  std::vector<std::unique_ptr<SentinelProcess>> sentinels;
  std::string sentinelList;
  for (int i = 0; i < 3; ++i) {
    sentinels.push_back(std::make_unique<SentinelProcess>(master.port()));
    sentinelList += std::string(i ? ", " : "") + "\"" + sentinels.back()->address() + "\"";
  }
  // Every sentinel must know the replica before the master goes, or none could be promoted.
  for (int i = 0; i < 400; ++i) {
    bool ready = true;
    for (const auto& s : sentinels) ready = ready && masterPort(s->address()) == master.port();
    redis::Client probe(redis::Url::parse("redis://" + sentinels[0]->address()), 500ms);
    try {
      ready = ready && probe.command({"SENTINEL", "replicas", kMaster}).elements().size() == 1;
    } catch (const std::exception&) {
      ready = false;
    }
    if (ready) break;
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_EQ(masterPort(sentinels[0]->address()), master.port());

  TempDatabase db;
  migrateDatabase(db.url());
  std::string site;
  {
    db::Connection conn(db.url(), 5s);
    site = seed::website(conn, seed::owner(conn), "Example", "example.com");
  }
  // Two daemons, as behind a load balancer; the URL's address is never used with sentinels.
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 2; ++i) {
    DaemonOptions options(db.url());
    options.redisUrl = "redis://127.0.0.1:1";
    options.redisTimeoutMs = 1000;
    options.redisToml =
        "sentinels = [" + sentinelList + "]\nmaster_name = \"mp\"\nwait_replicas = 1\n";
    options.extraToml =
        "[ingest]\nrate_limit_per_minute = 0\nflush_interval_ms = 50\nclaim_idle = \"2s\"\n";
    daemons.push_back(std::make_unique<DaemonProcess>(options));
    ASSERT_TRUE(daemons.back()->start()) << daemons.back()->output();
  }

  const auto status = trackBurst(urls(daemons), site, 1200, [&] { master.kill9(); });

  // The replica is promoted.
  for (int i = 0; i < 400 && masterPort(sentinels[0]->address()) != replica.port(); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(masterPort(sentinels[0]->address()), replica.port()) << "no failover happened";

  int accepted = 0;
  for (long s : status) {
    accepted += s == 202;
    EXPECT_TRUE(s == 202 || s == 503) << "status " << s;
  }
  EXPECT_GT(accepted, static_cast<int>(status.size()) / 2)
      << "most events must be accepted across the failover";
  std::fprintf(stderr, "%d of %zu events answered 202 across the failover\n", accepted,
               status.size());
  // Every accepted event lands once; the queue drains through the new master.
  expectStoredOnce(db.url(), status, 30s);
  // Tracking goes on through the new master.
  auto after =
      httpRequest("POST", daemons[0]->baseUrl() + "/track",
                  json{{"websiteId", site}, {"url", "https://example.com/after"}}.dump(),
                  {"Content-Type: application/json", std::string("User-Agent: ") + kChromeWindows});
  EXPECT_EQ(after.status, 202) << after.body;
  if (HasFailure()) {
    for (const auto& d : daemons) std::fprintf(stderr, "--- daemon ---\n%s\n", d->output().c_str());
  }
}

TEST(PostgresFailover, EventsWaitInRedisWhileTheReplicaIsPromotedAndStatsReadFromAReplica) {
  PostgresProcess primary;
  const std::string primaryUrl = primary.createDatabase("mp");
  migrateDatabase(primaryUrl);
  std::string site;
  {
    db::Connection conn(primaryUrl, 5s);
    site = seed::website(conn, seed::owner(conn), "Example", "example.com");
  }
  PostgresProcess standby(PostgresProcess::StandbyOf{primary});
  const std::string hosts = "postgresql://postgres@127.0.0.1:" + std::to_string(primary.port()) +
                            ",127.0.0.1:" + std::to_string(standby.port()) + "/mp";
  RedisProcess redis;
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  DaemonOptions options(hosts + "?target_session_attrs=read-write&connect_timeout=2");
  options.redisUrl = redis.url();
  options.extraToml =
      "[ingest]\nrate_limit_per_minute = 0\nflush_interval_ms = 50\n\n[cache]\nttl_seconds = 0\n";
  // [database] is written by the fixture: the read URL goes in through the environment.
  options.env["MP_DATABASE_READ_URL"] =
      "postgresql://postgres@127.0.0.1:" + std::to_string(standby.port()) + "/mp";
  daemons.push_back(std::make_unique<DaemonProcess>(options));
  ASSERT_TRUE(daemons.back()->start()) << daemons.back()->output();

  // Stats come from the replica: its sessions show the daemon, and the numbers are the events'.
  const std::string token = [&] {
    auto r = httpRequest("POST", daemons[0]->baseUrl() + "/auth/login",
                         R"({"email":"owner@example.com","password":"password123"})",
                         {"Content-Type: application/json"});
    return json::parse(r.body)["accessToken"].get<std::string>();
  }();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(httpRequest(
                  "POST", daemons[0]->baseUrl() + "/track",
                  json{{"websiteId", site}, {"url", "https://example.com/before"}}.dump(),
                  {"Content-Type: application/json", std::string("User-Agent: ") + kChromeWindows})
                  .status,
              202);
  }
  long views = 0;
  for (int i = 0; i < 100 && views != 3; ++i) {
    auto r = httpRequest("GET", daemons[0]->baseUrl() + "/stats/" + site + "/top-pages", "",
                         {"Authorization: Bearer " + token});
    ASSERT_EQ(r.status, 200) << r.body;
    auto pages = json::parse(r.body)["pages"];
    views = pages.empty() ? 0 : pages[0]["views"].get<long>();
    if (views != 3) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(views, 3);
  {
    db::Connection replica(
        "postgresql://postgres@127.0.0.1:" + std::to_string(standby.port()) + "/mp", 5s);
    EXPECT_TRUE(replica.exec("SELECT pg_is_in_recovery()").getBool(0, 0));
    EXPECT_GT(replica
                  .exec("SELECT count(*) FROM pg_stat_activity WHERE datname = 'mp' AND pid <> "
                        "pg_backend_pid()")
                  .getInt(0, 0),
              0)
        << "the daemon holds no connection to the replica";
  }

  auto status = trackBurst(urls(daemons), site, 800, [&] {
    primary.stop();
    standby.promote();
  });
  int accepted = 0;
  for (long s : status) {
    accepted += s == 202;
    EXPECT_TRUE(s == 202 || s == 503) << "status " << s;
  }
  std::fprintf(stderr, "%d of %zu events answered 202 across the promotion\n", accepted,
               status.size());
  EXPECT_EQ(accepted, static_cast<int>(status.size())) << "Redis held the queue: nothing refused";
  expectStoredOnce(hosts + "?target_session_attrs=read-write", status, 60s);
  if (HasFailure()) {
    for (const auto& d : daemons) std::fprintf(stderr, "--- daemon ---\n%s\n", d->output().c_str());
  }
}

}  // namespace
}  // namespace mp::test
