// metricpulsed: the MetricPulse daemon (HTTP API, ingest, live feed, aggregation).
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <memory>

#include "config/config.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "log/log.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken synchronously by sigwait below; every thread inherits this mask.
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
  logger->info("ready: API http://{} (health /healthz, readiness /readyz)", cfg.http.listen);

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reloadLogLevel(configPath);
      continue;
    }
    logger->info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  // Stop taking requests first, then let the writers finish their batch.
  server->shutdown();
  services->stop();
  logger->info("stopped");
  return mp::exit_code::kOk;
}
