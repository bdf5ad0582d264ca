// mpctl config: check a configuration file and print the defaults.
#include "config/config.hpp"

#include <iostream>

#include "context.hpp"
#include "util/exit_codes.hpp"

namespace mp::cli {

void registerConfigCommands(CLI::App& app, Context& ctx) {
  auto* config = app.add_subcommand("config", "Check or print the configuration");
  config->require_subcommand(1);

  auto* check =
      config->add_subcommand("check", "Validate the configuration file; list every problem");
  check->callback([&ctx] {
    ctx.action = [&ctx] {
      auto result = config::load(ctx.configPath, config::processEnvironment());
      if (!result.ok()) {
        for (const auto& p : result.problems) std::cerr << p.str() << "\n";
        std::cerr << ctx.configPath << ": " << result.problems.size() << " problem"
                  << (result.problems.size() == 1 ? "" : "s") << "\n";
        return exit_code::kConfig;
      }
      std::cout << ctx.configPath << ": configuration is valid\n";
      return exit_code::kOk;
    };
  });

  auto* defaults = config->add_subcommand("defaults", "Print the default configuration as TOML");
  defaults->callback([&ctx] {
    ctx.action = [] {
      std::cout << config::defaultsToml();
      return exit_code::kOk;
    };
  });
}

}  // namespace mp::cli
