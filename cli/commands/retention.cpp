// mpctl retention: prune raw events older than the retention, with their rollups (also run daily
// by the daemon when retention.days is set).
#include "maintenance/retention.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "context.hpp"
#include "db/migrations.hpp"
#include "output.hpp"
#include "prompt.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::cli {
namespace {

struct PruneOptions {
  int olderThan = 0;  // 0: retention.days
  bool dryRun = false;
  bool yes = false;
  Format format = Format::kTable;
};

const char* actionName(maintenance::PruneStep::Kind kind) {
  return kind == maintenance::PruneStep::Kind::kDropPartition ? "drop" : "delete";
}

int runPrune(Context& ctx, const PruneOptions& opts) {
  // Checked before anything is opened: a prune without a retention is a usage error.
  const int days = opts.olderThan > 0 ? opts.olderThan : ctx.config().retention.days;
  if (days <= 0) {
    throw InvalidInput("older-than",
                       "no retention: pass --older-than DAYS or set retention.days in the "
                       "configuration");
  }
  const auto cutoff = maintenance::retentionCutoff(days, util::todayUtc());
  const bool ask = !opts.dryRun && !opts.yes;
  // A script without --yes fails before anything is opened, like the other destructive commands.
  if (ask && isatty(STDIN_FILENO) == 0) {
    throw InvalidInput("yes", "stdin is not a terminal: pass --yes to confirm the prune");
  }
  const std::string what = fmt::format("events before {} 00:00 UTC (older than {} day{})",
                                       util::formatDate(cutoff), days, days == 1 ? "" : "s");

  auto conn = ctx.connect();
  const auto check = db::checkSchema(conn);
  if (!check.ok) {
    std::cerr << "mpctl retention prune: " << db::describe(check) << "\n";
    return exit_code::kSchema;
  }
  if (ask) {
    // Say what would go, counted the way the prune itself counts it, before asking.
    const auto plan = maintenance::pruneEvents(conn, cutoff, true);
    const auto dropped = plan.partitionsDropped();
    if (!confirm(fmt::format("Prune {}: drop {} partition{} and delete {} events and {} rollup "
                             "rows?",
                             what, dropped, dropped == 1 ? "" : "s", plan.eventsRemoved(),
                             plan.rollupRowsDeleted()))) {
      std::cerr << "mpctl: nothing pruned\n";
      return exit_code::kFailure;
    }
  }
  const auto report = maintenance::pruneEvents(conn, cutoff, opts.dryRun);

  std::vector<std::vector<nlohmann::json>> rows;
  rows.reserve(report.steps.size());
  for (const auto& step : report.steps)
    rows.push_back({step.table, actionName(step.kind), step.rows});
  if (opts.format != Format::kTable || !rows.empty()) {
    printRows(std::cout, opts.format, {{"table", "TABLE"}, {"action", "ACTION"}, {"rows", "ROWS"}},
              rows);
  }
  if (opts.format == Format::kTable) {
    const auto dropped = report.partitionsDropped();
    if (opts.dryRun) {
      std::cout << fmt::format(
          "dry run, nothing changed: pruning {} would drop {} partition{} and delete {} events "
          "and {} rollup rows\n",
          what, dropped, dropped == 1 ? "" : "s", report.eventsRemoved(),
          report.rollupRowsDeleted());
    } else {
      std::cout << fmt::format(
          "pruned {}: {} partition{} dropped, {} events and {} rollup rows deleted\n", what,
          dropped, dropped == 1 ? "" : "s", report.eventsRemoved(), report.rollupRowsDeleted());
    }
  }
  return exit_code::kOk;
}

}  // namespace

void registerRetentionCommands(CLI::App& app, Context& ctx) {
  auto* retention = app.add_subcommand("retention", "Prune raw events past the retention");
  retention->require_subcommand(1);

  auto opts = std::make_shared<PruneOptions>();
  auto* prune = retention->add_subcommand(
      "prune",
      "Drop the monthly event partitions and delete the events (and their rollups) older than "
      "the retention; concurrent runs take turns");
  prune
      ->add_option("--older-than", opts->olderThan,
                   "Days of events to keep before today (default: retention.days)")
      ->check(CLI::Range(1, 36500));
  prune->add_flag("--dry-run", opts->dryRun, "Report what would go; change nothing");
  prune->add_flag("-y,--yes", opts->yes,
                  "Do not ask for confirmation (required when stdin is not a terminal)");
  addFormatOption(*prune, opts->format);
  prune->callback([&ctx, opts] { ctx.action = [&ctx, opts] { return runPrune(ctx, *opts); }; });
}

}  // namespace mp::cli
