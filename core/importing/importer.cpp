// Every import runs in two steps. Checking: each row of each file is parsed and checked, and the
// good ones are staged (a temporary table for aggregates, import_staged_events for events) while
// the problems are collected; any problem ends the run with nothing kept. Importing: the days the
// staged rows fall on are judged (a day held by another import, a day with tracked events, today
// and later are skipped, each with its reason), and the rows of the other days become visible in
// one transaction.
#include "importing/importer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "db/array.hpp"
#include "db/copy.hpp"
#include "importing/detail.hpp"
#include "maintenance/advisory_lock.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "util/url.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::importing {

using std::chrono::sys_days;

InvalidData::InvalidData(std::vector<Problem> problems, std::int64_t total)
    : Error(fmt::format("{} problem{} in the input; nothing was imported", total,
                        total == 1 ? "" : "s")),
      problems_(std::move(problems)),
      total_(total) {}

std::string_view name(Format format) {
  switch (format) {
    case Format::kPlausibleCsv:
      return "plausible-csv";
    case Format::kUmamiCsv:
      return "umami-csv";
    case Format::kGoatCounterCsv:
      return "goatcounter-csv";
  }
  return "";
}

std::optional<Format> formatNamed(std::string_view text) {
  for (auto f : {Format::kPlausibleCsv, Format::kUmamiCsv, Format::kGoatCounterCsv}) {
    if (name(f) == text) return f;
  }
  return std::nullopt;
}

namespace detail {

void Problems::add(const std::string& file, std::int64_t line, std::string message) {
  ++total;
  if (list.size() < kMaxProblems) list.push_back({file, line, std::move(message)});
}

std::string referrerHost(std::string_view text, std::string_view siteDomain) {
  const std::string trimmed = util::trim(text);
  std::string_view value = trimmed;
  if (const auto scheme = value.find("://"); scheme != std::string_view::npos) {
    value.remove_prefix(scheme + 3);
  }
  value = value.substr(0, value.find_first_of("/?#"));
  if (const auto at = value.rfind('@'); at != std::string_view::npos) value.remove_prefix(at + 1);
  if (!value.empty() && value.front() == '[') {
    value = value.substr(0, value.find(']') + 1);  // an IPv6 address, its port cut off
  } else {
    value = value.substr(0, value.find(':'));
  }
  std::string host = util::toLower(std::string(value));
  if (host.rfind("www.", 0) == 0) host.erase(0, 4);
  if (!siteDomain.empty() && util::hostMatchesDomain(host, siteDomain)) return {};
  return host;
}

std::string copyText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

HeaderIndex::HeaderIndex(const std::vector<std::string>& header) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string key = util::toLower(util::trim(header[i]));
    columns.emplace(std::move(key), i);
  }
}

std::optional<std::size_t> HeaderIndex::find(std::string_view column) const {
  const auto it = columns.find(std::string(column));
  if (it == columns.end()) return std::nullopt;
  return it->second;
}

// Judges the days of a staged import: which can be imported, and why the others cannot.
DayVerdicts judgeDays(db::Connection& conn, const sites::Website& website,
                      const std::vector<sys_days>& days, sys_days today,
                      const std::optional<std::string>& ownImportId) {
  DayVerdicts out;
  if (days.empty()) return out;
  std::vector<std::string> text;
  for (auto d : days) text.push_back(util::formatDate(d));
  // A day held by an import (another one, or this one's own days on a resumed run), and a day
  // with tracked events (events not brought in by an import).
  auto rows = conn.execArgs(
      "SELECT d::text, i.file_name, i.id::text,"
      " i.id IS NULL AND EXISTS (SELECT 1 FROM events e WHERE e.website_id = $1::uuid"
      "  AND e.ts >= d::timestamp AT TIME ZONE $3 AND e.ts < (d + 1)::timestamp AT TIME ZONE $3)"
      " FROM unnest($2::date[]) AS d"
      " LEFT JOIN imported_days x ON x.website_id = $1::uuid AND x.date = d"
      " LEFT JOIN imports i ON i.website_id = x.website_id AND i.id = x.import_id",
      website.id, db::arrayLiteral(text), website.timeZone);
  for (int r = 0; r < rows.rows(); ++r) {
    const auto day = util::parseDate(rows.get(r, 0));
    if (!day) continue;
    std::string reason;
    if (!rows.isNull(r, 2) && (!ownImportId || *ownImportId != rows.get(r, 2))) {
      reason = "the day was imported before (from " + std::string(rows.get(r, 1)) + ")";
    } else if (rows.getBool(r, 3)) {
      reason = "the day holds events MetricPulse tracked itself";
    } else if (*day >= today) {
      reason = "today and later days are still being tracked";
    }
    if (reason.empty()) {
      out.kept.insert(*day);
    } else {
      out.skipped.emplace(*day, reason);
    }
  }
  return out;
}

}  // namespace detail

