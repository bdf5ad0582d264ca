// metricpulsed under a service manager: what it sends to NOTIFY_SOCKET (sd_notify(3)), received
// on a datagram socket the test owns as systemd would. READY=1 only once the listeners serve,
// RELOADING=1 then READY=1 around SIGHUP, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on
// SIGTERM; a watchdog meant for another process is not fed, and a manager that went away does
// not stop the daemon.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "probe.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/wait.hpp"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

void migrate(const TempDatabase& db) {
  auto r = runProcess({mpctlPath(), "-c", "/dev/null", "db", "migrate"}, "",
                      {{"MP_DATABASE_URL", db.url()}});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
}

// One notification: its assignments ("READY=1", "STATUS=…") and when it arrived.
struct Notification {
  Clock::time_point at;
  std::vector<std::string> lines;

  bool has(const std::string& assignment) const {
    return std::find(lines.begin(), lines.end(), assignment) != lines.end();
  }
  // The value of NAME=, or "".
  std::string value(const std::string& name) const {
    for (const auto& line : lines) {
      if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
    }
    return {};
  }
};

// A unix datagram socket standing in for systemd's notification socket; a thread receives
// every datagram and calls the hook (if any) before keeping it.
class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot bind " + path_.string());
    }
    thread_ = std::thread([this] { receive(); });
  }
  ~NotifySocket() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  std::string path() const { return path_.string(); }
  void setHook(std::function<void(const Notification&)> hook) {
    std::lock_guard lock(mutex_);
    hook_ = std::move(hook);
  }

  std::vector<Notification> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  /// Waits for a notification after the first `after` ones that holds `assignment`; its index,
  /// or -1.
  int waitFor(const std::string& assignment, std::size_t after = 0,
              std::chrono::milliseconds timeout = 15s) const {
    std::unique_lock lock(mutex_);
    int found = -1;
    arrived_.wait_for(lock, timeout, [&] {
      for (std::size_t i = after; i < received_.size(); ++i) {
        if (received_[i].has(assignment)) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  void receive() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      Notification message{Clock::now(), {}};
      std::istringstream in(std::string(buffer, static_cast<std::size_t>(n)));
      for (std::string line; std::getline(in, line);) {
        if (!line.empty()) message.lines.push_back(line);
      }
      std::function<void(const Notification&)> hook;
      {
        std::lock_guard lock(mutex_);
        hook = hook_;
      }
      if (hook) hook(message);
      {
        std::lock_guard lock(mutex_);
        received_.push_back(message);
      }
      arrived_.notify_all();
    }
  }

  std::filesystem::path path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<Notification> received_;
  std::function<void(const Notification&)> hook_;
};

long long monotonicUsec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000LL + now.tv_nsec / 1000;
}

