// mpctl: the admin command line of MetricPulse (users, websites, migrations, stats).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "context.hpp"
#include "log/log.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"

int main(int argc, char** argv) {
  mp::cli::Context ctx;
  ctx.configPath = MP_DEFAULT_CONFIG;

  CLI::App app{"mpctl: administer a MetricPulse installation (PostgreSQL and Redis)", "mpctl"};
  mp::cli::defineCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return mp::exit_code::kUsage;
  }

  // mpctl speaks on stdout/stderr itself; library loggers only say what goes wrong.
  mp::log::init("warn", "journal");
  if (!ctx.action) return mp::exit_code::kUsage;
  try {
    return ctx.action();
  } catch (const mp::InvalidInput& e) {
    std::cerr << "mpctl: " << e.what() << "\n";
    return mp::exit_code::kUsage;
  } catch (const mp::NotFound& e) {
    std::cerr << "mpctl: " << e.what() << "\n";
    return mp::exit_code::kNotFound;
  } catch (const mp::Conflict& e) {
    std::cerr << "mpctl: " << e.what() << "\n";
    return mp::exit_code::kConflict;
  } catch (const mp::ConfigError& e) {
    std::cerr << "mpctl: configuration error:\n" << e.what() << "\n";
    return mp::exit_code::kConfig;
  } catch (const mp::DbError& e) {
    std::cerr << "mpctl: database: " << e.what() << "\n";
    // Connection-level failures (class 08) mean PostgreSQL is out of reach.
    const bool unreachable = e.sqlstate().empty() || e.sqlstate().rfind("08", 0) == 0;
    return unreachable ? mp::exit_code::kUnavailable : mp::exit_code::kFailure;
  } catch (const mp::RedisError& e) {
    std::cerr << "mpctl: redis: " << e.what() << "\n";
    return mp::exit_code::kUnavailable;
  } catch (const std::exception& e) {
    std::cerr << "mpctl: " << e.what() << "\n";
    return mp::exit_code::kFailure;
  }
}
