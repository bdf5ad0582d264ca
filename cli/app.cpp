// mpctl's command tree: the global options and every noun's commands.
#include <string>

#include "context.hpp"

namespace mp::cli {

void defineCommands(CLI::App& app, Context& ctx) {
  app.set_version_flag("--version", std::string("mpctl ") + MP_VERSION);
  app.add_option("-c,--config", ctx.configPath, "Configuration file")
      ->default_str(MP_DEFAULT_CONFIG);
  app.require_subcommand(1);

  registerConfigCommands(app, ctx);
  registerDbCommands(app, ctx);
  registerUserCommands(app, ctx);
  registerWebsiteCommands(app, ctx);
  registerGoalCommands(app, ctx);
  registerTokenCommands(app, ctx);
  registerAggregateCommands(app, ctx);
  registerStatsCommands(app, ctx);
  registerRetentionCommands(app, ctx);
  registerReportCommands(app, ctx);
  registerExportCommands(app, ctx);
  registerImportCommands(app, ctx);
}

}  // namespace mp::cli
