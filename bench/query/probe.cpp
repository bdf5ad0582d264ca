// mp_bench_query_probe: times bench/query's stats endpoints over HTTP (keep-alive) and the naive
// SQL over raw events that answers the same questions, for one website and date range.
//
// usage:
//   mp_bench_query_probe http BASE_URL TOKEN WEBSITE FROM TO LABEL [--requests N (50)]
//                        [--warmup N (3)] [--max-seconds S (20)]
//   mp_bench_query_probe sql DATABASE_URL WEBSITE FROM TO LABEL [--runs N (3)] [--warmup N (1)]
//                        [--max-seconds S (60)] [--check BASE_URL TOKEN]
//
// Every endpoint gets one line on stdout, "BENCH kind=… label=… endpoint=… n=… p50_us=… …";
// percentiles are nearest-rank over the timed requests (or runs). An endpoint's timing stops
// early, after at least one timed request, once it has taken --max-seconds, so a run is bounded.
// `sql --check` also asks the endpoint once and compares its answer with the SQL's (API.md: numbers
// agree exactly), printing check=ok|mismatch|n/a|error and, for a mismatch, a "CHECK" line saying
// where.
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/connection.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Rows of the website in [FROM 00:00 UTC, TO + 1 day 00:00 UTC): $1 website, $2 from, $3 to.
constexpr const char* kRange =
    "website_id = $1::uuid AND ts >= $2::date::timestamp AT TIME ZONE 'UTC'"
    " AND ts < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'";
constexpr int kLimit = 10;

enum class Shape { kOverview, kList, kSeries, kRealtime };

// One stats endpoint and what a naive implementation would run for it.
struct Endpoint {
  std::string name;
  std::string path;   ///< after /stats/{id}
  std::string query;  ///< extra query parameters ("" or "&a=b")
  std::string sql;    ///< $1 website; $2, $3 the range when usesRange
  bool usesRange = true;
  Shape shape = Shape::kList;
  std::string listKey;   ///< "pages" or "rows" for kList
  std::string valueKey;  ///< "page" or "value" for kList
};

// The naive top-N over raw events: one GROUP BY with a count(DISTINCT) per group.
std::string groupSql(const std::string& column, bool pageviewsOnly) {
  return fmt::format(
      "SELECT coalesce({0}, '') AS value, count(*) AS views, count(DISTINCT visitor_id) AS visitors"
      " FROM events WHERE {1}{2} GROUP BY 1 ORDER BY views DESC, value LIMIT {3}",
      column, kRange, pageviewsOnly ? " AND event_type = 'pageview'" : "", kLimit);
}

// Every bucket of the range, as the endpoint answers (zeros included).
std::string seriesSql(const char* unit) {
  const bool hour = std::string_view(unit) == "hour";
  return fmt::format(
      "SELECT b.t, coalesce(e.views, 0), coalesce(e.visitors, 0) FROM generate_series("
      "$2::date::timestamp, $3::date::timestamp{0}, interval '1 {1}') AS b(t)"
      " LEFT JOIN (SELECT date_trunc('{1}', ts AT TIME ZONE 'UTC') AS t,"
      " count(*) FILTER (WHERE event_type = 'pageview') AS views,"
      " count(DISTINCT visitor_id) AS visitors FROM events WHERE {2} GROUP BY 1) e USING (t)"
      " ORDER BY b.t",
      hour ? " + interval '23 hours'" : "", unit, kRange);
}

std::vector<Endpoint> endpoints(int rangeDays) {
  // API.md: all-time totals, today and the last 7 days (UTC) over every stored event.
  const std::string today = "(now() AT TIME ZONE 'UTC')::date";
  std::vector<Endpoint> list = {
      {"overview", "/overview", "",
       fmt::format("SELECT count(*) FILTER (WHERE event_type = 'pageview'),"
                   " count(DISTINCT visitor_id),"
                   " count(*) FILTER (WHERE event_type = 'pageview' AND ts >= {0}),"
                   " count(DISTINCT visitor_id) FILTER (WHERE ts >= {0}),"
                   " count(*) FILTER (WHERE event_type = 'pageview' AND ts >= {1}),"
                   " count(DISTINCT visitor_id) FILTER (WHERE ts >= {1})"
                   " FROM events WHERE website_id = $1::uuid",
                   today + "::timestamp AT TIME ZONE 'UTC'",
                   "(" + today + " - 6)::timestamp AT TIME ZONE 'UTC'"),
       false, Shape::kOverview, "", ""},
      {"top-pages", "/top-pages", fmt::format("&limit={}", kLimit), groupSql("page", true), true,
       Shape::kList, "pages", "page"},
      {"realtime", "/realtime", "",
       "SELECT count(DISTINCT session_id) FROM events WHERE website_id = $1::uuid"
       " AND ts >= now() - interval '5 minutes'",
       false, Shape::kRealtime, "", ""},
      {"timeseries-day", "/timeseries", "&interval=day", seriesSql("day"), true, Shape::kSeries, "",
       ""},
  };
  if (rangeDays <= 7) {
    list.push_back({"timeseries-hour", "/timeseries", "&interval=hour", seriesSql("hour"), true,
                    Shape::kSeries, "", ""});
  }
  const std::pair<const char*, const char*> dimensions[] = {
      {"page", "page"},     {"referrer", "referrer_host"}, {"browser", "browser"},     {"os", "os"},
      {"device", "device"}, {"country", "country"},        {"eventType", "event_type"}};
  for (const auto& [dimension, column] : dimensions) {
    const bool allEvents = std::string_view(dimension) == "eventType";
    list.push_back({std::string("breakdown-") + dimension, "/breakdown",
                    fmt::format("&dimension={}&limit={}", dimension, kLimit),
                    groupSql(column, !allEvents), true, Shape::kList, "rows", "value"});
  }
  return list;
}

