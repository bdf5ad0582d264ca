// mpctl stats: the answers of GET /stats/... from the same core/stats functions, uncached, as a
// table, CSV or the API's JSON.
#include "stats/stats.hpp"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "context.hpp"
#include "output.hpp"
#include "redis/client.hpp"
#include "redis/url.hpp"
#include "sites/sites.hpp"
#include "stats/params.hpp"
#include "util/error.hpp"
#include "util/exit_codes.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::cli {
namespace {

using json = nlohmann::json;

struct StatsOptions {
  std::string website;
  std::string from;
  std::string to;
  std::string limit;
  std::string dimension;
  std::string interval;
  Format format = Format::kTable;
};

std::optional<std::string> given(const std::string& option) {
  if (option.empty()) return std::nullopt;
  return option;
}

// The website's id, from its id or its domain; throws NotFound.
std::string resolveWebsite(db::Connection& conn, const std::string& website) {
  if (util::isUuid(website)) {
    if (auto site = sites::findById(conn, website)) return site->id;
  } else {
    std::string domain;
    try {
      domain = sites::normalizeDomain(website);
    } catch (const InvalidInput&) {
      throw NotFound("no website with id or domain " + website);
    }
    auto r = conn.execArgs("SELECT id::text FROM websites WHERE domain = $1", domain);
    if (r.rows() == 1) return std::string(r.get(0, 0));
  }
  throw NotFound("no website with id or domain " + website);
}

stats::DateRange range(const StatsOptions& opts) {
  return stats::parseRange(given(opts.from), given(opts.to), util::todayUtc());
}

// A table shows an empty value (a direct visit's referrer, an unknown country) as "(none)"; CSV
// and JSON keep it as the API does, "".
json valueCell(const json& value, Format format) {
  if (format == Format::kTable && value.is_string() && value.get<std::string>().empty()) {
    return "(none)";
  }
  return value;
}

// Prints `answer`: JSON as the HTTP API answers it, else rows[] of the given key's objects.
void printList(const json& answer, const char* listKey, const char* valueKey,
               const char* valueHeader, Format format) {
  if (format == Format::kJson) {
    std::cout << answer.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return;
  }
  std::vector<std::vector<json>> rows;
  for (const auto& item : answer.at(listKey)) {
    rows.push_back({valueCell(item.at(valueKey), format), item.at("views"), item.at("visitors")});
  }
  printRows(std::cout, format,
            {{valueKey, valueHeader}, {"views", "VIEWS"}, {"visitors", "VISITORS"}}, rows);
}

int runOverview(Context& ctx, const StatsOptions& opts) {
  auto conn = ctx.connect();
  const std::string id = resolveWebsite(conn, opts.website);
  const json answer = stats::overview(conn, id, util::nowMillis());
  if (opts.format == Format::kJson) {
    std::cout << answer.dump(2) << "\n";
    return exit_code::kOk;
  }
  printRows(std::cout, opts.format,
            {{"period", "PERIOD"}, {"views", "VIEWS"}, {"visitors", "VISITORS"}},
            {{"all-time", answer["totalViews"], answer["uniqueVisitors"]},
             {"today", answer["today"]["views"], answer["today"]["visitors"]},
             {"last-7-days", answer["last7Days"]["views"], answer["last7Days"]["visitors"]}});
  return exit_code::kOk;
}

int runTopPages(Context& ctx, const StatsOptions& opts) {
  const auto dates = range(opts);
  const int limit = stats::parseLimit(given(opts.limit));
  auto conn = ctx.connect();
  const std::string id = resolveWebsite(conn, opts.website);
  printList(stats::topPages(conn, id, dates, limit), "pages", "page", "PAGE", opts.format);
  return exit_code::kOk;
}

int runTimeseries(Context& ctx, const StatsOptions& opts) {
  const auto dates = range(opts);
  const auto interval = stats::parseInterval(given(opts.interval));
  stats::checkInterval(dates, interval);
  auto conn = ctx.connect();
  const std::string id = resolveWebsite(conn, opts.website);
  printList(stats::timeseries(conn, id, dates, interval), "points", "t", "TIME", opts.format);
  return exit_code::kOk;
}

int runBreakdown(Context& ctx, const StatsOptions& opts) {
  const auto dates = range(opts);
  const auto dimension = stats::parseDimension(given(opts.dimension));
  const int limit = stats::parseLimit(given(opts.limit));
  auto conn = ctx.connect();
  const std::string id = resolveWebsite(conn, opts.website);
  printList(stats::breakdown(conn, id, dates, dimension, limit), "rows", "value", "VALUE",
            opts.format);
  return exit_code::kOk;
}

int runRealtime(Context& ctx, const StatsOptions& opts) {
  std::string id;
  {
    auto conn = ctx.connect();
    id = resolveWebsite(conn, opts.website);
  }
  const auto& cfg = ctx.config().redis;
  redis::Client client(redis::Url::parse(cfg.url), cfg.timeout);
  const json answer = stats::realtime(client, id, util::nowMillis());
  if (opts.format == Format::kJson) {
    std::cout << answer.dump(2) << "\n";
    return exit_code::kOk;
  }
  printRows(std::cout, opts.format,
            {{"activeSessions", "SESSIONS"}, {"windowSeconds", "WINDOW"}, {"asOf", "TIME"}},
            {{answer["activeSessions"], answer["windowSeconds"], answer["asOf"]}});
  return exit_code::kOk;
}

// Adds a subcommand taking WEBSITE and --format, whose action runs `run`.
CLI::App* addStatsCommand(CLI::App& stats, Context& ctx, const std::string& name,
                          const std::string& help, const std::shared_ptr<StatsOptions>& opts,
                          int (*run)(Context&, const StatsOptions&)) {
  auto* cmd = stats.add_subcommand(name, help);
  cmd->add_option("WEBSITE", opts->website, "The website: its id or its domain")->required();
  addFormatOption(*cmd, opts->format);
  cmd->callback([&ctx, opts, run] { ctx.action = [&ctx, opts, run] { return run(ctx, *opts); }; });
  return cmd;
}

void addRangeOptions(CLI::App& cmd, StatsOptions& opts) {
  cmd.add_option("--from", opts.from, "First UTC day, YYYY-MM-DD (default: six days before --to)");
  cmd.add_option("--to", opts.to, "Last UTC day, YYYY-MM-DD, inclusive (default: today)");
}

void addLimitOption(CLI::App& cmd, StatsOptions& opts) {
  cmd.add_option("--limit", opts.limit, "Rows to show, 1 to 100 (default 10)");
}

}  // namespace