namespace {

using detail::HeaderIndex;
using detail::Problems;

// One staged aggregate: a dimension value of a day and its sums (bounces and duration may be
// unknown).
struct Sums {
  std::int64_t visitors = 0, visits = 0, pageviews = 0, events = 0;
  std::optional<std::int64_t> bounces, durationMs;
};

// A row of a Plausible file, read by column name.
class PlausibleRow {
 public:
  PlausibleRow(const HeaderIndex& header, const std::vector<std::string>& fields)
      : header_(header), fields_(fields) {}

  std::string text(std::string_view column) const {
    const auto i = header_.find(column);
    return i && *i < fields_.size() ? fields_[*i] : std::string();
  }
  bool has(std::string_view column) const { return header_.find(column).has_value(); }

  std::int64_t count(std::string_view column) const {
    const std::string value = util::trim(text(column));
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < 0) {
      throw detail::RowProblem(
          fmt::format("{} \"{}\" is not a whole number of 0 or more", column, value.substr(0, 40)));
    }
    return n;
  }
  // Seconds, whole or not, as milliseconds.
  std::int64_t durationMs(std::string_view column) const {
    const std::string value = util::trim(text(column));
    double s = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || s < 0 ||
        !std::isfinite(s)) {
      throw detail::RowProblem(
          fmt::format("{} \"{}\" is not a number of seconds", column, value.substr(0, 40)));
    }
    return std::llround(s * 1000);
  }

 private:
  const HeaderIndex& header_;
  const std::vector<std::string>& fields_;
};

using EmitFn = std::function<void(const char* dimension, std::string value, const Sums&)>;

struct PlausibleTable {
  const char* prefix;
  std::vector<const char*> required;  // besides date
  std::function<void(const PlausibleRow&, const EmitFn&)> emit;
};

// Sums of the session-level files (visitors, visits, visit_duration, bounces, pageviews).
Sums sessionSums(const PlausibleRow& row, const char* visitsColumn = "visits") {
  Sums s;
  s.visitors = row.count("visitors");
  s.visits = row.count(visitsColumn);
  s.pageviews = row.has("pageviews") ? row.count("pageviews") : 0;
  s.events = s.pageviews;
  s.bounces = row.count("bounces");
  s.durationMs = row.durationMs("visit_duration");
  return s;
}

