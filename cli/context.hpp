// State shared by mpctl commands: the config path, the loaded config and the chosen action.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "db/connection.hpp"
#include "redis/client.hpp"
#include "sites/sites.hpp"

namespace mp::cli {

/// Output format of listing commands.
enum class Format { kTable, kJson, kCsv };

class Context {
 public:
  std::string configPath;
  /// Set by the callback of the chosen subcommand; returns the exit code.
  std::function<int()> action;

  /// The validated configuration (loaded on first use); throws ConfigError.
  const config::Config& config();
  /// A PostgreSQL connection from the configuration; throws ConfigError, DbError.
  db::Connection connect();
  /// A Redis client from the configuration (connects on first use); throws ConfigError.
  redis::Client redis();

 private:
  std::optional<config::Config> config_;
};

/// The website by its id or its domain; throws NotFound.
sites::Website resolveWebsite(db::Connection& conn, const std::string& website);

/// Says on stderr that running daemons could not be told of a change (Redis out of reach).
void warnNotAnnounced();

/// Adds --format table|json|csv to a listing command.
void addFormatOption(CLI::App& cmd, Format& format);

/// Everything mpctl parses into `app`: --version, -c/--config and every command, each setting
/// ctx.action when chosen (what main() runs, and what the tests walk).
void defineCommands(CLI::App& app, Context& ctx);

// Each cli/commands/<noun>.cpp defines one of these and registers its subcommands.
void registerConfigCommands(CLI::App& app, Context& ctx);
void registerDbCommands(CLI::App& app, Context& ctx);
void registerUserCommands(CLI::App& app, Context& ctx);
void registerWebsiteCommands(CLI::App& app, Context& ctx);
void registerGoalCommands(CLI::App& app, Context& ctx);
void registerTokenCommands(CLI::App& app, Context& ctx);
void registerAggregateCommands(CLI::App& app, Context& ctx);
void registerStatsCommands(CLI::App& app, Context& ctx);
void registerRetentionCommands(CLI::App& app, Context& ctx);
void registerReportCommands(CLI::App& app, Context& ctx);
void registerExportCommands(CLI::App& app, Context& ctx);
void registerImportCommands(CLI::App& app, Context& ctx);

}  // namespace mp::cli
