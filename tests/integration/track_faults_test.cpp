// "Nothing lost": tracking through PostgreSQL and Redis outages and a daemon killed mid-burst.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "db/connection.hpp"
#include "redis/client.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "support/wait.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;

// A daemon on a private PostgreSQL cluster (which the test may stop) and a private Redis.
class TrackFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    dbUrl_ = pg_.createDatabase("mp");
    migrateDatabase(dbUrl_);
    db::Connection conn(dbUrl_, std::chrono::seconds(5));
    site_ = seed::website(conn, seed::owner(conn), "Example", "example.com");
    daemon_ = startDaemon();
  }

  void TearDown() override {
    if (HasFailure() && daemon_)
      std::fprintf(stderr, "--- daemon output ---\n%s\n", daemon_->output().c_str());
  }

  std::unique_ptr<DaemonProcess> startDaemon(int httpThreads = 2, int redisTimeoutMs = 1000) {
    DaemonOptions options(dbUrl_);
    options.redisUrl = redis_.url();
    options.httpThreads = httpThreads;
    options.redisTimeoutMs = redisTimeoutMs;
    options.extraToml =
        "[ingest]\nrate_limit_per_minute = 0\nflush_interval_ms = 50\nclaim_idle = \"2s\"\n";
    options.httpToml = "";
    auto daemon = std::make_unique<DaemonProcess>(options);
    EXPECT_TRUE(daemon->start()) << daemon->output();
    return daemon;
  }

  HttpResponse track(const std::string& marker, long timeoutMs = 10000) {
    return httpRequest(
        "POST", daemon_->baseUrl() + "/track",
        json(
            {{"websiteId", site_}, {"url", "https://example.com/" + marker}, {"sessionId", marker}})
            .dump(),
        {"Content-Type: application/json"}, timeoutMs);
  }

  // session_id -> how many rows carry it.
  std::map<std::string, long> storedMarkers() {
    db::Connection conn(dbUrl_, std::chrono::seconds(5));
    auto rows = conn.exec("SELECT session_id, count(*) FROM events GROUP BY session_id");
    std::map<std::string, long> out;
    for (int i = 0; i < rows.rows(); ++i)
      out[std::string(rows.get(i, 0))] = static_cast<long>(rows.getInt(i, 1));
    return out;
  }

  bool waitForRows(std::size_t n, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (storedMarkers().size() >= n) return true;
      } catch (const std::exception&) {
        // PostgreSQL may still be starting.
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  PostgresProcess pg_;
  RedisProcess redis_;
  std::string dbUrl_;
  std::string site_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(TrackFaults, PostgresStoppedMidBurstLosesNothing) {
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) {
    if (i == 100) pg_.stop();
    if (i == 250) pg_.start();
    auto r = track("e" + std::to_string(i));
    ASSERT_EQ(r.status, 202) << i << ": " << r.body;
  }
  ASSERT_TRUE(waitForRows(kEvents));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto stored = storedMarkers();
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(kEvents));
  for (const auto& [marker, count] : stored) EXPECT_EQ(count, 1) << marker;
}

TEST_F(TrackFaults, DaemonKilledMidBurstStoresEveryAcceptedEventOnce) {
  std::set<std::string> accepted;
  std::mutex mutex;
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string marker = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = track(marker, 2000);
        if (r.status == 202) {
          std::lock_guard lock(mutex);
          accepted.insert(marker);
        } else if (r.status == 0) {
          return;  // the daemon is gone
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  daemon_->stop(SIGKILL);
  stop = true;
  for (auto& s : senders) s.join();
  ASSERT_GT(accepted.size(), 50u);

  daemon_ = startDaemon();
  // Entries the killed daemon had read but not stored are taken over once idle for claim_idle
  // (2 s here), at the new writer's next pass over pending entries (every 10 s): counting rows
  // is not enough, since events queued but never answered 202 may be stored first.
  std::map<std::string, long> stored;
  const bool all = eventually(
      [&] {
        stored = storedMarkers();
        return std::all_of(accepted.begin(), accepted.end(),
                           [&](const std::string& m) { return stored.count(m) > 0; });
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200));
  for (const auto& marker : accepted) {
    ASSERT_TRUE(stored.count(marker)) << marker << " was answered 202 and is missing";
  }
  ASSERT_TRUE(all);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a duplicate would land by now
  stored = storedMarkers();
  for (const auto& [marker, count] : stored) EXPECT_EQ(count, 1) << marker << " stored twice";
}

TEST_F(TrackFaults, RedisDownFallsBackToPostgres) {
  redis_.stop();
  for (int i = 0; i < 20; ++i) {
    auto r = track("direct" + std::to_string(i));
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // 202 came after COMMIT, so the rows are there already.
  EXPECT_EQ(storedMarkers().size(), 20u);
  redis_.start();
  auto r = track("after");
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(waitForRows(21));
}

// The value of an unlabelled counter in a metrics text, or -1.
long long metricValue(const std::string& metrics, const std::string& name) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  }
  return -1;
}