const std::vector<PlausibleTable>& plausibleTables() {
  static const std::vector<PlausibleTable> kTables = {
      {"imported_visitors",
       {"visitors", "pageviews", "bounces", "visits", "visit_duration"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         const Sums s = sessionSums(row);
         emit("", "", s);
         emit("event_type", "pageview", s);
       }},
      {"imported_sources",
       {"source", "visitors", "visits", "visit_duration", "bounces"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         const Sums s = sessionSums(row);
         emit("source", row.text("source"), s);
         // Plausible stores a host, or a URL ("news.ycombinator.com/item?id=1").
         emit("referrer", detail::referrerHost(row.text("referrer")), s);
         for (const char* utm :
              {"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"}) {
           // A visit without the tag is in no breakdown of it (docs/metrics.md).
           if (std::string v = row.text(utm); !v.empty()) emit(utm, std::move(v), s);
         }
       }},
      {"imported_pages",
       {"page", "visits", "visitors", "pageviews"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         Sums s;
         s.visitors = row.count("visitors");
         s.visits = row.count("visits");
         s.pageviews = row.count("pageviews");
         s.events = s.pageviews;
         emit("page", row.text("page"), s);  // bounces and duration: not given per page
       }},
      {"imported_entry_pages",
       {"entry_page", "visitors", "entrances", "visit_duration", "bounces"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         emit("entry_page", row.text("entry_page"), sessionSums(row, "entrances"));
       }},
      {"imported_exit_pages",
       {"exit_page", "visitors", "exits"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         Sums s;
         s.visitors = row.count("visitors");
         s.visits = row.count("exits");
         s.pageviews = row.has("pageviews") ? row.count("pageviews") : 0;
         s.events = s.pageviews;
         // Older exports give exits only.
         if (row.has("bounces")) s.bounces = row.count("bounces");
         if (row.has("visit_duration")) s.durationMs = row.durationMs("visit_duration");
         if (!s.bounces || !s.durationMs) s.bounces = s.durationMs = std::nullopt;
         emit("exit_page", row.text("exit_page"), s);
       }},
      {"imported_custom_events",
       {"name", "visitors", "events"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         Sums s;
         s.visitors = row.count("visitors");
         s.events = row.count("events");
         const std::string name = row.text("name");
         if (name.empty()) throw detail::RowProblem("name is empty");
         emit("event_type", name, s);
         Sums day;  // the day's events include the custom ones
         day.events = s.events;
         emit("", "", day);
       }},
      {"imported_locations",
       {"country", "visitors", "visits", "visit_duration", "bounces"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         std::string country = util::toUpper(util::trim(row.text("country")));
         if (country == "ZZ" || country == "--") country.clear();
         if (!country.empty() &&
             (country.size() != 2 || !std::isalpha(country[0]) || !std::isalpha(country[1]))) {
           throw detail::RowProblem("country \"" + country.substr(0, 40) +
                                    "\" is not an ISO 3166-1 alpha-2 code");
         }
         emit("country", country, sessionSums(row));
       }},
      {"imported_devices",
       {"device", "visitors", "visits", "visit_duration", "bounces"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         std::string device = util::toLower(util::trim(row.text("device")));
         if (device == "laptop") device = "desktop";  // Plausible tells laptops apart; we do not
         emit("device", device, sessionSums(row));
       }},
      {"imported_browsers",
       {"browser", "visitors", "visits", "visit_duration", "bounces"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         emit("browser", row.text("browser"), sessionSums(row));
       }},
      {"imported_operating_systems",
       {"operating_system", "visitors", "visits", "visit_duration", "bounces"},
       [](const PlausibleRow& row, const EmitFn& emit) {
         emit("os", row.text("operating_system"), sessionSums(row));
       }},
  };
  return kTables;
}

const PlausibleTable* plausibleTableOf(const std::string& file) {
  for (const auto& t : plausibleTables()) {
    const std::string prefix = t.prefix;
    if (file.rfind(prefix, 0) != 0) continue;
    const std::string rest = file.substr(prefix.size());
    // imported_visitors.csv, imported_visitors_20240101_20241231.csv; not imported_visitors_x
    // of another table sharing the prefix (none do today).
    if (rest == ".csv" || (rest.size() > 4 && rest[0] == '_' && std::isdigit(rest[1]) &&
                           rest.substr(rest.size() - 4) == ".csv")) {
      return &t;
    }
  }
  return nullptr;
}

ImportSummary summaryOf(db::Connection& conn, const std::string& websiteId,
                        const std::string& importId) {
  auto r = conn.execArgs(
      "SELECT rows_read, rows_imported, rows_skipped, skipped::text, first_day::text,"
      " last_day::text, (SELECT count(*) FROM imported_days d WHERE d.website_id = i.website_id"
      " AND d.import_id = i.id) FROM imports i WHERE website_id = $1::uuid AND id = $2::uuid",
      websiteId, importId);
  ImportSummary s;
  s.importId = importId;
  if (r.rows() == 0) return s;
  s.rowsRead = r.getInt(0, 0);
  s.rowsImported = r.getInt(0, 1);
  s.rowsSkipped = r.getInt(0, 2);
  const auto reasons = nlohmann::json::parse(r.get(0, 3));
  for (const auto& [reason, n] : reasons.items()) {
    s.skipped[reason] = n.get<std::int64_t>();
  }
  if (!r.isNull(0, 4)) s.firstDay = util::parseDate(r.get(0, 4));
  if (!r.isNull(0, 5)) s.lastDay = util::parseDate(r.get(0, 5));
  s.days = r.getInt(0, 6);
  return s;
}

std::string skippedJson(const std::map<std::string, std::int64_t>& skipped) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [reason, n] : skipped) j[reason] = n;
  return j.dump();
}