struct Timings {
  std::vector<double> micros;
  double percentile(double p) const {
    if (micros.empty()) return 0;
    std::vector<double> sorted = micros;
    std::sort(sorted.begin(), sorted.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
  }
  std::string summary() const {
    if (micros.empty()) return "n=0";
    return fmt::format("n={} p50_us={:.0f} p99_us={:.0f} min_us={:.0f} max_us={:.0f}",
                       micros.size(), percentile(0.5), percentile(0.99),
                       *std::min_element(micros.begin(), micros.end()),
                       *std::max_element(micros.begin(), micros.end()));
  }
};

double microsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// One keep-alive connection to the daemon (libcurl reuses it between requests).
class HttpClient {
 public:
  HttpClient(std::string base, const std::string& token) : base_(std::move(base)) {
    curl_ = curl_easy_init();
    if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
    // Pistache closes the connection after each answer unless asked to keep it (PISTACHE.md).
    headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + token).c_str());
    headers_ = curl_slist_append(headers_, "Connection: keep-alive");
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpClient::onBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &HttpClient::onHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  }
  ~HttpClient() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  struct Answer {
    long status = 0;
    std::string body;
    std::string cache;  ///< the X-Cache header, "" when absent
    long connects = 0;  ///< new connections this request opened (0 when one was reused)
    double micros = 0;
    std::string error;
  };

  Answer get(const std::string& path) {
    body_.clear();
    cache_.clear();
    const std::string url = base_ + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    const auto start = Clock::now();
    const CURLcode rc = curl_easy_perform(curl_);
    Answer a;
    a.micros = microsSince(start);
    if (rc != CURLE_OK) {
      a.error = curl_easy_strerror(rc);
      return a;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &a.connects);
    a.body = std::move(body_);
    a.cache = cache_;
    return a;
  }

 private:
  static std::size_t onBody(char* data, std::size_t size, std::size_t n, void* self) {
    static_cast<HttpClient*>(self)->body_.append(data, size * n);
    return size * n;
  }
  static std::size_t onHeader(char* data, std::size_t size, std::size_t n, void* self) {
    std::string_view line(data, size * n);
    constexpr std::string_view kName = "x-cache:";
    if (line.size() > kName.size()) {
      std::string lower(line.substr(0, kName.size()));
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == kName) {
        std::string value(line.substr(kName.size()));
        while (!value.empty() &&
               (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
          value.pop_back();
        }
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        static_cast<HttpClient*>(self)->cache_ = value;
      }
    }
    return size * n;
  }

  std::string base_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string body_;
  std::string cache_;
};

std::string requestPath(const Endpoint& e, const std::string& website, const std::string& from,
                        const std::string& to) {
  std::string path = "/stats/" + website + e.path;
  if (e.shape == Shape::kRealtime) return path;
  return path + "?from=" + from + "&to=" + to + e.query;
}

struct Args {
  std::vector<std::string> positional;
  int count = 50;
  int warmup = 3;
  int maxSeconds = 20;  ///< per endpoint: stop timing earlier when this is spent (bounded runs)
  std::string checkBase;
  std::string checkToken;
};

int daysBetween(const std::string& from, const std::string& to) {
  auto parse = [](const std::string& text) {
    int y = 0;
    unsigned m = 0;
    unsigned d = 0;
    if (std::sscanf(text.c_str(), "%d-%u-%u", &y, &m, &d) != 3) {
      throw std::runtime_error("not a date: " + text);
    }
    return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} /
                                 std::chrono::day{d}};
  };
  return static_cast<int>((parse(to) - parse(from)).count()) + 1;
}

