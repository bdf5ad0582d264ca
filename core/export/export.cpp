// Each aggregate file is a series of engine questions over at most a week each (the answer of
// one is held at a time), ordered by day; the raw file is one COPY streamed through.
#include "export/export.hpp"

#include <climits>
#include <functional>

#include "db/copy.hpp"
#include "stats/engine.hpp"
#include "stats/query.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::exporting {
namespace {

using stats::Metric;
using stats::Totals;
using std::chrono::days;

// Days one engine question covers: the rows of one answer are held at a time, so an export's
// memory depends on this, not on its range.
constexpr int kChunkDays = 7;

// What a file's rows hold beyond their dimension values.
enum class Numbers {
  kVisitors,  // visitors, pageviews, bounces, visits, visit_duration
  kSession,   // visitors, visits, visit_duration, bounces, pageviews
  kSources,   // pageviews, visitors, visits, visit_duration, bounces
  kPages,     // visits, visitors, pageviews
  kEntry,     // visitors, entrances, visit_duration, bounces, pageviews
  kExit,      // visitors, visit_duration, exits, bounces, pageviews
  kEvents,    // visitors, events
};

struct Table {
  const char* name;
  std::vector<const char*> dimensions;  // ours, after time:day
  std::vector<const char*> header;      // the CSV's, after date
  Numbers numbers;
  // Extra columns written after the dimensions' values (before the numbers), e.g. hostname.
  std::function<std::vector<std::string>(const sites::Website&, const stats::Row&)> extra = {};
};

std::string seconds(std::int64_t ms) {
  return std::to_string((ms + 500) / 1000);
}

std::vector<std::string> numbers(Numbers kind, const Totals& t) {
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  switch (kind) {
    case Numbers::kVisitors:
      return {n(t.visitors), n(t.pageviews), n(t.bounces), n(t.visits), seconds(t.durationMs)};
    case Numbers::kSession:
      return {n(t.visitors), n(t.visits), seconds(t.durationMs), n(t.bounces), n(t.pageviews)};
    case Numbers::kSources:
      return {n(t.pageviews), n(t.visitors), n(t.visits), seconds(t.durationMs), n(t.bounces)};
    case Numbers::kPages:
      return {n(t.visits), n(t.visitors), n(t.pageviews)};
    case Numbers::kEntry:
      return {n(t.visitors), n(t.visits), seconds(t.durationMs), n(t.bounces), n(t.pageviews)};
    case Numbers::kExit:
      return {n(t.visitors), seconds(t.durationMs), n(t.visits), n(t.bounces), n(t.pageviews)};
    case Numbers::kEvents:
      return {n(t.visitors), n(t.events)};
  }
  return {};
}

const std::vector<Table>& tables() {
  static const std::vector<Table> kTables = {
      {"imported_visitors",
       {},
       {"visitors", "pageviews", "bounces", "visits", "visit_duration"},
       Numbers::kVisitors},
      {"imported_sources",
       {"source", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_content",
        "utm_term"},
       {"source", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
        "pageviews", "visitors", "visits", "visit_duration", "bounces"},
       Numbers::kSources},
      {"imported_pages",
       {"page"},
       {"hostname", "page", "visits", "visitors", "pageviews"},
       Numbers::kPages,
       [](const sites::Website& w, const stats::Row&) {
         return std::vector<std::string>{w.domain};
       }},
      {"imported_entry_pages",
       {"entry_page"},
       {"entry_page", "visitors", "entrances", "visit_duration", "bounces", "pageviews"},
       Numbers::kEntry},
      {"imported_exit_pages",
       {"exit_page"},
       {"exit_page", "visitors", "visit_duration", "exits", "bounces", "pageviews"},
       Numbers::kExit},
      {"imported_custom_events",
       {"event_type"},
       {"name", "link_url", "path", "visitors", "events"},
       Numbers::kEvents,
       [](const sites::Website&, const stats::Row&) {
         return std::vector<std::string>{"", ""};
       }},
      {"imported_locations",
       {"country"},
       {"country", "region", "city", "visitors", "visits", "visit_duration", "bounces",
        "pageviews"},
       Numbers::kSession,
       [](const sites::Website&, const stats::Row&) {
         return std::vector<std::string>{"", "0"};
       }},
      {"imported_devices",
       {"device"},
       {"device", "visitors", "visits", "visit_duration", "bounces", "pageviews"},
       Numbers::kSession},
      {"imported_browsers",
       {"browser"},
       {"browser", "browser_version", "visitors", "visits", "visit_duration", "bounces",
        "pageviews"},
       Numbers::kSession,
       [](const sites::Website&, const stats::Row&) { return std::vector<std::string>{""}; }},
      {"imported_operating_systems",
       {"os"},
       {"operating_system", "operating_system_version", "visitors", "visits", "visit_duration",
        "bounces", "pageviews"},
       Numbers::kSession,
       [](const sites::Website&, const stats::Row&) { return std::vector<std::string>{""}; }},
  };
  return kTables;
}

std::string compactDate(std::chrono::sys_days d) {
  std::string s = util::formatDate(d);
  std::erase(s, '-');
  return s;
}

}  // namespace

