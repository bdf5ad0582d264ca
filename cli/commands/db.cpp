// mpctl db: apply and inspect schema migrations, create monthly event partitions ahead of time.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "context.hpp"
#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "output.hpp"
#include "util/exit_codes.hpp"

namespace mp::cli {
namespace {

int runMigrate(Context& ctx) {
  auto conn = ctx.connect();
  try {
    db::Migrator migrator(conn);
    const int applied = migrator.migrate([](const db::MigrationState& state) {
      std::cout << "applied " << state.label() << std::endl;
    });
    if (applied == 0) std::cout << "database is up to date\n";
    return exit_code::kOk;
  } catch (const db::MigrationError& e) {
    std::cerr << "mpctl db migrate: " << e.what() << "\n";
    return exit_code::kSchema;
  }
}

int runStatus(Context& ctx, Format format) {
  auto conn = ctx.connect();
  const auto states = db::Migrator(conn).status();
  const auto check = db::checkSchema(states);

  std::vector<std::vector<nlohmann::json>> rows;
  rows.reserve(states.size());
  for (const auto& s : states) {
    rows.push_back({format == Format::kTable ? nlohmann::json(fmt::format("{:04}", s.version))
                                             : nlohmann::json(s.version),
                    s.name, std::string(db::toString(s.status())),
                    s.appliedAt.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.appliedAt)});
  }
  printRows(
      std::cout, format,
      {{"version", "VERSION"}, {"name", "NAME"}, {"state", "STATE"}, {"appliedAt", "APPLIED AT"}},
      rows);
  // What to do about it goes to stderr, so stdout stays parseable.
  if (format == Format::kTable && !check.ok) std::cerr << db::describe(check) << "\n";
  if (!check.unknown.empty() || !check.mismatched.empty()) return exit_code::kSchema;
  if (!check.pending.empty()) return exit_code::kFailure;
  return exit_code::kOk;
}

int runPartitions(Context& ctx, int monthsAhead) {
  auto conn = ctx.connect();
  const auto check = db::checkSchema(conn);
  if (!check.ok) {
    std::cerr << "mpctl db partitions: " << db::describe(check) << "\n";
    return exit_code::kSchema;
  }
  auto rows = conn.execArgs("SELECT partition_name, created FROM mp_ensure_event_partitions($1)",
                            monthsAhead);
  for (int r = 0; r < rows.rows(); ++r) {
    std::cout << rows.get(r, 0) << (rows.getBool(r, 1) ? " created" : " exists") << "\n";
  }
  return exit_code::kOk;
}

}  // namespace

void registerDbCommands(CLI::App& app, Context& ctx) {
  auto* db = app.add_subcommand("db", "Database schema: migrations and event partitions");
  db->require_subcommand(1);

  auto* migrate = db->add_subcommand(
      "migrate",
      "Apply pending migrations, each in its own transaction (safe to run concurrently)");
  migrate->callback([&ctx] { ctx.action = [&ctx] { return runMigrate(ctx); }; });

  auto* status = db->add_subcommand(
      "status",
      "List migrations and their state; exit 1 when some are pending, 4 when changed or unknown");
  // Owned by the callback, which lives as long as the App.
  auto format = std::make_shared<Format>(Format::kTable);
  addFormatOption(*status, *format);
  status->callback(
      [&ctx, format] { ctx.action = [&ctx, format] { return runStatus(ctx, *format); }; });

  auto* partitions = db->add_subcommand(
      "partitions", "Create the monthly events partitions of this month and the months ahead");
  auto monthsAhead = std::make_shared<int>(2);
  partitions->add_option("--months-ahead", *monthsAhead, "Months after the current one to cover")
      ->check(CLI::Range(0, 120))
      ->default_str("2");
  partitions->callback([&ctx, monthsAhead] {
    ctx.action = [&ctx, monthsAhead] { return runPartitions(ctx, *monthsAhead); };
  });
}

}  // namespace mp::cli
