// mpctl stats: the answers of GET /stats/... from the same core/stats functions, uncached, as a
// table, CSV or the API's JSON.
#include "stats/stats.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "context.hpp"
#include "goals/goals.hpp"
#include "output.hpp"
#include "redis/client.hpp"
#include "redis/sentinel.hpp"
#include "redis/url.hpp"
#include "sites/sites.hpp"
#include "stats/conversions.hpp"
#include "stats/params.hpp"
#include "stats/query_params.hpp"
#include "stats/v2.hpp"
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
  std::string filters;                    // JSON, as the REST parameter
  std::vector<std::string> filterEquals;  // DIMENSION=VALUE, each an `is` filter
  std::string compare;
  std::string funnel;  // a funnel's id
  Format format = Format::kTable;
};

std::optional<std::string> given(const std::string& option) {
  if (option.empty()) return std::nullopt;
  return option;
}

// What every report is asked: the website with its zone, the range in that zone, the filters
// (--filters JSON, then each --filter DIMENSION=VALUE as `is`) and the comparison.
stats::Scope scopeOf(db::Connection& conn, const StatsOptions& opts) {
  auto filters = stats::parseFilters(given(opts.filters));
  for (const auto& equals : opts.filterEquals) {
    const auto eq = equals.find('=');
    if (eq == std::string::npos) {
      throw InvalidInput("filter",
                         "--filter takes DIMENSION=VALUE, e.g. country=DE, not " + equals);
    }
    const json one = json::array(
        {json::array({"is", equals.substr(0, eq), json::array({equals.substr(eq + 1)})})});
    for (auto& f : stats::filtersFromJson(one, "filter")) filters.push_back(std::move(f));
  }
  const auto compare = stats::parseCompare(given(opts.compare));
  stats::checkDates(given(opts.from), given(opts.to));
  const sites::Website site = resolveWebsite(conn, opts.website);
  stats::Scope scope;
  scope.websiteId = site.id;
  scope.timeZone = site.timeZone;
  scope.range = stats::parseRange(given(opts.from), given(opts.to),
                                  stats::todayIn(conn, site.timeZone, util::nowMillis()));
  scope.filters = std::move(filters);
  scope.compare = compare;
  return scope;
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
    rows.push_back({valueCell(item.at(valueKey), format), item.at("views"), item.at("visitors"),
                    item.at("visits"), item.at("bounceRate"), item.at("visitDuration")});
  }
  printRows(std::cout, format,
            {{valueKey, valueHeader},
             {"views", "VIEWS"},
             {"visitors", "VISITORS"},
             {"visits", "VISITS"},
             {"bounceRate", "BOUNCE%"},
             {"visitDuration", "DURATION(S)"}},
            rows);
}

int runOverview(Context& ctx, const StatsOptions& opts) {
  auto conn = ctx.connect();
  const json answer = stats::overview(conn, scopeOf(conn, opts), util::nowMillis());
  if (opts.format == Format::kJson) {
    std::cout << answer.dump(2) << "\n";
    return exit_code::kOk;
  }
  std::vector<std::vector<json>> rows;
  const auto row = [&rows](const char* period, const json& b) {
    rows.push_back({period, b["views"], b["visitors"], b["visits"], b["bounceRate"],
                    b["visitDuration"], b["viewsPerVisit"]});
  };
  row("all-time", answer["total"]);
  row("today", answer["today"]);
  row("last-7-days", answer["last7Days"]);
  row("range", answer["range"]);
  if (answer.contains("comparison")) row("comparison", answer["comparison"]);
  printRows(std::cout, opts.format,
            {{"period", "PERIOD"},
             {"views", "VIEWS"},
             {"visitors", "VISITORS"},
             {"visits", "VISITS"},
             {"bounceRate", "BOUNCE%"},
             {"visitDuration", "DURATION(S)"},
             {"viewsPerVisit", "VIEWS/VISIT"}},
            rows);
  return exit_code::kOk;
}

int runTopPages(Context& ctx, const StatsOptions& opts) {
  const int limit = stats::parseLimit(given(opts.limit));
  auto conn = ctx.connect();
  printList(stats::topPages(conn, scopeOf(conn, opts), limit), "pages", "page", "PAGE",
            opts.format);
  return exit_code::kOk;
}

int runTimeseries(Context& ctx, const StatsOptions& opts) {
  const auto interval = stats::parseInterval(given(opts.interval));
  auto conn = ctx.connect();
  printList(stats::timeseries(conn, scopeOf(conn, opts), interval), "points", "t", "TIME",
            opts.format);
  return exit_code::kOk;
}

