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
#include "util/exit_codes.hpp"

namespace mp::cli {
namespace {

db::Connection connect(Context& ctx) {
  const auto& database = ctx.config().database;
  return db::Connection(database.url, database.connectTimeout);
}

std::string csvField(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&width](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      // No trailing blanks after the last column.
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

int runMigrate(Context& ctx) {
  auto conn = connect(ctx);
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
  auto conn = connect(ctx);
  const auto states = db::Migrator(conn).status();
  const auto check = db::checkSchema(states);

  switch (format) {
    case Format::kJson: {
      auto out = nlohmann::json::array();
      for (const auto& s : states) {
        out.push_back({{"version", s.version},
                       {"name", s.name},
                       {"state", std::string(db::toString(s.status()))},
                       {"appliedAt", s.appliedAt.empty() ? nlohmann::json(nullptr)
                                                         : nlohmann::json(s.appliedAt)}});
      }
      std::cout << out.dump(2) << "\n";
      break;
    }
    case Format::kCsv:
      std::cout << "version,name,state,applied_at\n";
      for (const auto& s : states) {
        std::cout << s.version << "," << csvField(s.name) << "," << db::toString(s.status()) << ","
                  << s.appliedAt << "\n";
      }
      break;
    case Format::kTable: {
      std::vector<std::vector<std::string>> rows;
      rows.reserve(states.size());
      for (const auto& s : states) {
        rows.push_back({fmt::format("{:04}", s.version), s.name,
                        std::string(db::toString(s.status())),
                        s.appliedAt.empty() ? "-" : s.appliedAt});
      }
      printTable({"VERSION", "NAME", "STATE", "APPLIED AT"}, rows);
      // What to do about it goes to stderr, so stdout stays the table.
      if (!check.ok) std::cerr << db::describe(check) << "\n";
      break;
    }
  }
  if (!check.unknown.empty() || !check.mismatched.empty()) return exit_code::kSchema;
  if (!check.pending.empty()) return exit_code::kFailure;
  return exit_code::kOk;
}

int runPartitions(Context& ctx, int monthsAhead) {
  auto conn = connect(ctx);
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