std::string csvField(std::string_view value) {
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string archiveName(const std::string& domain, std::chrono::sys_days createdOn) {
  std::string name = domain;
  for (char& c : name) {
    if (c == '.') c = '_';
  }
  return name + "_" + compactDate(createdOn) + ".zip";
}

ExportSummary writeExport(db::Connection& conn, const sites::Website& website,
                          const ExportOptions& options, ZipWriter& zip) {
  const auto& range = options.range;
  if (range.to < range.from) throw InvalidInput("to", "is before from");
  if (range.days() > kMaxExportDays) {
    throw InvalidInput("to",
                       "the range is longer than " + std::to_string(kMaxExportDays) + " days");
  }
  ExportSummary summary;
  const std::string suffix = "_" + compactDate(range.from) + "_" + compactDate(range.to) + ".csv";
  const auto day = *stats::dimensionNamed("time:day");
  for (const auto& table : tables()) {
    const std::string file = table.name + suffix;
    zip.begin(file);
    summary.files.push_back(file);
    std::string header = "date";
    for (const auto* h : table.header) header += std::string(",") + h;
    zip.write(header + "\n");
    stats::Query q;
    q.websiteId = website.id;
    q.timeZone = website.timeZone;
    q.metrics = {Metric::kVisitors, Metric::kVisits,     Metric::kPageviews,
                 Metric::kEvents,   Metric::kBounceRate, Metric::kVisitDuration};
    q.dimensions = {day};
    for (const auto* d : table.dimensions) q.dimensions.push_back(*stats::dimensionNamed(d));
    q.orderBy = {stats::Order{std::nullopt, day, false},
                 stats::Order{Metric::kVisitors, std::nullopt, true}};
    for (std::size_t i = 1; i < q.dimensions.size(); ++i) {
      q.orderBy.push_back(stats::Order{std::nullopt, q.dimensions[i], false});
    }
    q.limit = INT_MAX;
    q.keepMissing = true;
    for (auto from = range.from; from <= range.to; from += days{kChunkDays}) {
      q.range = {from, std::min(range.to, from + days{kChunkDays - 1})};
      std::string chunk;
      for (const auto& row : stats::run(conn, q).rows) {
        if (table.numbers == Numbers::kEvents && row.dimensions.at(1) == "pageview") continue;
        if (table.numbers != Numbers::kEvents && table.numbers != Numbers::kPages &&
            row.totals.visits == 0 && row.totals.pageviews == 0) {
          continue;  // a day without visits
        }
        chunk += row.dimensions.at(0);
        const auto extra = table.extra ? table.extra(website, row) : std::vector<std::string>{};
        std::size_t e = 0;
        // imported_pages: hostname comes before the page.
        if (table.numbers == Numbers::kPages) {
          for (; e < extra.size(); ++e) chunk += "," + csvField(extra[e]);
        }
        for (std::size_t i = 1; i < row.dimensions.size(); ++i)
          chunk += "," + csvField(row.dimensions[i]);
        for (; e < extra.size(); ++e) chunk += "," + csvField(extra[e]);
        for (const auto& n : numbers(table.numbers, row.totals)) chunk += "," + n;
        chunk += "\n";
        ++summary.rows;
        if (chunk.size() >= 64 * 1024) {
          zip.write(chunk);
          chunk.clear();
        }
      }
      zip.write(chunk);
    }
  }
  if (options.raw) {
    const std::string file = "events" + suffix;
    zip.begin(file);
    summary.files.push_back(file);
    const std::string zone = db::quoteLiteral(conn, website.timeZone);
    const std::string sql =
        "COPY (SELECT ts, id, event_type, page, url, hostname, referrer, referrer_host, "
        "session_id, visitor_id, user_agent, browser, os, device, country, ip, props, source, "
        "channel, utm_source, utm_medium, utm_campaign, utm_term, utm_content, interactive "
        "FROM events WHERE website_id = " +
        db::quoteLiteral(conn, website.id) + "::uuid AND ts >= (" +
        db::quoteLiteral(conn, util::formatDate(range.from)) + "::date)::timestamp AT TIME ZONE " +
        zone + " AND ts < (" + db::quoteLiteral(conn, util::formatDate(range.to)) +
        "::date + 1)::timestamp AT TIME ZONE " + zone +
        " ORDER BY ts, id) TO STDOUT WITH (FORMAT csv, HEADER)";
    // COPY hands over a row at a time: deflate them in pieces of 256 KiB.
    std::string buffer;
    buffer.reserve(256 * 1024 + 4096);
    summary.rawEvents = db::copyOut(conn, sql, [&](std::string_view row) {
      buffer += row;
      if (buffer.size() >= 256 * 1024) {
        zip.write(buffer);
        buffer.clear();
      }
    });
    zip.write(buffer);
  }
  zip.finish();
  return summary;
}

}  // namespace mp::exporting