int runBreakdown(Context& ctx, const StatsOptions& opts) {
  const auto dimension = stats::parseBreakdownDimension(given(opts.dimension));
  const int limit = stats::parseLimit(given(opts.limit));
  auto conn = ctx.connect();
  printList(stats::breakdown(conn, scopeOf(conn, opts), dimension, limit), "rows", "value", "VALUE",
            opts.format);
  return exit_code::kOk;
}

// A breakdown by a fixed dimension: sources, entry pages, exit pages.
template <const char* kDimension>
int runFixedBreakdown(Context& ctx, const StatsOptions& opts) {
  const int limit = stats::parseLimit(given(opts.limit));
  auto conn = ctx.connect();
  printList(stats::breakdown(conn, scopeOf(conn, opts), *stats::dimensionNamed(kDimension), limit),
            "rows", "value", "VALUE", opts.format);
  return exit_code::kOk;
}
constexpr char kSource[] = "source";
constexpr char kEntryPage[] = "entry_page";
constexpr char kExitPage[] = "exit_page";

int runGoals(Context& ctx, const StatsOptions& opts) {
  auto conn = ctx.connect();
  const stats::Scope scope = scopeOf(conn, opts);
  const json answer = stats::goalsReport(conn, scope, goals::listGoals(conn, scope.websiteId));
  if (opts.format == Format::kJson) {
    std::cout << answer.dump(2) << "\n";
    return exit_code::kOk;
  }
  std::vector<std::vector<json>> rows;
  for (const auto& g : answer["goals"]) {
    rows.push_back({g["name"], g["type"], g["visitors"], g["events"], g["conversionRate"]});
  }
  printRows(std::cout, opts.format,
            {{"name", "GOAL"},
             {"type", "TYPE"},
             {"visitors", "CONVERSIONS"},
             {"events", "EVENTS"},
             {"conversionRate", "RATE%"}},
            rows);
  return exit_code::kOk;
}

int runFunnel(Context& ctx, const StatsOptions& opts) {
  auto conn = ctx.connect();
  const stats::Scope scope = scopeOf(conn, opts);
  const auto funnel = goals::findFunnel(conn, scope.websiteId, opts.funnel);
  if (!funnel) throw NotFound("the website has no funnel " + opts.funnel);
  const json answer = stats::funnelReport(conn, scope, *funnel);
  if (opts.format == Format::kJson) {
    std::cout << answer.dump(2) << "\n";
    return exit_code::kOk;
  }
  std::vector<std::vector<json>> rows;
  int step = 0;
  for (const auto& s : answer["steps"]) {
    rows.push_back({++step, s["name"], s["visitors"], s["dropoff"], s["conversionRate"],
                    s["conversionRateStep"]});
  }
  printRows(std::cout, opts.format,
            {{"step", "STEP"},
             {"name", "GOAL"},
             {"visitors", "VISITORS"},
             {"dropoff", "DROPOFF"},
             {"conversionRate", "FROM_FIRST%"},
             {"conversionRateStep", "FROM_PREVIOUS%"}},
            rows);
  return exit_code::kOk;
}