ImportSummary importPlausible(db::Connection& conn, const sites::Website& website,
                              InputFiles& input, const ImportOptions& options,
                              const std::string& digest, const std::string& fileName) {
  ImportSummary summary;
  std::vector<std::pair<std::string, const PlausibleTable*>> files;
  for (const auto& f : input.files()) {
    if (const auto* t = plausibleTableOf(f.name)) {
      files.emplace_back(f.name, t);
    } else {
      summary.ignoredFiles.push_back(f.name);
    }
  }
  const bool hasVisitors = std::any_of(files.begin(), files.end(), [](const auto& f) {
    return std::string(f.second->prefix) == "imported_visitors";
  });
  if (!hasVisitors) {
    throw InvalidInput("input",
                       "no imported_visitors CSV file: not a Plausible export (its ZIP holds "
                       "imported_visitors_*.csv, imported_pages_*.csv, …)");
  }

  db::Transaction tx(conn);
  db::CopyIn copy(conn,
                  "CREATE TEMPORARY TABLE import_rows (date date, dimension text, value text,"
                  " visitors bigint, visits bigint, pageviews bigint, events bigint,"
                  " bounces bigint, duration_ms bigint) ON COMMIT DROP;"
                  "COPY import_rows FROM STDIN");
  Problems problems;
  std::map<sys_days, std::int64_t> linesPerDay;
  const std::uint64_t totalBytes = input.totalBytes();
  std::uint64_t doneBytes = 0;
  std::vector<std::string> fields;
  std::string batch;
  for (const auto& [file, table] : files) {
    CsvReader reader(input.open(file));
    try {
      if (!reader.next(fields)) {
        problems.add(file, 0, "the file is empty (it has no header line)");
        continue;
      }
      const HeaderIndex header(fields);
      const std::size_t width = fields.size();
      std::vector<std::string> missing;
      for (const char* c : table->required) {
        if (!header.find(c)) missing.emplace_back(c);
      }
      if (!header.find("date")) missing.insert(missing.begin(), "date");
      if (!missing.empty()) {
        problems.add(
            file, reader.line(),
            "the header has no column " + util::join(missing, ", ") + " (" + table->prefix +
                " needs date, " +
                [&] {
                  std::vector<std::string> r(table->required.begin(), table->required.end());
                  return util::join(r, ", ");
                }() +
                ")");
        continue;
      }
      while (reader.next(fields)) {
        ++summary.rowsRead;
        if (fields.size() != width) {
          problems.add(file, reader.line(),
                       fmt::format("{} fields where the header has {}", fields.size(), width));
          continue;
        }
        try {
          const PlausibleRow row(header, fields);
          const std::string dateText = util::trim(row.text("date"));
          const auto day = util::parseDate(dateText);
          if (!day) {
            throw detail::RowProblem("date \"" + dateText.substr(0, 40) +
                                     "\" is not a date (YYYY-MM-DD)");
          }
          for (const auto& f : fields) {
            if (!util::isValidUtf8WithoutNul(f))
              throw detail::RowProblem("a field is not UTF-8 text");
          }
          std::string lines;
          table->emit(row, [&](const char* dimension, std::string value, const Sums& s) {
            const auto opt = [](const std::optional<std::int64_t>& v) {
              return v ? std::to_string(*v) : std::string("\\N");
            };
            lines += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", dateText, dimension,
                                 detail::copyText(value), s.visitors, s.visits, s.pageviews,
                                 s.events, opt(s.bounces), opt(s.durationMs));
          });
          ++linesPerDay[*day];
          if (problems.total == 0) batch += lines;
        } catch (const detail::RowProblem& p) {
          problems.add(file, reader.line(), p.what());
        }
        if (batch.size() >= 256 * 1024) {
          copy.put(batch);
          batch.clear();
        }
        if (options.progress && (summary.rowsRead & 4095) == 0) {
          options.progress("checking", doneBytes + reader.bytesRead(), totalBytes);
        }
      }
    } catch (const InvalidInput& e) {  // a broken quote: the rest of the file cannot be read
      problems.add(file, reader.line(), e.what());
    }
    doneBytes += reader.bytesRead();
  }
  if (problems.total > 0) throw InvalidData(std::move(problems.list), problems.total);
  copy.put(batch);
  copy.end();
  if (options.progress) options.progress("checking", totalBytes, totalBytes);

  std::vector<sys_days> days;
  for (const auto& [d, n] : linesPerDay) days.push_back(d);
  const auto verdicts = detail::judgeDays(conn, website, days, options.today, std::nullopt);
  for (const auto& [d, n] : linesPerDay) {
    if (verdicts.kept.count(d)) {
      summary.rowsImported += n;
      summary.firstDay = summary.firstDay ? std::min(*summary.firstDay, d) : d;
      summary.lastDay = summary.lastDay ? std::max(*summary.lastDay, d) : d;
    } else {
      summary.skipped[verdicts.skipped.at(d)] += n;
      summary.rowsSkipped += n;
    }
  }
  summary.days = static_cast<std::int64_t>(verdicts.kept.size());
  // Nothing to keep (every day is taken, tracked or not over yet): not recorded, so the same
  // file imported once its days are free is judged again rather than found "already imported".
  if (verdicts.kept.empty()) return summary;
  std::vector<std::string> kept;
  for (auto d : verdicts.kept) kept.push_back(util::formatDate(d));

  const auto optDate = [](const std::optional<sys_days>& d) -> std::optional<std::string> {
    if (!d) return std::nullopt;
    return util::formatDate(*d);
  };
  auto created = conn.execArgs(
      "INSERT INTO imports (website_id, source, file_name, file_sha256, status, first_day,"
      " last_day, rows_read, rows_imported, rows_skipped, skipped, completed_at)"
      " VALUES ($1::uuid, 'plausible-csv', $2, $3, 'complete', $4::date, $5::date, $6, $7, $8,"
      " $9::jsonb, now()) RETURNING id::text",
      website.id, fileName, digest, optDate(summary.firstDay), optDate(summary.lastDay),
      summary.rowsRead, summary.rowsImported, summary.rowsSkipped, skippedJson(summary.skipped));
  summary.importId = std::string(created.get(0, 0));
  conn.execArgs(
      "INSERT INTO imported_days (website_id, date, import_id, aggregate)"
      " SELECT $1::uuid, d, $2::uuid, true FROM unnest($3::date[]) AS d",
      website.id, summary.importId, db::arrayLiteral(kept));
  // Rows of one value on one day add up (several hostnames of a page, the versions of a
  // browser, the regions of a country, the campaigns of a source); a number one of them lacks
  // is unknown for the sum.
  conn.execArgs(
      "INSERT INTO imported_daily (website_id, import_id, date, dimension, value, visitors,"
      " visits, pageviews, events, bounces, duration_ms)"
      " SELECT $1::uuid, $2::uuid, date, dimension, value, sum(visitors), sum(visits),"
      " sum(pageviews), sum(events),"
      " CASE WHEN bool_and(bounces IS NOT NULL OR (visits = 0 AND dimension = '')) THEN"
      "  coalesce(sum(bounces), 0) END,"
      " CASE WHEN bool_and(duration_ms IS NOT NULL OR (visits = 0 AND dimension = '')) THEN"
      "  coalesce(sum(duration_ms), 0) END"
      " FROM import_rows WHERE date = ANY($3::date[]) GROUP BY date, dimension, value",
      website.id, summary.importId, db::arrayLiteral(kept));
  tx.commit();
  return summary;
}