TEST_F(TrackFaults, UnreachableRedisCostsTrackOnlyAFewTimeouts) {
  // A paused Redis accepts connections and never answers: each command waits the whole
  // redis.timeout_ms. After one time-out the daemon stops asking for a while (longer each
  // time), so the events go straight to PostgreSQL instead of each paying the time-out first.
  redis_.pause();
  constexpr int kEvents = 40;
  for (int i = 0; i < kEvents; ++i) {
    auto r = track("blackholed" + std::to_string(i));
    ASSERT_EQ(r.status, 202) << i << ": " << r.body;
  }
  // 202 came after COMMIT on the direct path.
  EXPECT_EQ(storedMarkers().size(), static_cast<std::size_t>(kEvents));
  const auto metrics = httpRequest("GET", daemon_->metricsUrl(), "", {}, 20000).body;
  const long long timeouts = metricValue(metrics, "mp_redis_timeouts_total");
  // Without back-off every event (and this scrape) would pay one; with it, one per back-off
  // period (0.5 s, 1 s, 2 s, …), however slow this machine is.
  EXPECT_GE(timeouts, 1) << metrics;
  EXPECT_LE(timeouts, 10) << metrics;
  EXPECT_GT(metricValue(metrics, "mp_redis_backoff_failures_total"), kEvents / 2) << metrics;
  redis_.resume();
}

TEST_F(TrackFaults, ReadyzWaitingForAnUnreachableRedisHoldsUpNoHttpWorker) {
  // One HTTP worker, and a Redis that takes 3 s to time out: while /readyz waits for it, the
  // worker must go on answering.
  daemon_.reset();
  daemon_ = startDaemon(1, 3000);
  ASSERT_TRUE(daemon_);
  redis_.pause();
  std::atomic<bool> readyAnswered{false};
  HttpResponse ready;
  std::thread readiness([&] {
    ready = httpRequest("GET", daemon_->baseUrl() + "/readyz", "", {}, 20000);
    readyAnswered = true;
  });
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    if (httpRequest("GET", daemon_->baseUrl() + "/healthz", "", {}, 20000).status == 200) {
      ++answered;
    }
  }
  const bool readyWasPending = !readyAnswered;
  readiness.join();
  EXPECT_EQ(answered, 20);
  EXPECT_TRUE(readyWasPending) << "/readyz answered before 20 /healthz: it did not wait for Redis";
  EXPECT_EQ(ready.status, 503) << ready.body;
  const auto answer = json::parse(ready.body, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << ready.body;
  EXPECT_EQ(answer.value("redis", ""), "down") << ready.body;
  redis_.resume();
}

TEST_F(TrackFaults, RedisRefusingTheQueueEntryFallsBackToPostgres) {
  // Redis up but refusing writes (out of memory with noeviction): every XADD is an error reply,
  // so the events of each refused entry are written directly, and answered after COMMIT.
  redis::Client admin(redis::Url::parse(redis_.url()), std::chrono::seconds(2));
  ASSERT_FALSE(admin.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).isError());
  ASSERT_FALSE(admin.command({"CONFIG", "SET", "maxmemory", "1"}).isError());
  // Several senders at once, so that entries hold more than one event.
  std::vector<std::thread> senders;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 6; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (track("oom" + std::to_string(t) + "-" + std::to_string(i)).status == 202) ++accepted;
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(accepted.load(), 60);
  EXPECT_EQ(storedMarkers().size(), 60u);
  auto metrics = httpRequest("GET", daemon_->metricsUrl()).body;
  EXPECT_THAT(metrics, ::testing::HasSubstr("mp_events_accepted_total{path=\"direct\"} 60"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("mp_events_accepted_total{path=\"queue\"} 0"));
  EXPECT_THAT(daemon_->output(), ::testing::HasSubstr("redis refused a queue entry"));

  ASSERT_FALSE(admin.command({"CONFIG", "SET", "maxmemory", "0"}).isError());
  EXPECT_EQ(track("queued").status, 202);
  EXPECT_TRUE(waitForRows(61));
  for (const auto& [marker, count] : storedMarkers()) EXPECT_EQ(count, 1) << marker;
}

TEST_F(TrackFaults, BothDownIs503WithRetryAfter) {
  redis_.stop();
  pg_.stop();
  auto r = track("lost", 20000);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(errorCode(r), "unavailable");
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_EQ(httpRequest("GET", daemon_->baseUrl() + "/healthz").status, 200);
  EXPECT_EQ(httpRequest("GET", daemon_->baseUrl() + "/readyz").status, 503);
  pg_.start();
  redis_.start();
  EXPECT_EQ(track("back").status, 202);
  EXPECT_TRUE(waitForRows(1));
  EXPECT_EQ(storedMarkers().count("lost"), 0u);
}

}  // namespace
}  // namespace mp::test