int runRealtime(Context& ctx, const StatsOptions& opts) {
  std::string id;
  {
    auto conn = ctx.connect();
    id = resolveWebsite(conn, opts.website).id;
  }
  const auto& cfg = ctx.config().redis;
  redis::Client client(redis::configuredUrl(cfg), cfg.timeout);
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

struct QueryOptions {
  std::string file;
  Format format = Format::kJson;
};

// The query of FILE ("-": stdin) as JSON; throws InvalidInput when it cannot be read or parsed.
json readQueryFile(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      throw InvalidInput("FILE", "cannot read " + file + ": " + std::strerror(errno));
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto body = json::parse(text, nullptr, false);
  if (body.is_discarded()) {
    throw InvalidInput("FILE", (file == "-" ? std::string("stdin") : file) +
                                   " is not JSON: a Stats API v2 query such as {\"site_id\": "
                                   "\"example.com\", \"metrics\": [\"visitors\"], "
                                   "\"date_range\": \"7d\"}");
  }
  return body;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

int runQuery(Context& ctx, const QueryOptions& opts) {
  const auto request = stats::v2::parseRequest(readQueryFile(opts.file));
  auto conn = ctx.connect();
  const sites::Website website = resolveWebsite(conn, request.siteId);
  const stats::v2::Site site{website.id, website.domain, website.timeZone};
  const auto range = stats::v2::resolveRange(
      request.dateRange, stats::todayIn(conn, site.timeZone, util::nowMillis()),
      [&conn, &site] { return stats::v2::startDay(conn, site); });
  const auto answer = stats::v2::answer(conn, request, site, range);
  if (opts.format == Format::kJson) {
    std::cout << answer.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << "\n";
    return exit_code::kOk;
  }
  // One column per dimension, then one per metric, named as the query names them.
  std::vector<Column> columns;
  for (const auto& d : answer["query"]["dimensions"]) {
    columns.push_back({d.get<std::string>(), upper(d.get<std::string>())});
  }
  for (const auto& m : answer["query"]["metrics"]) {
    columns.push_back({m.get<std::string>(), upper(m.get<std::string>())});
  }
  std::vector<std::vector<json>> rows;
  for (const auto& result : answer["results"]) {
    std::vector<json> row;
    for (const auto& d : result["dimensions"]) {
      row.push_back(valueCell(json::parse(d.dump()), opts.format));
    }
    for (const auto& m : result["metrics"]) row.push_back(json::parse(m.dump()));
    rows.push_back(std::move(row));
  }
  printRows(std::cout, opts.format, columns, rows);
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
  cmd.add_option("--from", opts.from,
                 "First day in the website's time zone, YYYY-MM-DD (default: six days before "
                 "--to)");
  cmd.add_option("--to", opts.to,
                 "Last day in the website's time zone, YYYY-MM-DD, inclusive (default: today)");
  cmd.add_option("--filters", opts.filters,
                 "Filters as JSON, as the API takes them: [[\"is\",\"country\",[\"DE\"]]]");
  cmd.add_option("--filter", opts.filterEquals,
                 "DIMENSION=VALUE: only what has that value (repeatable; all must hold)");
  cmd.add_option("--compare", opts.compare, "previous_period or year_over_year");
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
  auto* overviewCmd = addStatsCommand(*stats, ctx, "overview",
                                      "All-time totals, today, the last 7 days and a date range",
                                      overview, runOverview);
  addRangeOptions(*overviewCmd, *overview);

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
  auto* breakdownCmd =
      addStatsCommand(*stats, ctx, "breakdown", "Views, visitors and visits by one dimension",
                      breakdown, runBreakdown);
  addRangeOptions(*breakdownCmd, *breakdown);
  breakdownCmd->add_option("--dimension", breakdown->dimension,
                           "page, entry_page, exit_page, source, channel, referrer, utm_*, "
                           "country, browser, os, device, hostname, eventType or prop:KEY "
                           "(required)");
  addLimitOption(*breakdownCmd, *breakdown);

  const auto fixed = [&](const char* name, const char* help,
                         int (*run)(Context&, const StatsOptions&)) {
    auto opts = std::make_shared<StatsOptions>();
    auto* cmd = addStatsCommand(*stats, ctx, name, help, opts, run);
    addRangeOptions(*cmd, *opts);
    addLimitOption(*cmd, *opts);
  };
  fixed("sources", "Visits by source (referrer names and utm_source)", runFixedBreakdown<kSource>);
  fixed("entry-pages", "Visits by the page they began on", runFixedBreakdown<kEntryPage>);
  fixed("exit-pages", "Visits by the page they ended on", runFixedBreakdown<kExitPage>);

  auto goalsOpts = std::make_shared<StatsOptions>();
  auto* goalsCmd = addStatsCommand(*stats, ctx, "goals", "Conversions of each goal and their rate",
                                   goalsOpts, runGoals);
  addRangeOptions(*goalsCmd, *goalsOpts);

  auto funnelOpts = std::make_shared<StatsOptions>();
  auto* funnelCmd =
      addStatsCommand(*stats, ctx, "funnel", "Visitors reaching each step of a funnel, in order",
                      funnelOpts, runFunnel);
  funnelCmd->add_option("FUNNEL", funnelOpts->funnel, "The funnel's id")->required();
  addRangeOptions(*funnelCmd, *funnelOpts);

  auto query = std::make_shared<QueryOptions>();
  auto* queryCmd = stats->add_subcommand(
      "query", "Answer a Stats API v2 query (the body of POST /api/v2/query) from FILE");
  queryCmd->add_option("FILE", query->file, "The query as JSON; - reads it from stdin")->required();
  static const std::map<std::string, Format> kFormats = {
      {"table", Format::kTable}, {"json", Format::kJson}, {"csv", Format::kCsv}};
  queryCmd
      ->add_option("--format", query->format,
                   "Output format: json (the API's answer), table or csv (dimensions, then "
                   "metrics)")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case))
      ->default_str("json");
  queryCmd->callback(
      [&ctx, query] { ctx.action = [&ctx, query] { return runQuery(ctx, *query); }; });
}

}  // namespace mp::cli