int runHttp(const Args& args) {
  const auto& p = args.positional;  // BASE TOKEN WEBSITE FROM TO LABEL
  HttpClient client(p[0], p[1]);
  for (const auto& e : endpoints(daysBetween(p[3], p[4]))) {
    const std::string path = requestPath(e, p[2], p[3], p[4]);
    Timings timings;
    std::map<std::string, int> caches;
    long status = 200;
    long connects = 0;
    std::size_t bytes = 0;
    std::string error;
    const auto started = Clock::now();
    for (int i = 0; i < args.warmup + args.count; ++i) {
      if (!timings.micros.empty() && microsSince(started) > args.maxSeconds * 1e6) break;
      const auto a = client.get(path);
      if (!a.error.empty() || a.status != 200) {
        status = a.status;
        error = a.error.empty() ? a.body.substr(0, 200) : a.error;
        break;
      }
      if (i < args.warmup) continue;
      timings.micros.push_back(a.micros);
      ++caches[a.cache.empty() ? "none" : a.cache];
      connects += a.connects;
      bytes = a.body.size();
    }
    std::string cacheText;
    for (const auto& [name, n] : caches) {
      cacheText += (cacheText.empty() ? "" : ",") + fmt::format("{}:{}", name, n);
    }
    std::printf(
        "BENCH kind=http label=%s endpoint=%s status=%ld %s cache=%s connects=%ld bytes=%zu\n",
        p[5].c_str(), e.name.c_str(), status, timings.summary().c_str(),
        cacheText.empty() ? "-" : cacheText.c_str(), connects, bytes);
    if (!error.empty()) {
      for (char& c : error) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      std::printf("NOTE %s %s: %s\n", p[5].c_str(), e.name.c_str(), error.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

// A JSON number as an integer (the answers carry counts).
std::optional<std::int64_t> integer(const json& j) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number_float()) return static_cast<std::int64_t>(std::llround(j.get<double>()));
  return std::nullopt;
}

// The integer at a JSON pointer ("/today/views"), std::nullopt when absent or not a number.
std::optional<std::int64_t> at(const json& j, const char* pointer) {
  const json::json_pointer ptr(pointer);
  if (!j.contains(ptr)) return std::nullopt;
  return integer(j.at(ptr));
}

// "" when the endpoint's answer agrees with the SQL rows, else where it does not.
std::string compare(const Endpoint& e, const json& answer, const mp::db::Result& rows) {
  auto expect = [](const char* what, std::optional<std::int64_t> got, std::int64_t want) {
    if (!got) return fmt::format("{}: missing", what);
    if (*got != want) return fmt::format("{}: {} vs SQL {}", what, *got, want);
    return std::string();
  };
  if (e.shape == Shape::kOverview) {
    // The SQL's columns, in order.
    const char* const fields[] = {"/totalViews",     "/uniqueVisitors",  "/today/views",
                                  "/today/visitors", "/last7Days/views", "/last7Days/visitors"};
    for (int i = 0; i < static_cast<int>(std::size(fields)); ++i) {
      auto m = expect(fields[i], at(answer, fields[i]), rows.getInt(0, i));
      if (!m.empty()) return m;
    }
    return {};
  }
  if (e.shape == Shape::kSeries) {
    if (!answer.contains("points") || !answer["points"].is_array()) return "no points array";
    const auto& points = answer["points"];
    if (static_cast<int>(points.size()) != rows.rows()) {
      return fmt::format("{} points vs SQL {} buckets", points.size(), rows.rows());
    }
    for (int r = 0; r < rows.rows(); ++r) {
      const auto& pt = points[static_cast<std::size_t>(r)];
      for (const auto& [key, col] : {std::pair{"/views", 1}, std::pair{"/visitors", 2}}) {
        auto m = expect(key, at(pt, key), rows.getInt(r, col));
        if (!m.empty()) return fmt::format("bucket {} ({}): {}", r, rows.get(r, 0), m);
      }
    }
    return {};
  }
  // Lists: the answer's views must be the SQL's top views in order; a row whose value is among the
  // SQL's rows must match it exactly; another is accepted only as a tie at the last place.
  if (!answer.contains(e.listKey) || !answer[e.listKey].is_array()) {
    return "no " + e.listKey + " array";
  }
  const auto& list = answer[e.listKey];
  if (static_cast<int>(list.size()) != rows.rows()) {
    return fmt::format("{} rows vs SQL {}", list.size(), rows.rows());
  }
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> sql;
  for (int r = 0; r < rows.rows(); ++r) {
    sql[std::string(rows.get(r, 0))] = {rows.getInt(r, 1), rows.getInt(r, 2)};
  }
  for (int r = 0; r < rows.rows(); ++r) {
    const auto& row = list[static_cast<std::size_t>(r)];
    const std::string value = row.contains(e.valueKey) && row[e.valueKey].is_string()
                                  ? row[e.valueKey].get<std::string>()
                                  : std::string();
    const auto views = at(row, "/views");
    const auto visitors = at(row, "/visitors");
    if (!views || !visitors) return fmt::format("row {}: views or visitors missing", r);
    if (*views != rows.getInt(r, 1)) {
      return fmt::format("row {} ({}): views {} vs SQL {} ({})", r, value, *views,
                         rows.getInt(r, 1), rows.get(r, 0));
    }
    auto it = sql.find(value);
    if (it == sql.end()) {
      if (*views != rows.getInt(rows.rows() - 1, 1)) {
        return fmt::format("row {}: {} is not among the SQL's rows", r, value);
      }
      continue;  // tied with the last place: either may be shown
    }
    if (it->second != std::pair{*views, *visitors}) {
      return fmt::format("row {} ({}): {}/{} vs SQL {}/{} (views/visitors)", r, value, *views,
                         *visitors, it->second.first, it->second.second);
    }
  }
  return {};
}

int runSql(const Args& args) {
  const auto& p = args.positional;  // URL WEBSITE FROM TO LABEL
  mp::db::Connection conn(p[0], std::chrono::seconds(10));
  std::optional<HttpClient> client;
  if (!args.checkBase.empty()) client.emplace(args.checkBase, args.checkToken);
  for (const auto& e : endpoints(daysBetween(p[2], p[3]))) {
    const mp::db::Params params =
        e.usesRange ? mp::db::Params{p[1], p[2], p[3]} : mp::db::Params{p[1]};
    Timings timings;
    std::optional<mp::db::Result> last;
    const auto started = Clock::now();
    for (int i = 0; i < args.warmup + args.count; ++i) {
      if (!timings.micros.empty() && microsSince(started) > args.maxSeconds * 1e6) break;
      const auto start = Clock::now();
      auto rows = conn.exec(e.sql, params);
      const double us = microsSince(start);
      if (i >= args.warmup) timings.micros.push_back(us);
      last.emplace(std::move(rows));
    }
    std::string check = "n/a";
    std::string detail;
    if (client && e.shape != Shape::kRealtime && last) {
      const auto a = client->get(requestPath(e, p[1], p[2], p[3]));
      if (!a.error.empty() || a.status != 200) {
        check = "error";
        detail = a.error.empty() ? fmt::format("HTTP {}", a.status) : a.error;
      } else {
        const auto answer = json::parse(a.body, nullptr, false);
        detail = answer.is_discarded() ? "the answer is not JSON" : compare(e, answer, *last);
        check = detail.empty() ? "ok" : "mismatch";
      }
    }
    std::printf("BENCH kind=sql label=%s endpoint=%s %s rows=%d check=%s\n", p[4].c_str(),
                e.name.c_str(), timings.summary().c_str(), last ? last->rows() : 0, check.c_str());
    if (!detail.empty())
      std::printf("CHECK %s %s: %s\n", p[4].c_str(), e.name.c_str(), detail.c_str());
    std::fflush(stdout);
  }
  return 0;
}

bool parseArgs(int argc, char** argv, int first, std::size_t positional, Args& args) {
  for (int i = first; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto number = [&](int& out) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      out = static_cast<int>(std::strtol(argv[++i], &end, 10));
      return *end == '\0' && out >= 0;
    };
    if (a == "--requests" || a == "--runs") {
      if (!number(args.count) || args.count < 1) return false;
    } else if (a == "--warmup") {
      if (!number(args.warmup)) return false;
    } else if (a == "--max-seconds") {
      if (!number(args.maxSeconds) || args.maxSeconds < 1) return false;
    } else if (a == "--check") {
      if (i + 2 >= argc) return false;
      args.checkBase = argv[++i];
      args.checkToken = argv[++i];
    } else if (a.rfind("--", 0) == 0) {
      return false;
    } else {
      args.positional.emplace_back(a);
    }
  }
  return args.positional.size() == positional;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  Args args;
  if (mode == "sql") {
    args.count = 3;
    args.warmup = 1;
    args.maxSeconds = 60;
  }
  const bool ok = (mode == "http" && parseArgs(argc, argv, 2, 6, args)) ||
                  (mode == "sql" && parseArgs(argc, argv, 2, 5, args));
  if (!ok) {
    std::fprintf(stderr,
                 "usage: %s http BASE_URL TOKEN WEBSITE FROM TO LABEL [--requests N] [--warmup N]"
                 " [--max-seconds S]\n"
                 "       %s sql DATABASE_URL WEBSITE FROM TO LABEL [--runs N] [--warmup N]"
                 " [--max-seconds S] [--check BASE_URL TOKEN]\n",
                 argv[0], argv[0]);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = 1;
  try {
    rc = mode == "http" ? runHttp(args) : runSql(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_query_probe: %s\n", e.what());
  }
  curl_global_cleanup();
  return rc;
}