void registerStatsCommands(CLI::App& app, Context& ctx) {
  auto* stats = app.add_subcommand(
      "stats", "Show a website's stats, as GET /stats/... answers them (uncached)");
  stats->require_subcommand(1);

  auto overview = std::make_shared<StatsOptions>();
  addStatsCommand(*stats, ctx, "overview", "All-time totals, today and the last 7 days", overview,
                  runOverview);

  auto top = std::make_shared<StatsOptions>();
  auto* topCmd = addStatsCommand(*stats, ctx, "top-pages", "Most viewed pages of a date range", top,
                                 runTopPages);
  addRangeOptions(*topCmd, *top);
  addLimitOption(*topCmd, *top);

  auto realtime = std::make_shared<StatsOptions>();
  addStatsCommand(*stats, ctx, "realtime", "Sessions active in the last 5 minutes (from Redis)",
                  realtime, runRealtime);

  auto series = std::make_shared<StatsOptions>();
  auto* seriesCmd =
      addStatsCommand(*stats, ctx, "timeseries",
                      "Views and visitors per day or hour of a date range", series, runTimeseries);
  addRangeOptions(*seriesCmd, *series);
  seriesCmd->add_option("--interval", series->interval, "day (default) or hour (at most 31 days)");

  auto breakdown = std::make_shared<StatsOptions>();
  auto* breakdownCmd = addStatsCommand(*stats, ctx, "breakdown",
                                       "Views and visitors by page, referrer, browser, os, device, "
                                       "country or eventType",
                                       breakdown, runBreakdown);
  addRangeOptions(*breakdownCmd, *breakdown);
  breakdownCmd->add_option("--dimension", breakdown->dimension,
                           "page, referrer, browser, os, device, country or eventType (required)");
  addLimitOption(*breakdownCmd, *breakdown);
}

}  // namespace mp::cli