// Held for a whole import or deletion: without it two imports of overlapping days would both
// judge a day free and the second would fail on the first's imported_days row (an aggregate
// import) or, worse, add its events to a day the other holds (an event import, whose days are
// judged after its rows are staged). A second run is refused at once rather than left waiting
// behind an import that can take minutes.
maintenance::AdvisoryLock lockImports(db::Connection& conn, const sites::Website& website) {
  auto lock = maintenance::AdvisoryLock::acquire(conn, importLockKey(website.id),
                                                 maintenance::LockWait::kSkip);
  if (!lock) {
    throw Conflict("import_running", "another import into " + website.domain +
                                         " is running, or one of its imports is being deleted; "
                                         "try again once it has finished");
  }
  return std::move(*lock);
}

}  // namespace

std::int64_t importLockKey(const std::string& websiteId) {
  // The first 64 bits of the website's UUID, mixed with a constant so that they are not a key
  // another job of MetricPulse uses (the fold's and retention's are fixed values).
  std::uint64_t bits = 0;
  int digits = 0;
  for (const char c : websiteId) {
    if (digits == 16) break;
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    bits = (bits << 4) | static_cast<std::uint64_t>(v);
    ++digits;
  }
  return static_cast<std::int64_t>(bits ^ 0x4D50494D504F5254ULL);  // "MPIMPORT"
}

