// Umami's and GoatCounter's CSV exports hold one row per page view or event: each becomes an
// event as if it had been tracked (attribution by the same rules), with an id derived from the
// input's digest and the row's place in it, so a resumed or repeated run writes the same rows.
// They are staged in import_staged_events in batches of ImportOptions::batchRows, each batch one
// transaction with the checkpoint (imports.staged_lines), so an interrupted run resumes after the
// last batch; the staged rows move into events in one transaction at the end.
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "aggregation/aggregator.hpp"
#include "db/array.hpp"
#include "db/copy.hpp"
#include "events/attribution.hpp"
#include "importing/detail.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "util/utf8.hpp"

namespace mp::importing {

using detail::HeaderIndex;
using detail::Problems;
using detail::RowProblem;
using std::chrono::sys_days;

namespace {

std::array<unsigned char, 32> sha256Of(std::string_view text) {
  std::array<unsigned char, 32> out{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &length, EVP_sha256(), nullptr);
  return out;
}

// A UUID (version 8, RFC 9562: custom) from a digest of `text`.
std::string uuidOf(std::string_view text) {
  auto h = sha256Of(text);
  h[6] = static_cast<unsigned char>((h[6] & 0x0F) | 0x80);
  h[8] = static_cast<unsigned char>((h[8] & 0x3F) | 0x80);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[h[i] >> 4];
    out += kHex[h[i] & 15];
  }
  return out;
}

// A visitor id as the tracker makes them: the first 8 bytes of a keyed hash, signed.
std::int64_t visitorOf(std::string_view text) {
  const auto h = sha256Of(text);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | h[i];
  std::int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

bool digits(std::string_view s, std::size_t from, std::size_t n) {
  if (from + n > s.size()) return false;
  for (std::size_t i = from; i < from + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// "2024-01-02 03:04:05", "2024-01-02T03:04:05.123Z", "…+02:00": as PostgreSQL reads it, UTC
// where no offset is given; throws RowProblem for anything else.
std::string timestampOf(const std::string& column, std::string value) {
  value = util::trim(value);
  const bool ok = value.size() >= 19 && util::parseDate(value.substr(0, 10)) &&
                  (value[10] == ' ' || value[10] == 'T') && digits(value, 11, 2) &&
                  value[13] == ':' && digits(value, 14, 2) && value[16] == ':' &&
                  digits(value, 17, 2);
  std::size_t i = 19;
  if (ok && i < value.size() && value[i] == '.') {
    ++i;
    while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
  }
  const std::string zone = ok ? value.substr(i) : std::string();
  const bool zoneOk =
      zone.empty() || zone == "Z" ||
      ((zone[0] == '+' || zone[0] == '-') &&
       ((zone.size() == 3 && digits(zone, 1, 2)) ||
        (zone.size() == 6 && digits(zone, 1, 2) && zone[3] == ':' && digits(zone, 4, 2)) ||
        (zone.size() == 5 && digits(zone, 1, 4))));
  if (!ok || !zoneOk) {
    throw RowProblem(fmt::format("{} \"{}\" is not a time (YYYY-MM-DD HH:MM:SS, ISO 8601)", column,
                                 value.substr(0, 40)));
  }
  return zone.empty() ? value + "+00" : value;
}

// One event as staged.
struct Staged {
  std::string ts;
  std::string eventType = "pageview";
  std::optional<std::string> page, url, hostname, referrer, referrerHost, session;
  std::optional<std::int64_t> visitor;
  std::optional<std::string> browser, os, device, country;
};

std::string percentEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> nonEmpty(std::string value) {
  value = util::trim(value);
  if (value.empty()) return std::nullopt;
  return value;
}

std::optional<std::string> countryOf(const std::string& column, std::string value) {
  value = util::toUpper(util::trim(value));
  if (value.empty()) return std::nullopt;
  // GoatCounter writes subdivisions too ("US-TX").
  if (value.size() > 2 && value[2] == '-') value = value.substr(0, 2);
  if (value.size() != 2 || !std::isalpha(static_cast<unsigned char>(value[0])) ||
      !std::isalpha(static_cast<unsigned char>(value[1]))) {
    throw RowProblem(column + " \"" + value.substr(0, 40) + "\" is not an ISO 3166 country code");
  }
  if (value == "ZZ" || value == "XX") return std::nullopt;
  return value;
}

// Browser and OS names as uap-core (and so the tracker) spells them.
std::string browserName(const std::string& value) {
  static const std::unordered_map<std::string, std::string> kUmami = {
      {"chrome", "Chrome"},
      {"crios", "Chrome Mobile iOS"},
      {"chromium-webview", "Chrome Mobile WebView"},
      {"edge-chromium", "Edge"},
      {"edge", "Edge"},
      {"edge-ios", "Edge Mobile"},
      {"firefox", "Firefox"},
      {"fxios", "Firefox iOS"},
      {"safari", "Safari"},
      {"ios", "Mobile Safari"},
      {"ios-webview", "Mobile Safari UI/WKWebView"},
      {"opera", "Opera"},
      {"opera-mini", "Opera Mini"},
      {"samsung", "Samsung Internet"},
      {"yandexbrowser", "Yandex Browser"},
      {"facebook", "Facebook"},
      {"instagram", "Instagram"},
      {"android", "Android"},
      {"ie", "IE"},
      {"silk", "Amazon Silk"},
      {"miui", "MiuiBrowser"},
  };
  const auto it = kUmami.find(util::toLower(value));
  return it == kUmami.end() ? value : it->second;
}

std::string osName(std::string value) {
  const std::string lower = util::toLower(value);
  if (lower.rfind("windows", 0) == 0) return "Windows";
  if (lower == "mac os" || lower == "macos" || lower.rfind("macos ", 0) == 0 ||
      lower.rfind("mac os x", 0) == 0)
    return "Mac OS X";
  if (lower.rfind("android", 0) == 0) return "Android";
  if (lower.rfind("ios", 0) == 0) return "iOS";
  if (lower.rfind("linux", 0) == 0) return "Linux";
  if (lower.rfind("chrome os", 0) == 0 || lower == "chromeos") return "Chrome OS";
  return value;
}

std::optional<std::string> deviceName(std::string value) {
  value = util::toLower(util::trim(value));
  if (value.empty()) return std::nullopt;
  if (value == "laptop") return std::string("desktop");
  return value;
}

// A CSV file's role in an Umami export.
enum class UmamiFile { kEvents, kSessions, kOther };

UmamiFile umamiFileOf(const HeaderIndex& h) {
  if (h.find("url_path") && h.find("created_at") && h.find("session_id")) return UmamiFile::kEvents;
  if (h.find("session_id") && !h.find("url_path") && (h.find("browser") || h.find("country"))) {
    return UmamiFile::kSessions;
  }
  return UmamiFile::kOther;
}

struct SessionInfo {
  std::optional<std::string> browser, os, device, country, hostname;
};

class Row {
 public:
  Row(const HeaderIndex& h, const std::vector<std::string>& f) : h_(h), f_(f) {}
  std::string text(std::string_view column) const {
    const auto i = h_.find(column);
    return i && *i < f_.size() ? f_[*i] : std::string();
  }
  bool has(std::string_view column) const { return h_.find(column).has_value(); }

 private:
  const HeaderIndex& h_;
  const std::vector<std::string>& f_;
};

// The Umami row as an event, or nullopt (with a reason) when it is to be skipped.
Staged umamiEvent(const Row& row, const sites::Website& website,
                  const std::unordered_map<std::string, SessionInfo>& sessions) {
  Staged e;
  e.ts = timestampOf("created_at", row.text("created_at"));
  const std::string sessionId = util::trim(row.text("session_id"));
  if (sessionId.empty()) throw RowProblem("session_id is empty");
  const std::string type = util::trim(row.text("event_type"));
  std::string path = util::trim(row.text("url_path"));
  if (type == "2") {
    const std::string name = util::trim(row.text("event_name"));
    if (name.empty()) throw RowProblem("event_type 2 (a custom event) without an event_name");
    if (name == "pageview") throw RowProblem("a custom event may not be named pageview");
    e.eventType = name;
  } else if (type != "1" && !(type.empty() && !row.has("event_type"))) {
    throw RowProblem("event_type \"" + type.substr(0, 20) +
                     "\" is neither 1 (a page view) nor 2 (a custom event)");
  }
  if (path.empty()) {
    if (e.eventType == "pageview") throw RowProblem("url_path is empty");
  } else {
    if (path.front() != '/') path.insert(path.begin(), '/');
    e.page = path;
  }
  SessionInfo s;
  if (const auto it = sessions.find(sessionId); it != sessions.end()) s = it->second;
  const auto pick = [&row](const char* column, std::optional<std::string> fallback) {
    auto v = nonEmpty(row.text(column));
    return v ? v : fallback;
  };
  const std::string host = pick("hostname", s.hostname).value_or(website.domain);
  e.hostname = util::toLower(host);
  std::string query = util::trim(row.text("url_query"));
  if (query.find("utm_") == std::string::npos) {
    for (const char* utm :
         {"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"}) {
      if (const auto v = nonEmpty(row.text(utm))) {
        query += (query.empty() ? "" : "&") + std::string(utm) + "=" + percentEncode(*v);
      }
    }
  }
  if (e.page) e.url = "https://" + *e.hostname + *e.page + (query.empty() ? "" : "?" + query);
  if (const auto domain = nonEmpty(row.text("referrer_domain"))) {
    e.referrerHost = nonEmpty(detail::referrerHost(*domain, website.domain));
    std::string ref = "https://" + *domain + util::trim(row.text("referrer_path"));
    if (const auto q = nonEmpty(row.text("referrer_query"))) ref += "?" + *q;
    e.referrer = ref;
  }
  e.session = "umami:" + util::trim(row.has("visit_id") && !util::trim(row.text("visit_id")).empty()
                                        ? row.text("visit_id")
                                        : sessionId);
  e.visitor = visitorOf(website.id + "\numami\n" + sessionId);
  if (const auto b = pick("browser", s.browser)) e.browser = browserName(*b);
  if (const auto o = pick("os", s.os)) e.os = osName(*o);
  e.device = deviceName(pick("device", s.device).value_or(""));
  e.country = countryOf("country", pick("country", s.country).value_or(""));
  return e;
}

// GoatCounter's export, format 2 ("2Path,Title,Event,UserAgent,Browser,System,Session,Bot,…").
std::optional<Staged> goatCounterEvent(const Row& row, const sites::Website& website,
                                       std::string& skipReason) {
  const std::string bot = util::trim(row.text("bot"));
  if (!bot.empty() && bot != "0") {
    skipReason = "a bot request (GoatCounter's Bot column)";
    return std::nullopt;
  }
  Staged e;
  e.ts = timestampOf("Date", row.text("date"));
  const std::string path = util::trim(row.text("2path"));
  if (path.empty()) throw RowProblem("Path is empty");
  const std::string event = util::toLower(util::trim(row.text("event")));
  if (event == "true" || event == "1") {
    if (path == "pageview") throw RowProblem("an event may not be named pageview");
    e.eventType = path;
  } else if (event == "false" || event == "0" || event.empty()) {
    e.page = path.front() == '/' ? path : "/" + path;
  } else {
    throw RowProblem("Event \"" + event.substr(0, 20) + "\" is neither true nor false");
  }
  e.hostname = website.domain;
  std::string query;
  const std::string referrer = util::trim(row.text("referrer"));
  const std::string scheme = util::trim(row.text("referrer scheme"));
  if (!referrer.empty()) {
    if (scheme == "c") {
      query = "utm_source=" + percentEncode(referrer);  // a campaign's name
    } else if (scheme == "g" || scheme == "o") {
      query = "utm_source=" + percentEncode(referrer);  // "Hacker News", an app: a source name
    } else {
      e.referrerHost = nonEmpty(detail::referrerHost(referrer, website.domain));
      e.referrer = referrer.find("://") == std::string::npos ? "https://" + referrer : referrer;
    }
  }
  if (e.page) e.url = "https://" + *e.hostname + *e.page + (query.empty() ? "" : "?" + query);
  if (!e.page && !query.empty()) e.url = "https://" + *e.hostname + "/?" + query;
  const std::string session = util::trim(row.text("session"));
  if (!session.empty()) {
    e.session = "goatcounter:" + session;
    e.visitor = visitorOf(website.id + "\ngoatcounter\n" + session);
  }
  // "Chrome 120", "Windows 10", "macOS 14.1": the name without its version.
  const auto withoutVersion = [](std::string v) {
    v = util::trim(v);
    const auto space = v.find_last_of(' ');
    if (space != std::string::npos && std::isdigit(static_cast<unsigned char>(v[space + 1]))) {
      v = v.substr(0, space);
    }
    return v;
  };
  if (auto b = nonEmpty(withoutVersion(row.text("browser")))) e.browser = *b;
  if (auto o = nonEmpty(withoutVersion(row.text("system")))) e.os = osName(*o);
  // No user agent: the device from the system and the screen's width.
  const std::string screen = util::trim(row.text("screen size"));
  int width = 0;
  if (!screen.empty()) width = std::atoi(screen.c_str());
  if (e.os && (*e.os == "iOS" || *e.os == "Android")) {
    e.device = width >= 768 ? "tablet" : "mobile";
  } else if (e.os || width > 0) {
    e.device = width > 0 && width < 768 ? "mobile" : "desktop";
  }
  e.country = countryOf("Location", row.text("location"));
  return e;
}

std::string copyOpt(const std::optional<std::string>& v) {
  return v ? detail::copyText(*v) : std::string("\\N");
}

struct Batch {
  std::string text;
  std::int64_t rows = 0;
};

}  // namespace

ImportSummary importEvents(db::Connection& conn, const sites::Website& website, InputFiles& input,
                           const ImportOptions& options, const std::string& digest,
                           const std::string& fileName, const std::optional<std::string>& resume) {
  ImportSummary summary;
  const bool umami = options.format == Format::kUmamiCsv;
  std::vector<std::string> eventFiles;
  std::unordered_map<std::string, SessionInfo> sessions;
  Problems problems;
  std::vector<std::string> fields;

  // The role of each file from its header; Umami's sessions are read first.
  for (const auto& f : input.files()) {
    CsvReader reader(input.open(f.name));
    if (!reader.next(fields)) {
      summary.ignoredFiles.push_back(f.name);
      continue;
    }
    const HeaderIndex header(fields);
    if (!umami) {
      if (header.find("2path")) {
        eventFiles.push_back(f.name);
      } else if (header.find("1path")) {
        problems.add(f.name, 1,
                     "a GoatCounter export of format 1: export again from GoatCounter, whose "
                     "current exports are format 2");
      } else {
        summary.ignoredFiles.push_back(f.name);
      }
      continue;
    }
    const UmamiFile role = umamiFileOf(header);
    if (role == UmamiFile::kEvents) {
      eventFiles.push_back(f.name);
    } else if (role == UmamiFile::kSessions) {
      const std::size_t width = fields.size();
      try {
        while (reader.next(fields)) {
          if (fields.size() != width) {
            problems.add(f.name, reader.line(),
                         fmt::format("{} fields where the header has {}", fields.size(), width));
            continue;
          }
          const Row row(header, fields);
          try {
            SessionInfo s;
            s.browser = nonEmpty(row.text("browser"));
            s.os = nonEmpty(row.text("os"));
            s.device = nonEmpty(row.text("device"));
            s.country = countryOf("country", row.text("country"));
            s.hostname = nonEmpty(row.text("hostname"));
            sessions[util::trim(row.text("session_id"))] = std::move(s);
          } catch (const RowProblem& p) {
            problems.add(f.name, reader.line(), p.what());
          }
        }
      } catch (const InvalidInput& e) {
        problems.add(f.name, reader.line(), e.what());
      }
    } else {
      summary.ignoredFiles.push_back(f.name);
    }
  }
  if (problems.total > 0) throw InvalidData(std::move(problems.list), problems.total);
  if (eventFiles.empty()) {
    throw InvalidInput(
        "input", umami ? "no CSV file of Umami events (a header with session_id, created_at, "
                         "url_path, event_type): not an Umami export"
                       : "no CSV file of GoatCounter page views (a header beginning 2Path): not "
                         "a GoatCounter export");
  }

  // The import's row, and where a resumed run starts.
  std::string importId;
  std::int64_t done = 0;  // data records already staged (or skipped) by earlier runs
  if (resume) {
    importId = *resume;
    auto r = conn.execArgs(
        "SELECT staged_lines, rows_read, rows_skipped, skipped::text FROM imports"
        " WHERE website_id = $1::uuid AND id = $2::uuid",
        website.id, importId);
    done = r.getInt(0, 0);
    summary.rowsRead = r.getInt(0, 1);
    summary.rowsSkipped = r.getInt(0, 2);
    const auto reasons = nlohmann::json::parse(r.get(0, 3));
    for (const auto& [reason, n] : reasons.items()) {
      summary.skipped[reason] = n.get<std::int64_t>();
    }
    summary.resumed = true;
  } else {
    auto r = conn.execArgs(
        "INSERT INTO imports (website_id, source, file_name, file_sha256, status)"
        " VALUES ($1::uuid, $2, $3, $4, 'staging') RETURNING id::text",
        website.id, std::string(name(options.format)), fileName, digest);
    importId = std::string(r.get(0, 0));
  }
  summary.importId = importId;
  const auto abandon = [&] {
    conn.execArgs("DELETE FROM imports WHERE website_id = $1::uuid AND id = $2::uuid", website.id,
                  importId);
  };

  std::uint64_t totalBytes = 0;
  for (const auto& f : input.files()) {
    if (std::find(eventFiles.begin(), eventFiles.end(), f.name) != eventFiles.end()) {
      totalBytes += f.size;
    }
  }
  std::uint64_t doneBytes = 0;
  const CsvReader* current = nullptr;  // the file being read, for progress at checkpoints
  std::int64_t record = 0;             // data records of the event files, in order
  Batch batch;
  const auto flush = [&] {
    if (problems.total > 0) return;
    db::Transaction tx(conn);
    if (batch.rows > 0) {
      db::CopyIn copy(conn,
                      "COPY import_staged_events (website_id, import_id, line, ts, id, event_type,"
                      " page, url, hostname, referrer, referrer_host, session_id, visitor_id,"
                      " browser, os, device, country, source, channel, utm_source, utm_medium,"
                      " utm_campaign, utm_term, utm_content) FROM STDIN");
      copy.put(batch.text);
      copy.end();
    }
    conn.execArgs(
        "UPDATE imports SET staged_lines = $3, rows_read = $4, rows_skipped = $5,"
        " skipped = $6::jsonb WHERE website_id = $1::uuid AND id = $2::uuid",
        website.id, importId, record, summary.rowsRead, summary.rowsSkipped, [&] {
          nlohmann::json j = nlohmann::json::object();
          for (const auto& [reason, n] : summary.skipped) j[reason] = n;
          return j.dump();
        }());
    tx.commit();
    batch = {};
    // A checkpoint: a run stopped from here on resumes after this batch.
    if (options.progress) {
      options.progress("checking", doneBytes + (current ? current->bytesRead() : 0), totalBytes);
    }
  };

  try {
    for (const auto& file : eventFiles) {
      CsvReader reader(input.open(file));
      current = &reader;
      reader.next(fields);
      const HeaderIndex header(fields);
      const std::size_t width = fields.size();
      try {
        while (reader.next(fields)) {
          ++record;
          if (record <= done) continue;  // staged by an earlier run
          ++summary.rowsRead;
          if (fields.size() != width) {
            problems.add(file, reader.line(),
                         fmt::format("{} fields where the header has {}", fields.size(), width));
            continue;
          }
          try {
            for (const auto& f : fields) {
              if (!util::isValidUtf8WithoutNul(f)) throw RowProblem("a field is not UTF-8 text");
            }
            const Row row(header, fields);
            std::string skipReason;
            std::optional<Staged> e =
                umami ? std::optional<Staged>(umamiEvent(row, website, sessions))
                      : goatCounterEvent(row, website, skipReason);
            if (!e) {
              ++summary.skipped[skipReason];
              ++summary.rowsSkipped;
              continue;
            }
            std::string_view query;
            if (e->url && e->url->find('?') != std::string::npos) {
              query = std::string_view(*e->url).substr(e->url->find('?') + 1);
            }
            const auto attribution =
                events::attribute(query, e->hostname.value_or(""), e->referrerHost.value_or(""));
            if (problems.total > 0) continue;  // checking only from the first problem on
            batch.text += fmt::format(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}"
                "\t{}\t{}\t{}\n",
                website.id, importId, record, e->ts,
                uuidOf(website.id + "\n" + digest + "\n" + std::to_string(record)),
                detail::copyText(e->eventType), copyOpt(e->page), copyOpt(e->url),
                copyOpt(e->hostname), copyOpt(e->referrer), copyOpt(e->referrerHost),
                copyOpt(e->session), e->visitor ? std::to_string(*e->visitor) : "\\N",
                copyOpt(e->browser), copyOpt(e->os), copyOpt(e->device), copyOpt(e->country),
                copyOpt(attribution.source), detail::copyText(attribution.channel),
                copyOpt(attribution.utmSource), copyOpt(attribution.utmMedium),
                copyOpt(attribution.utmCampaign), copyOpt(attribution.utmTerm),
                copyOpt(attribution.utmContent));
            ++batch.rows;
          } catch (const RowProblem& p) {
            problems.add(file, reader.line(), p.what());
          }
          if (batch.rows >= options.batchRows) flush();
          if (options.progress && (record & 4095) == 0) {
            options.progress("checking", doneBytes + reader.bytesRead(), totalBytes);
          }
        }
      } catch (const InvalidInput& e) {
        problems.add(file, reader.line(), e.what());
      }
      doneBytes += reader.bytesRead();
      current = nullptr;
    }
    if (problems.total > 0) {
      abandon();
      throw InvalidData(std::move(problems.list), problems.total);
    }
    flush();
  } catch (const InvalidData&) {
    throw;
  } catch (const DbError& e) {
    // A refused batch (a value PostgreSQL would not take): nothing of the import is kept.
    if (!conn.inTransaction()) {
      try {
        abandon();
      } catch (const DbError&) {
      }
    }
    throw;
  }
  if (options.progress) options.progress("checking", totalBytes, totalBytes);

  // The days of the staged rows, judged.
  auto perDay = conn.execArgs(
      "SELECT (ts AT TIME ZONE $3)::date::text, count(*) FROM import_staged_events"
      " WHERE website_id = $1::uuid AND import_id = $2::uuid GROUP BY 1 ORDER BY 1",
      website.id, importId, website.timeZone);
  std::vector<sys_days> days;
  std::map<sys_days, std::int64_t> rowsPerDay;
  for (int r = 0; r < perDay.rows(); ++r) {
    if (auto d = util::parseDate(perDay.get(r, 0))) {
      days.push_back(*d);
      rowsPerDay[*d] = perDay.getInt(r, 1);
    }
  }
  const auto verdicts = detail::judgeDays(conn, website, days, options.today, importId);
  std::vector<std::string> kept;
  for (const auto& [d, n] : rowsPerDay) {
    if (verdicts.kept.count(d)) {
      kept.push_back(util::formatDate(d));
      summary.rowsImported += n;
      summary.firstDay = summary.firstDay ? std::min(*summary.firstDay, d) : d;
      summary.lastDay = summary.lastDay ? std::max(*summary.lastDay, d) : d;
    } else {
      summary.skipped[verdicts.skipped.at(d)] += n;
      summary.rowsSkipped += n;
    }
  }
  summary.days = static_cast<std::int64_t>(kept.size());

  if (!kept.empty()) {
    // Partitions of the months first (each its own short transaction), so no row lands in the
    // default partition.
    conn.execArgs(
        "SELECT mp_ensure_event_partition(m::date) FROM generate_series("
        "date_trunc('month', ($1::date)::timestamp AT TIME ZONE 'UTC') - interval '1 month',"
        " ($2::date)::timestamp + interval '1 month', interval '1 month') AS m",
        kept.front(), kept.back());
  }
  if (options.progress) options.progress("importing", 0, 1);
  if (kept.empty()) {
    // Nothing to keep: the import and its staged rows go, as for an aggregate import that keeps
    // no day (importer.cpp), so the same file is judged again once its days are free.
    abandon();
    summary.importId.clear();
    if (options.progress) options.progress("importing", 1, 1);
    return summary;
  }
  {
    db::Transaction tx(conn);
    conn.execArgs(
        "INSERT INTO events (website_id, ts, id, event_type, page, url, hostname, referrer,"
        " referrer_host, session_id, visitor_id, browser, os, device, country, source, channel,"
        " utm_source, utm_medium, utm_campaign, utm_term, utm_content)"
        " SELECT website_id, ts, id, event_type, page, url, hostname, referrer, referrer_host,"
        " session_id, visitor_id, browser, os, device, country, source, channel, utm_source,"
        " utm_medium, utm_campaign, utm_term, utm_content FROM import_staged_events"
        " WHERE website_id = $1::uuid AND import_id = $2::uuid"
        " AND (ts AT TIME ZONE $3)::date = ANY($4::date[]) ON CONFLICT DO NOTHING",
        website.id, importId, website.timeZone, db::arrayLiteral(kept));
    conn.execArgs(
        "INSERT INTO imported_days (website_id, date, import_id, aggregate)"
        " SELECT $1::uuid, d, $2::uuid, false FROM unnest($3::date[]) AS d"
        " ON CONFLICT DO NOTHING",
        website.id, importId, db::arrayLiteral(kept));
    conn.execArgs(
        "DELETE FROM import_staged_events WHERE website_id = $1::uuid AND import_id = $2::uuid",
        website.id, importId);
    nlohmann::json skipped = nlohmann::json::object();
    for (const auto& [reason, n] : summary.skipped) skipped[reason] = n;
    const auto optDate = [](const std::optional<sys_days>& d) -> std::optional<std::string> {
      if (!d) return std::nullopt;
      return util::formatDate(*d);
    };
    conn.execArgs(
        "UPDATE imports SET status = 'complete', completed_at = now(), first_day = $3::date,"
        " last_day = $4::date, rows_read = $5, rows_imported = $6, rows_skipped = $7,"
        " skipped = $8::jsonb, staged_lines = $9 WHERE website_id = $1::uuid AND id = $2::uuid",
        website.id, importId, optDate(summary.firstDay), optDate(summary.lastDay), summary.rowsRead,
        summary.rowsImported, summary.rowsSkipped, skipped.dump(), record);
    tx.commit();
  }
  if (options.progress) options.progress("importing", 1, 1);
  refoldDays(conn, website, kept, options.progress);
  return summary;
}

void refoldDays(db::Connection& conn, const sites::Website& website,
                const std::vector<std::string>& days, const ProgressFn& progress) {
  if (days.empty()) return;
  // A day of the website's zone spans at most two UTC days; the fold takes whole UTC days and
  // records, per website zone, which days it made final.
  std::vector<sys_days> list;
  for (const auto& d : days) {
    if (auto p = util::parseDate(d)) list.push_back(*p);
  }
  std::sort(list.begin(), list.end());
  // Runs of days close together, each folded with a day either side.
  std::vector<std::pair<sys_days, sys_days>> runs;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < list.size();) {
    std::size_t j = i;
    while (j + 1 < list.size() && list[j + 1] <= list[j] + std::chrono::days{2}) ++j;
    runs.emplace_back(list[i] - std::chrono::days{1}, list[j] + std::chrono::days{1});
    total += static_cast<std::uint64_t>((runs.back().second - runs.back().first).count() + 1);
    i = j + 1;
  }
  std::uint64_t done = 0;
  const auto folded = [&](sys_days, std::int64_t) {
    if (progress) progress("folding", ++done, total);
  };
  for (const auto& [from, to] : runs) aggregation::foldRange(conn, from, to, website.id, folded);
}

}  // namespace mp::importing
