// mpctl aggregate: fold raw events of a date range into the rollups (also run by the systemd
// timer).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "aggregation/aggregator.hpp"
#include "context.hpp"
#include "maintenance/jobs.hpp"
#include "sites/sites.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"

namespace mp::cli {
namespace {

struct RunOptions {
  std::string from;
  std::string to;
  std::string website;
  bool recent = false;
};

std::chrono::sys_days dateOption(const std::string& option, const std::string& text) {
  auto day = util::parseDate(text);
  if (!day) throw InvalidInput(option, option + ": not a date (YYYY-MM-DD): " + text);
  return *day;
}

void printSummary(const aggregation::FoldResult& result,
                  std::chrono::steady_clock::time_point started) {
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::cout << fmt::format("folded {} day{}, {} events in {:.1f} s\n", result.days,
                           result.days == 1 ? "" : "s", result.events, took.count());
}

// The daemon's own fold (the days that are not final yet), for installations that run it from
// the timer instead; waits its turn behind a run in progress.
int runRecent(Context& ctx) {
  auto conn = ctx.connect();
  const auto started = std::chrono::steady_clock::now();
  const auto result = maintenance::foldRecent(conn, maintenance::LockWait::kWait);
  printSummary(result.value_or(aggregation::FoldResult{}), started);
  return exit_code::kOk;
}

int runAggregate(Context& ctx, const RunOptions& opts) {
  if (opts.recent) return runRecent(ctx);
  const auto today = util::todayUtc();
  // Default: yesterday and today, the days whose browser events may still arrive (--recent
  // folds every day that is not final instead).
  auto from = today - std::chrono::days{1};
  auto to = today;
  if (!opts.from.empty()) from = dateOption("--from", opts.from);
  if (!opts.to.empty()) to = dateOption("--to", opts.to);
  if (opts.from.empty() != opts.to.empty()) {
    // One bound alone: a single day, or from that day through today.
    if (opts.to.empty()) to = std::max(from, today);
    if (opts.from.empty()) from = to;
  }
  if (from > to) {
    throw InvalidInput(
        "--from", "--from " + util::formatDate(from) + " is after --to " + util::formatDate(to));
  }

  auto conn = ctx.connect();
  std::optional<std::string> website;
  if (!opts.website.empty()) {
    if (!sites::findById(conn, opts.website)) throw NotFound("no website with id " + opts.website);
    website = opts.website;
  }

  const bool terminal = isatty(STDOUT_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  const auto result = aggregation::foldRange(
      conn, from, to, website, [terminal](std::chrono::sys_days day, std::int64_t events) {
        if (terminal) {
          std::cout << "folded " << util::formatDate(day) << " (" << events << " events)"
                    << std::endl;
        }
      });
  printSummary(result, started);
  return exit_code::kOk;
}

// The daemon's visits job, until every goal and funnel has its rows: for installations that
// leave the schedule to the timer, and after adding goals or funnels to a website with history.
int runRefresh(Context& ctx) {
  auto conn = ctx.connect();
  const auto started = std::chrono::steady_clock::now();
  aggregation::RefreshResult total;
  for (;;) {
    const auto done = aggregation::tryRefreshVisits(conn, true);
    if (!done) break;
    total.days += done->days;
    total.conversionDays += done->conversionDays;
    if (done->conversionDays < aggregation::kConversionBackfillDays) break;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::cout << fmt::format(
      "refreshed the visits of {} day{}, goal, funnel and page rows of {} day{} in {:.1f} s\n",
      total.days, total.days == 1 ? "" : "s", total.conversionDays,
      total.conversionDays == 1 ? "" : "s", took.count());
  return exit_code::kOk;
}

}  // namespace

void registerAggregateCommands(CLI::App& app, Context& ctx) {
  auto* aggregate = app.add_subcommand("aggregate", "Fold raw events into the stats rollups");
  aggregate->require_subcommand(1);

  auto opts = std::make_shared<RunOptions>();
  auto* run = aggregate->add_subcommand(
      "run",
      "Fold the UTC days from --from to --to (default: yesterday and today); idempotent, and "
      "concurrent runs take turns");
  auto* from = run->add_option("--from", opts->from, "First day, YYYY-MM-DD (UTC)");
  auto* to = run->add_option("--to", opts->to, "Last day, YYYY-MM-DD (UTC), inclusive");
  auto* website = run->add_option("--website", opts->website, "Only this website (id)");
  run->add_flag("--recent", opts->recent,
                "Fold every day that is not final yet, as the daemon's schedule does (the "
                "systemd timer's run)")
      ->excludes(from)
      ->excludes(to)
      ->excludes(website);
  run->callback([&ctx, opts] { ctx.action = [&ctx, opts] { return runAggregate(ctx, *opts); }; });

  auto* refresh = aggregate->add_subcommand(
      "refresh",
      "Store the visits that events written since the last fold changed, and give goals, "
      "funnels and page breakdowns the rows of days folded before they existed, as the "
      "daemon's visits job does every minute");
  refresh->callback([&ctx] { ctx.action = [&ctx] { return runRefresh(ctx); }; });
}

}  // namespace mp::cli