ImportSummary runImport(db::Connection& conn, const sites::Website& website, InputFiles& input,
                        const ImportOptions& options) {
  if (input.files().empty()) throw InvalidInput("input", "the input holds no files");
  const auto lock = lockImports(conn, website);
  const std::string digest = input.sha256();
  const std::string source(name(options.format));
  std::string fileName;
  for (const auto& f : input.files()) fileName += (fileName.empty() ? "" : ", ") + f.name;
  if (fileName.size() > 200) fileName = fileName.substr(0, 197) + "...";

  auto found = conn.execArgs(
      "SELECT id::text, status FROM imports WHERE website_id = $1::uuid AND source = $2"
      " AND file_sha256 = $3",
      website.id, source, digest);
  if (found.rows() > 0 && found.get(0, 1) == "complete") {
    ImportSummary s = summaryOf(conn, website.id, std::string(found.get(0, 0)));
    s.alreadyImported = true;
    return s;
  }
  if (options.format == Format::kPlausibleCsv) {
    return importPlausible(conn, website, input, options, digest, fileName);
  }
  std::optional<std::string> resume;
  if (found.rows() > 0) resume = std::string(found.get(0, 0));
  return importEvents(conn, website, input, options, digest, fileName, resume);
}

std::vector<ImportRecord> listImports(db::Connection& conn, const std::string& websiteId) {
  auto r = conn.execArgs(
      "SELECT id::text, source, file_name, status, first_day::text, last_day::text, rows_read,"
      " rows_imported, rows_skipped, (SELECT count(*) FROM imported_days d WHERE"
      " d.website_id = i.website_id AND d.import_id = i.id),"
      " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
      " FROM imports i WHERE website_id = $1::uuid ORDER BY created_at, id",
      websiteId);
  std::vector<ImportRecord> out;
  for (int i = 0; i < r.rows(); ++i) {
    ImportRecord rec;
    rec.id = r.get(i, 0);
    rec.source = r.get(i, 1);
    rec.fileName = r.get(i, 2);
    rec.status = r.get(i, 3);
    rec.firstDay = r.opt(i, 4);
    rec.lastDay = r.opt(i, 5);
    rec.rowsRead = r.getInt(i, 6);
    rec.rowsImported = r.getInt(i, 7);
    rec.rowsSkipped = r.getInt(i, 8);
    rec.days = r.getInt(i, 9);
    rec.createdAt = r.get(i, 10);
    out.push_back(std::move(rec));
  }
  return out;
}

std::int64_t deleteImport(db::Connection& conn, const sites::Website& website,
                          const std::string& importId) {
  if (!util::canonicalUuid(importId)) throw NotFound("no import " + importId);
  const auto lock = lockImports(conn, website);
  db::Transaction tx(conn);
  auto days = conn.execArgs(
      "SELECT date::text, aggregate FROM imported_days WHERE website_id = $1::uuid"
      " AND import_id = $2::uuid ORDER BY date",
      website.id, importId);
  std::vector<std::string> eventDays;
  for (int r = 0; r < days.rows(); ++r) {
    if (!days.getBool(r, 1)) eventDays.emplace_back(days.get(r, 0));
  }
  if (!eventDays.empty()) {
    // The events of its days: a day an import holds has no other events.
    conn.execArgs(
        "DELETE FROM events e USING unnest($2::date[]) AS d WHERE e.website_id = $1::uuid"
        " AND e.ts >= d::timestamp AT TIME ZONE $3 AND e.ts < (d + 1)::timestamp AT TIME ZONE $3",
        website.id, db::arrayLiteral(eventDays), website.timeZone);
  }
  auto gone = conn.execArgs("DELETE FROM imports WHERE website_id = $1::uuid AND id = $2::uuid",
                            website.id, importId);
  if (gone.affected() == 0)
    throw NotFound("website " + website.domain + " has no import " + importId);
  tx.commit();
  if (!eventDays.empty()) refoldDays(conn, website, eventDays);
  return days.rows();
}

}  // namespace mp::importing