TEST(SystemdNotify, ReadyOnceServingReloadWatchdogAndStopping) {
  TempDatabase db;
  migrate(db);
  // What answers at the moment READY=1 arrives, before the test has seen anything else.
  struct {
    std::atomic<bool> checked{false};
    long health = 0;
    long metrics = 0;
    bool live = false;
  } atReady;
  TempDir dir;
  NotifySocket manager(dir.path() / "notify");
  DaemonOptions options{db.url()};
  options.env["NOTIFY_SOCKET"] = manager.path();
  options.env["WATCHDOG_USEC"] = "2000000";  // no WATCHDOG_PID: meant for whoever reads it
  DaemonProcess daemon(options);

  manager.setHook([&](const Notification& n) {
    if (!n.has("READY=1") || atReady.checked) return;
    atReady.health = httpRequest("GET", daemon.baseUrl() + "/healthz", "", {}, 2000).status;
    atReady.metrics = httpRequest("GET", daemon.metricsUrl(), "", {}, 2000).status;
    // The live feed answers a request that is not an upgrade with an HTTP error.
    atReady.live = mp::daemon::answersHttp("127.0.0.1", daemon.wsPort(), "/ws", 2000ms);
    atReady.checked = true;
  });

  ASSERT_TRUE(daemon.start()) << daemon.output();
  const int ready = manager.waitFor("READY=1");
  ASSERT_GE(ready, 0) << daemon.output();
  EXPECT_TRUE(atReady.checked);
  EXPECT_EQ(atReady.health, 200);
  EXPECT_EQ(atReady.metrics, 200);
  EXPECT_TRUE(atReady.live);
  const auto before = manager.received();
  for (int i = 0; i < ready; ++i) {
    EXPECT_FALSE(before[static_cast<std::size_t>(i)].has("READY=1"));
    EXPECT_FALSE(before[static_cast<std::size_t>(i)].has("WATCHDOG=1")) << "pinged before READY";
  }
  EXPECT_THAT(before[static_cast<std::size_t>(ready)].value("STATUS"),
              HasSubstr("127.0.0.1:" + std::to_string(daemon.httpPort())));

  // WATCHDOG_USEC=2 s: a keep-alive every second, never two seconds apart.
  std::this_thread::sleep_for(4500ms);
  std::vector<Clock::time_point> pings;
  const auto window = manager.received();
  for (std::size_t i = static_cast<std::size_t>(ready); i < window.size(); ++i) {
    if (window[i].has("WATCHDOG=1")) pings.push_back(window[i].at);
  }
  EXPECT_GE(pings.size(), 3u);
  EXPECT_LE(pings.size(), 7u);
  for (std::size_t i = 1; i < pings.size(); ++i) {
    const auto gap = pings[i] - pings[i - 1];
    EXPECT_GT(gap, 500ms) << "ping " << i;
    EXPECT_LT(gap, 2000ms) << "ping " << i << ": systemd would have aborted the daemon";
  }

  // SIGHUP: RELOADING=1 with the monotonic time, then READY=1 again.
  const std::size_t beforeHup = manager.received().size();
  const long long hupAt = monotonicUsec();
  daemon.sendSignal(SIGHUP);
  const int reloading = manager.waitFor("RELOADING=1", beforeHup);
  ASSERT_GE(reloading, 0) << daemon.output();
  const auto reload = manager.received()[static_cast<std::size_t>(reloading)];
  ASSERT_FALSE(reload.value("MONOTONIC_USEC").empty()) << "RELOADING=1 without MONOTONIC_USEC=";
  const long long stamp = std::stoll(reload.value("MONOTONIC_USEC"));
  EXPECT_GE(stamp, hupAt - 1000);
  EXPECT_LT(stamp, hupAt + 5000000);
  EXPECT_GE(manager.waitFor("READY=1", static_cast<std::size_t>(reloading) + 1), 0);
  EXPECT_EQ(httpRequest("GET", daemon.baseUrl() + "/healthz").status, 200);

  // SIGTERM: STOPPING=1, then a clean exit and no keep-alive after it.
  const std::size_t beforeTerm = manager.received().size();
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
  const int stopping = manager.waitFor("STOPPING=1", beforeTerm, 2000ms);
  ASSERT_GE(stopping, 0) << daemon.output();
  const auto all = manager.received();
  for (std::size_t i = static_cast<std::size_t>(stopping) + 1; i < all.size(); ++i) {
    EXPECT_FALSE(all[i].has("WATCHDOG=1")) << "a keep-alive after STOPPING=1";
  }
  manager.setHook(nullptr);
}

// sd_watchdog_enabled(3): WATCHDOG_PID names the process the watchdog is meant for.
TEST(SystemdNotify, AWatchdogMeantForAnotherProcessIsNotFed) {
  TempDatabase db;
  migrate(db);
  TempDir dir;
  NotifySocket manager(dir.path() / "notify");
  DaemonOptions options{db.url()};
  options.env["NOTIFY_SOCKET"] = manager.path();
  options.env["WATCHDOG_USEC"] = "400000";
  options.env["WATCHDOG_PID"] = std::to_string(getpid());  // the test's, not the daemon's
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  const int ready = manager.waitFor("READY=1");
  ASSERT_GE(ready, 0) << daemon.output();
  EXPECT_EQ(manager.waitFor("WATCHDOG=1", 0, 1500ms), -1);
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
}

// Notifications that cannot be delivered are logged once; the daemon serves and stops as usual.
TEST(SystemdNotify, AManagerThatIsGoneIsNoReasonToStop) {
  TempDatabase db;
  migrate(db);
  TempDir dir;
  DaemonOptions options{db.url()};
  options.env["NOTIFY_SOCKET"] = (dir.path() / "nobody-listens").string();
  options.env["WATCHDOG_USEC"] = "400000";
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(httpRequest("GET", daemon.baseUrl() + "/healthz").status, 200);
  daemon.sendSignal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] { return daemon.output().find("reload: log level") != std::string::npos; }, 5s));
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.output();
  const std::string log = daemon.output();
  const std::string warning = "cannot notify the service manager";
  EXPECT_THAT(log, HasSubstr(warning));
  EXPECT_EQ(log.find(warning), log.rfind(warning)) << "said more than once:\n" << log;
}

}  // namespace
}  // namespace mp::test
