// metricpulsed: the MetricPulse daemon (HTTP API, ingest, live feed, aggregation).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "log/log.hpp"
#include "notify.hpp"
#include "server.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"

namespace {

int printProblems(const std::string& path, const std::vector<mp::config::Problem>& problems) {
  for (const auto& p : problems) std::cerr << p.str() << "\n";
  std::cerr << path << ": " << problems.size() << " problem" << (problems.size() == 1 ? "" : "s")
            << "; nothing was started\n";
  return mp::exit_code::kConfig;
}

// SIGHUP re-reads the log level; anything else in the file needs a restart.
void reloadLogLevel(const std::string& path) {
  auto logger = mp::log::get("main");
  auto result = mp::config::load(path, mp::config::processEnvironment());
  if (!result.ok()) {
    for (const auto& p : result.problems) logger->error("reload: {}", p.str());
    logger->error("reload: configuration invalid; keeping the current settings");
    return;
  }
  mp::log::setLevel(mp::log::parseLevel(result.config.log.level));
  logger->info("reload: log level is now {}", result.config.log.level);
}

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What `systemctl status` shows while the daemon serves.
std::string servingStatus(const mp::config::Config& cfg) {
  std::string status =
      "Serving the API on " + cfg.http.listen + " and the live feed on " + cfg.websocket.listen;
  if (!cfg.metrics.listen.empty()) status += ", metrics on " + cfg.metrics.listen;
  return status;
}

// Under a service manager, READY=1 waits until the API answers its own GET /healthz and the
// live feed's loop turns: the listeners are bound once Server::start() returns, and this shows
// that their threads serve. False (after logging why) when they do not within `limit`.
bool waitUntilServing(const mp::daemon::Server& server, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  std::string why;
  do {
    why = server.unresponsive(milliseconds(1000));
    if (why.empty()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  } while (Clock::now() < deadline);
  mp::log::get("main")->critical("startup failed: {}", why);
  return false;
}

// The keep-alive of WatchdogSec=: WATCHDOG=1 every half of the timeout (as sd_watchdog_enabled(3)
// advises), sent only when the HTTP API answers GET /healthz and the live feed's loop turns (see
// Server::unresponsive). A check that fails is tried again every tenth of the timeout, without
// a keep-alive; when none succeeds for the whole timeout, systemd aborts the daemon (SIGABRT)
// and Restart=on-failure starts it again. Off (never due) without a watchdog.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::microseconds timeout)
      : timeout_(timeout),
        pingEvery_(std::chrono::duration_cast<milliseconds>(timeout / 2)),
        retryEvery_(
            std::max(milliseconds(50), std::chrono::duration_cast<milliseconds>(timeout / 10))),
        probeTimeout_(std::clamp(std::chrono::duration_cast<milliseconds>(timeout / 10),
                                 milliseconds(50), milliseconds(2000))) {}

  bool enabled() const { return timeout_.count() > 0; }
  /// When the main loop is to call check() next.
  Clock::time_point due() const { return next_; }

  void check(const mp::daemon::Server& server) {
    auto logger = mp::log::get("main");
    const std::string why = server.unresponsive(probeTimeout_);
    if (why.empty()) {
      mp::daemon::notify::watchdog();
      if (failing_) logger->warn("watchdog: serving again; keep-alive resumed");
      failing_ = false;
      next_ = Clock::now() + pingEvery_;
      return;
    }
    if (!failing_) {
      logger->error(
          "watchdog: {}; no keep-alive is sent while this lasts, and systemd restarts the daemon "
          "after {} ms without one",
          why, std::chrono::duration_cast<milliseconds>(timeout_).count());
    }
    failing_ = true;
    next_ = Clock::now() + retryEvery_;
  }

 private:
  std::chrono::microseconds timeout_;
  milliseconds pingEvery_;
  milliseconds retryEvery_;
  milliseconds probeTimeout_;
  Clock::time_point next_ = Clock::now();
  bool failing_ = false;
};

// How long sigtimedwait() may wait: until the watchdog is due, or an hour without one.
timespec waitUntil(const Watchdog& watchdog) {
  if (!watchdog.enabled()) return timespec{3600, 0};
  const auto left = std::max(Clock::duration::zero(), watchdog.due() - Clock::now());
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken synchronously by sigtimedwait below; every thread inherits this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string configPath = MP_DEFAULT_CONFIG;
  bool checkConfig = false;
  bool printDefaults = false;
  bool printMan = false;
  CLI::App app{"metricpulsed: the MetricPulse web analytics daemon", "metricpulsed"};
  app.set_version_flag("--version", std::string("metricpulsed ") + MP_VERSION);
  app.add_option("-c,--config", configPath, "Configuration file")->default_str(MP_DEFAULT_CONFIG);
  app.add_flag("--check-config", checkConfig,
               "Validate the configuration, list every problem, exit");
  app.add_flag("--print-defaults", printDefaults, "Print the default configuration as TOML, exit");
  app.add_flag("--print-man", printMan,
               "Print the manual page of the configuration file, metricpulse.toml(5), as roff, "
               "exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return mp::exit_code::kUsage;
  }

  if (printDefaults) {
    std::cout << mp::config::defaultsToml();
    return mp::exit_code::kOk;
  }
  if (printMan) {
    std::cout << mp::config::manPage();
    return mp::exit_code::kOk;
  }
  auto loaded = mp::config::load(configPath, mp::config::processEnvironment());
  if (!loaded.ok()) return printProblems(configPath, loaded.problems);
  if (checkConfig) {
    std::cout << configPath << ": configuration is valid\n";
    return mp::exit_code::kOk;
  }
  const mp::config::Config& cfg = loaded.config;
  mp::log::init(cfg.log.level, cfg.log.format);
  auto logger = mp::log::get("main");
  logger->info("metricpulsed {} starting (config {})", MP_VERSION, configPath);
  namespace notify = mp::daemon::notify;
  notify::status("Checking the database schema");

  try {
    mp::db::Connection conn(cfg.database.url, cfg.database.connectTimeout);
    auto check = mp::db::checkSchema(conn);
    if (!check.ok) {
      logger->critical("database schema is not current: {}", mp::db::describe(check));
      return mp::exit_code::kSchema;
    }
  } catch (const mp::DbError& e) {
    logger->critical("cannot use PostgreSQL at startup: {}", e.what());
    return mp::exit_code::kUnavailable;
  }

  std::unique_ptr<mp::daemon::Server> server;
  std::shared_ptr<mp::daemon::Services> services;
  try {
    notify::status("Starting the services and listeners");
    services = std::make_shared<mp::daemon::Services>(cfg);
    services->start();
    server = std::make_unique<mp::daemon::Server>(services);
    server->start();
  } catch (const mp::ConfigError& e) {
    logger->critical("{}", e.what());
    return mp::exit_code::kConfig;
  } catch (const std::exception& e) {
    logger->critical("startup failed: {}", e.what());
    return mp::exit_code::kFailure;
  }
  if (notify::enabled() && !waitUntilServing(*server, std::chrono::seconds(30))) {
    server->shutdown();
    services->stop();
    return mp::exit_code::kFailure;
  }
  notify::ready(servingStatus(cfg));
  logger->info("ready: API http://{} (health /healthz, readiness /readyz)", cfg.http.listen);

  Watchdog watchdog(notify::watchdogTimeout());
  if (watchdog.enabled()) {
    logger->info("watchdog: keep-alive every {} ms while the API and the live feed answer",
                 std::chrono::duration_cast<milliseconds>(notify::watchdogTimeout() / 2).count());
  }
  for (;;) {
    const timespec wait = waitUntil(watchdog);
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig < 0) {
      // EAGAIN: the wait ran out; EINTR: a signal outside the set (a debugger) woke it.
      if (watchdog.enabled() && Clock::now() >= watchdog.due()) watchdog.check(*server);
      continue;
    }
    if (sig == SIGHUP) {
      notify::reloading();
      reloadLogLevel(configPath);
      notify::ready(servingStatus(cfg));
      continue;
    }
    logger->info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  notify::stopping();
  // Stop taking requests first, then let the writers finish their batch.
  server->shutdown();
  services->stop();
  logger->info("stopped");
  return mp::exit_code::kOk;
}
