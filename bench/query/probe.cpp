// mp_bench_query_probe: times bench/query's stats questions over HTTP (keep-alive) and the naive
// SQL over raw events that answers the same questions, for one website and date range, and gives
// the website the goals and funnel those questions ask about.
//
// usage:
//   mp_bench_query_probe http BASE_URL TOKEN WEBSITE FROM TO LABEL [--requests N (50)]
//                        [--warmup N (3)] [--max-seconds S (20)] [--extended] [--funnel ID]
//                        [--only NAME,… (these questions only: overview, top-pages…)]
//                        [--keep-going (count answers other than 200 and ask on)]
//   mp_bench_query_probe sql DATABASE_URL WEBSITE FROM TO LABEL [--runs N (3)] [--warmup N (1)]
//                        [--max-seconds S (60)] [--check BASE_URL TOKEN] [--extended]
//                        [--funnel ID]
//   mp_bench_query_probe goals BASE_URL TOKEN WEBSITE      (prints "FUNNEL id")
//
// The questions: the overview, top pages, realtime, the daily (and, up to 7 days, hourly)
// timeseries, breakdowns by page, referrer, browser, OS, device, country and event type, sources,
// entry and exit pages; with --extended also the overview and top pages under one filter each
// (page, country, source, utm_campaign, prop:plan), the goals report and, with --funnel, the
// 4-step funnel. The naive SQL computes the visits from the raw events with window functions
// (docs/metrics.md), independently of the engine, and `sql --check` compares every field of the
// endpoint's answer with it (API.md: numbers agree exactly), printing check=ok|mismatch|n/a|error
// and, for a mismatch, a "CHECK" line saying where.
//
// Every question gets one line on stdout, "BENCH kind=… label=… endpoint=… n=… p50_us=… …";
// percentiles are nearest-rank over the timed requests (or runs). A question's timing stops
// early, after at least one timed request, once it has taken --max-seconds (warm-up included),
// so a run is bounded; an untimed SQL run that alone took longer is taken as the timing. `sql`
// runs its --warmup untimed runs before the first question only (the overview, which reads every
// event of the website: the others read the same rows).
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/connection.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr int kLimit = 10;

// What a question answers, and so how its answer is compared with the SQL's.
enum class Shape { kOverview, kList, kSeries, kHourSeries, kRealtime, kGoals, kFunnel };

// A filter of one question (docs/metrics.md "Filters"): `is` one value of one dimension.
struct Filter {
  std::string dimension;  ///< as the API names it: "page", "country", "source", "prop:plan"…
  std::string value;
  bool onEvents = false;  ///< an event dimension (page, prop:…), else a visit dimension
};

// The goals the run gives the largest website (mp_bench_query_probe goals), in the order they
// are created, and the funnel of four of them. Pages that the generated visits reach: the
// generator's fixed pages and its /blog/… and /docs/…/… paths.
struct GoalDef {
  bool page = false;
  std::string target;  ///< an event name, or a page pattern ('*' any text but '/', '**' any text)
};
const std::vector<GoalDef>& benchGoals() {
  static const std::vector<GoalDef> kGoals = {
      {false, "signup"},  {false, "download"}, {true, "/pricing"}, {true, "/blog/*"},
      {true, "/docs/**"}, {true, "/docs/*"},   {true, "/"}};
  return kGoals;
}
constexpr const char* kFunnelName = "Bench: home, docs, signup, pricing";
constexpr int kFunnelSteps[] = {6, 4, 0, 2};  // indexes into benchGoals()

// One question: a stats endpoint with its parameters, and the naive SQL over raw events that
// answers it ($1 website, $2 and $3 the range when usesRange).
struct Question {
  std::string name;
  std::string path;   ///< after /stats/{id}
  std::string query;  ///< extra query parameters ("" or "&a=b")
  std::string sql;
  bool usesRange = true;
  Shape shape = Shape::kList;
  std::string listKey;   ///< "pages" or "rows" for kList
  std::string valueKey;  ///< "page" or "value" for kList
  bool viewsAreEvents = false;
};

// `text` percent-encoded for a query string.
std::string urlEncode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// `text` as an SQL string literal.
std::string literal(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += c;
  }
  return out + "'";
}

// A goal's page pattern as a PostgreSQL regular expression over the whole path.
std::string globRegex(std::string_view glob) {
  std::string out = "^";
  for (std::size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    if (c == '*') {
      const bool any = i + 1 < glob.size() && glob[i + 1] == '*';
      out += any ? ".*" : "[^/]*";
      if (any) ++i;
    } else if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      out += c;
    } else {
      out += '\\';
      out += c;
    }
  }
  return out + "$";
}

// The naive SQL: sessions computed from the raw events of the range with window functions
// (docs/metrics.md), written here independently of the engine. Every question starts with this
// WITH clause, over the events of website $1 in the days $2 … $3 of `zone` (all its events when
// !range):
// - n: each event with its day (in the website's zone), session key k and visit number vn (a new
//   visit where the gap to the key's previous event that day exceeds 30 minutes);
// - vb: one row per visit: the visitor, attributes of its first event ('' when missing), entry
//   and exit page (first and last page view; NULL without one), start, page views (pv), events
//   (ev), bounce (fewer than 2 page views, no interactive custom event), duration in ms.
std::string visitsSql(const std::string& zone, bool range) {
  const std::string z = literal(zone);
  const std::string where = range ? fmt::format(
                                        " AND ev.ts >= $2::date::timestamp AT TIME ZONE {0}"
                                        " AND ev.ts < ($3::date + 1)::timestamp AT TIME ZONE {0}",
                                        z)
                                  : std::string();
  return fmt::format(
      "WITH e AS (SELECT ev.*, (ev.ts AT TIME ZONE {0})::date AS day,"
      " coalesce(ev.session_id, 'v' || ev.visitor_id, 'e' || ev.id) AS k FROM events ev"
      " WHERE ev.website_id = $1::uuid{1}),"
      " g AS (SELECT e.*, CASE WHEN lag(e.ts) OVER (PARTITION BY e.day, e.k ORDER BY e.ts, e.id)"
      " >= e.ts - interval '30 minutes' THEN 0 ELSE 1 END AS nv FROM e),"
      " n AS (SELECT g.*, sum(g.nv) OVER (PARTITION BY g.day, g.k ORDER BY g.ts, g.id) AS vn"
      " FROM g),"
      " vb AS (SELECT day, k, vn, (array_agg(visitor_id ORDER BY ts, id))[1] AS visitor,"
      " (array_agg(coalesce(country, '') ORDER BY ts, id))[1] AS country,"
      " (array_agg(coalesce(browser, '') ORDER BY ts, id))[1] AS browser,"
      " (array_agg(coalesce(os, '') ORDER BY ts, id))[1] AS os,"
      " (array_agg(coalesce(device, '') ORDER BY ts, id))[1] AS device,"
      " (array_agg(coalesce(referrer_host, '') ORDER BY ts, id))[1] AS referrer,"
      " (array_agg(coalesce(source, '') ORDER BY ts, id))[1] AS source,"
      " (array_agg(utm_campaign ORDER BY ts, id))[1] AS utm_campaign,"
      " (array_agg(coalesce(page, '') ORDER BY ts, id)"
      " FILTER (WHERE event_type = 'pageview'))[1] AS entry,"
      " (array_agg(coalesce(page, '') ORDER BY ts DESC, id DESC)"
      " FILTER (WHERE event_type = 'pageview'))[1] AS exit,"
      " min(ts) AS started, count(*) FILTER (WHERE event_type = 'pageview') AS pv,"
      " count(*) AS ev, count(*) FILTER (WHERE event_type = 'pageview') < 2"
      " AND count(*) FILTER (WHERE event_type <> 'pageview' AND interactive) = 0 AS bounce,"
      " (extract(epoch FROM max(ts) - min(ts)) * 1000)::bigint AS ms FROM n GROUP BY day, k, vn)",
      z, where);
}

// The sums of a group of visits, in the order visitors, visits, pageviews, events, bounces,
// duration_ms: visitors are distinct per day and summed; `pv` and `ev` are what counts of each
// visit (only the matching events under an event filter).
std::string sumsSql(std::string_view pv, std::string_view ev) {
  return fmt::format(
      "count(DISTINCT vb.day::text || ':' || vb.visitor::text), count(*),"
      " coalesce(sum({}), 0), coalesce(sum({}), 0), count(*) FILTER (WHERE vb.bounce),"
      " coalesce(sum(vb.ms), 0)",
      pv, ev);
}

// The condition on an event (of n) of an event filter.
std::string eventCondition(const Filter& f) {
  if (f.dimension == "page") return "coalesce(page, '') = " + literal(f.value);
  // prop:KEY
  return fmt::format("coalesce(props ->> {}, '') = {}", literal(f.dimension.substr(5)),
                     literal(f.value));
}

// The condition on a visit (of vb) of a visit filter.
std::string visitCondition(const Filter& f) {
  return fmt::format("coalesce(vb.{}, '') = {}", f.dimension, literal(f.value));
}

// Visit metrics grouped by `group` (an expression over vb, e.g. "vb.day", or "" for an event
// dimension `eventValue` over n), under an optional filter; columns: the group's value, then the
// sums. `tail` follows (ORDER BY, LIMIT).
std::string groupedSql(const std::string& zone, bool range, const std::string& group,
                       const std::string& eventValue, const std::optional<Filter>& filter,
                       const std::string& tail) {
  std::string sql = visitsSql(zone, range);
  std::string where = group.empty() ? "true" : group + " IS NOT NULL";
  if (filter && !filter->onEvents) where += " AND " + visitCondition(*filter);
  if (!eventValue.empty() || (filter && filter->onEvents)) {
    // Per visit (and value of the event dimension): the matching events.
    const std::string cond = filter && filter->onEvents ? eventCondition(*filter) : "true";
    const std::string value = eventValue.empty() ? "''" : eventValue;
    sql += fmt::format(
        ", x AS (SELECT day, k, vn, {0} AS value, count(*) FILTER (WHERE event_type ="
        " 'pageview') AS pv, count(*) AS ev FROM n WHERE {1} AND {0} IS NOT NULL"
        " GROUP BY 1, 2, 3, 4)",
        value, cond);
    sql +=
        fmt::format(" SELECT {}, {} FROM x JOIN vb USING (day, k, vn) WHERE {} GROUP BY 1 {}",
                    eventValue.empty() ? group : "x.value", sumsSql("x.pv", "x.ev"), where, tail);
  } else {
    sql += fmt::format(" SELECT {}, {} FROM vb WHERE {} GROUP BY 1 {}", group,
                       sumsSql("vb.pv", "vb.ev"), where, tail);
  }
  return sql;
}

// A top list: the `kLimit` values with the most page views (events for event types), ties in
// byte order.
std::string topSql(const std::string& zone, const std::string& group, const std::string& eventValue,
                   const std::optional<Filter>& filter, bool byEvents = false) {
  const std::string value = eventValue.empty() ? group : std::string("x.value");
  return groupedSql(
      zone, true, group, eventValue, filter,
      fmt::format("ORDER BY {} DESC, {} COLLATE \"C\" LIMIT {}", byEvents ? 5 : 4, value, kLimit));
}

// Events in their own hour, visits (bounces, durations) in the hour they began: columns epoch
// ms of the hour, then the sums.
std::string hourSql(const std::string& zone) {
  return visitsSql(zone, true) +
         fmt::format(
             ", h AS (SELECT date_trunc('hour', n.ts, {0}) AS hour,"
             " count(DISTINCT vb.visitor) AS visitors,"
             " count(*) FILTER (WHERE n.event_type = 'pageview') AS pv, count(*) AS ev"
             " FROM n JOIN vb USING (day, k, vn) GROUP BY 1),"
             " s AS (SELECT date_trunc('hour', vb.started, {0}) AS hour, count(*) AS visits,"
             " count(*) FILTER (WHERE vb.bounce) AS bounces, sum(vb.ms) AS ms FROM vb GROUP BY 1)"
             " SELECT (extract(epoch FROM h.hour) * 1000)::bigint, h.visitors,"
             " coalesce(s.visits, 0), h.pv, h.ev, coalesce(s.bounces, 0), coalesce(s.ms, 0)"
             " FROM h FULL JOIN s USING (hour)",
             literal(zone));
}

// The goal's condition on an event of n.
std::string goalCondition(const GoalDef& g) {
  if (!g.page) return "event_type = " + literal(g.target);
  return "event_type = 'pageview' AND coalesce(page, '') ~ " + literal(globRegex(g.target));
}

// One row: the visitors of the range, then per goal its visitors (distinct per day, summed) and
// its events.
std::string goalsSql(const std::string& zone) {
  std::string sql = visitsSql(zone, true) +
                    " SELECT (SELECT count(DISTINCT vb.day::text || ':' || vb.visitor::text)"
                    " FROM vb)";
  for (const auto& g : benchGoals()) {
    const std::string c = goalCondition(g);
    sql += fmt::format(
        ", count(DISTINCT n.day::text || ':' || vb.visitor::text) FILTER (WHERE {0}),"
        " count(*) FILTER (WHERE {0})",
        c);
  }
  return sql + " FROM n JOIN vb USING (day, k, vn)";
}

// Per visit that has an event of a funnel step: its day, visitor, and its events of the steps in
// order, each as a letter whose bits say which steps it is (the walk is done in C++); the first
// row (day NULL) carries the visitors of the range instead.
std::string funnelSql(const std::string& zone) {
  std::string mask;
  for (std::size_t i = 0; i < std::size(kFunnelSteps); ++i) {
    const auto& g = benchGoals()[static_cast<std::size_t>(kFunnelSteps[i])];
    mask += fmt::format("{}(CASE WHEN {} THEN {} ELSE 0 END)", i ? " + " : "", goalCondition(g),
                        1 << i);
  }
  return visitsSql(zone, true) +
         fmt::format(
             ", m AS (SELECT day, k, vn, ts, id, {} AS mask FROM n)"
             " SELECT NULL::text, NULL::bigint, count(DISTINCT vb.day::text || ':' ||"
             " vb.visitor::text)::text FROM vb"
             " UNION ALL (SELECT m.day::text, vb.visitor, string_agg(chr(64 + m.mask), ''"
             " ORDER BY m.ts, m.id) FROM m JOIN vb USING (day, k, vn) WHERE m.mask > 0"
             " GROUP BY m.day, m.k, m.vn, vb.visitor)",
             mask);
}

// The query parameter of one filter (Plausible's filter syntax, API.md).
std::string filterParam(const Filter& f) {
  return "&filters=" + urlEncode(json::array({json::array({"is", f.dimension, {f.value}})}).dump());
}

// The questions asked of one range. `extended`: the filters, goals and the funnel too.
std::vector<Question> questions(int rangeDays, const std::string& zone, bool extended,
                                const std::string& funnelId) {
  std::vector<Question> list;
  // The overview: every block (all time, today, 7 days, the range) from the totals per day of
  // all the website's events.
  const auto overview = [&](const std::string& name, const std::optional<Filter>& f) {
    list.push_back({name, "/overview", f ? filterParam(*f) : "",
                    groupedSql(zone, false, "vb.day::text", "", f, ""), false, Shape::kOverview, "",
                    ""});
  };
  const auto topPages = [&](const std::string& name, const std::optional<Filter>& f) {
    list.push_back(
        {name, "/top-pages", (f ? filterParam(*f) : "") + fmt::format("&limit={}", kLimit),
         topSql(zone, "", "coalesce(page, '')", f), true, Shape::kList, "pages", "page"});
  };
  overview("overview", std::nullopt);
  topPages("top-pages", std::nullopt);
  list.push_back({"realtime", "/realtime", "",
                  "SELECT count(DISTINCT session_id) FROM events WHERE website_id = $1::uuid"
                  " AND ts >= now() - interval '5 minutes'",
                  false, Shape::kRealtime, "", ""});
  list.push_back({"timeseries-day", "/timeseries", "&interval=day",
                  groupedSql(zone, true, "vb.day::text", "", std::nullopt, ""), true,
                  Shape::kSeries, "", ""});
  if (rangeDays <= 7) {
    list.push_back({"timeseries-hour", "/timeseries", "&interval=hour", hourSql(zone), true,
                    Shape::kHourSeries, "", ""});
  }
  const std::pair<const char*, const char*> dimensions[] = {
      {"page", ""},     {"referrer", "vb.referrer"}, {"browser", "vb.browser"},
      {"os", "vb.os"},  {"device", "vb.device"},     {"country", "vb.country"},
      {"eventType", ""}};
  for (const auto& [dimension, column] : dimensions) {
    const std::string d = dimension;
    const bool eventTypes = d == "eventType";
    const std::string eventValue =
        d == "page" ? "coalesce(page, '')" : (eventTypes ? "event_type" : "");
    Question q{"breakdown-" + d,
               "/breakdown",
               fmt::format("&dimension={}&limit={}", d, kLimit),
               topSql(zone, column, eventValue, std::nullopt, eventTypes),
               true,
               Shape::kList,
               "rows",
               "value"};
    q.viewsAreEvents = eventTypes;
    list.push_back(std::move(q));
  }
  for (const auto& [endpoint, column] :
       {std::pair{"sources", "vb.source"}, std::pair{"entry-pages", "vb.entry"},
        std::pair{"exit-pages", "vb.exit"}}) {
    list.push_back({endpoint, std::string("/") + endpoint, fmt::format("&limit={}", kLimit),
                    topSql(zone, column, "", std::nullopt), true, Shape::kList, "rows", "value"});
  }
  if (!extended) return list;
  const Filter filters[] = {{"page", "/pricing", true},
                            {"country", "DE", false},
                            {"source", "Google", false},
                            {"utm_campaign", "launch", false},
                            {"prop:plan", "pro", true}};
  for (const auto& f : filters) {
    const std::string suffix = f.dimension.rfind("prop:", 0) == 0 ? "prop" : f.dimension;
    overview("overview?" + suffix, f);
    topPages("top-pages?" + suffix, f);
  }
  list.push_back({"goals", "/goals", "", goalsSql(zone), true, Shape::kGoals, "", ""});
  if (!funnelId.empty()) {
    list.push_back(
        {"funnel-4", "/funnels/" + funnelId, "", funnelSql(zone), true, Shape::kFunnel, "", ""});
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

  Answer get(const std::string& path) { return request(path, nullptr); }

  /// A POST of a JSON body.
  Answer post(const std::string& path, const std::string& body) { return request(path, &body); }

 private:
  Answer request(const std::string& path, const std::string* post) {
    body_.clear();
    cache_.clear();
    const std::string url = base_ + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_slist* headers = headers_;
    curl_slist* extra = nullptr;
    if (post != nullptr) {
      extra = curl_slist_append(nullptr, "Content-Type: application/json");
      extra->next = headers_;
      headers = extra;
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, post->c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(post->size()));
    } else {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    const auto start = Clock::now();
    const CURLcode rc = curl_easy_perform(curl_);
    Answer a;
    a.micros = microsSince(start);
    if (rc != CURLE_OK) {
      a.error = curl_easy_strerror(rc);
      if (extra != nullptr) {
        extra->next = nullptr;
        curl_slist_free_all(extra);
        curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
      }
      return a;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &a.connects);
    a.body = std::move(body_);
    a.cache = cache_;
    if (extra != nullptr) {
      extra->next = nullptr;
      curl_slist_free_all(extra);
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    }
    return a;
  }

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

std::string requestPath(const Question& q, const std::string& website, const std::string& from,
                        const std::string& to) {
  std::string path = "/stats/" + website + q.path;
  if (q.shape == Shape::kRealtime) return path;
  return path + "?from=" + from + "&to=" + to + q.query;
}

struct Args {
  std::vector<std::string> positional;
  int count = 50;
  int warmup = 3;
  int maxSeconds = 20;  ///< per question: stop timing earlier when this is spent (bounded runs)
  std::string checkBase;
  std::string checkToken;
  bool extended = false;          ///< --extended: the filtered questions, goals and the funnel too
  std::string funnelId;           ///< --funnel ID: the funnel of `goals`
  std::vector<std::string> only;  ///< --only NAME,…: ask only these questions (http)
  bool keepGoing = false;  ///< --keep-going: an answer other than 200 is counted, not the end
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

std::chrono::sys_days dateOf(std::string_view text) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (std::sscanf(std::string(text).c_str(), "%d-%u-%u", &y, &m, &d) != 3) {
    throw std::runtime_error("not a date: " + std::string(text));
  }
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

std::string dateText(std::chrono::sys_days day) {
  const std::chrono::year_month_day ymd{day};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

int runHttp(const Args& args) {
  const auto& p = args.positional;  // BASE TOKEN WEBSITE FROM TO LABEL
  HttpClient client(p[0], p[1]);
  for (const auto& q : questions(daysBetween(p[3], p[4]), "UTC", args.extended, args.funnelId)) {
    if (!args.only.empty() &&
        std::find(args.only.begin(), args.only.end(), q.name) == args.only.end()) {
      continue;
    }
    const std::string path = requestPath(q, p[2], p[3], p[4]);
    Timings timings;
    std::map<std::string, int> caches;
    long status = 200;
    long connects = 0;
    std::size_t bytes = 0;
    std::string error;
    std::map<long, int> failed;  // --keep-going: answers other than 200, by status (0: none)
    const auto started = Clock::now();
    for (int i = 0; i < args.warmup + args.count; ++i) {
      if (!timings.micros.empty() && microsSince(started) > args.maxSeconds * 1e6) break;
      // Warming up stops too once the time is spent: a slow question gets one timed request.
      if (i < args.warmup && microsSince(started) > args.maxSeconds * 1e6) i = args.warmup;
      const auto a = client.get(path);
      if (!a.error.empty() || a.status != 200) {
        if (error.empty()) error = a.error.empty() ? a.body.substr(0, 200) : a.error;
        if (args.keepGoing) {
          ++failed[a.error.empty() ? a.status : 0];
          continue;
        }
        status = a.status;
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
    std::string failedText;
    for (const auto& [code, n] : failed) {
      failedText += (failedText.empty() ? "" : ",") + fmt::format("{}:{}", code, n);
    }
    std::printf(
        "BENCH kind=http label=%s endpoint=%s status=%ld %s cache=%s connects=%ld bytes=%zu "
        "failed=%s\n",
        p[5].c_str(), q.name.c_str(), status, timings.summary().c_str(),
        cacheText.empty() ? "-" : cacheText.c_str(), connects, bytes,
        failedText.empty() ? "-" : failedText.c_str());
    if (!error.empty()) {
      for (char& c : error) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      std::printf("NOTE %s %s: %s\n", p[5].c_str(), q.name.c_str(), error.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

// The sums of a group of visits, as the naive SQL answers them.
struct Sums {
  std::int64_t visitors = 0;
  std::int64_t visits = 0;
  std::int64_t pageviews = 0;
  std::int64_t events = 0;
  std::int64_t bounces = 0;
  std::int64_t durationMs = 0;
  Sums& operator+=(const Sums& o) {
    visitors += o.visitors;
    visits += o.visits;
    pageviews += o.pageviews;
    events += o.events;
    bounces += o.bounces;
    durationMs += o.durationMs;
    return *this;
  }
};

// The sums at columns c … c + 5 of a row.
Sums sumsAt(const mp::db::Result& r, int row, int c) {
  return {r.getInt(row, c),     r.getInt(row, c + 1), r.getInt(row, c + 2),
          r.getInt(row, c + 3), r.getInt(row, c + 4), r.getInt(row, c + 5)};
}

// num ÷ den rounded half up (non-negative num, positive den).
std::int64_t halfUp(std::int64_t num, std::int64_t den) {
  return (2 * num + den) / (2 * den);
}

// `part` ÷ `whole` in percent, two decimals, half up; 0 when whole is 0.
double percent(std::int64_t part, std::int64_t whole) {
  return whole <= 0 ? 0.0 : static_cast<double>(halfUp(part * 10'000, whole)) / 100.0;
}

// A number of the answer: integer or two-decimal figure.
std::optional<double> number(const json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<double>();
}

// "" when `got` has `want`'s value at `key`, else what differs.
std::string expectField(const json& got, const std::string& key, double want) {
  const auto value = number(got, key);
  if (!value) return key + ": missing";
  if (std::fabs(*value - want) > 0.001) return fmt::format("{}: {} vs SQL {}", key, *value, want);
  return {};
}

// "" when the metrics block `got` (views, visitors, visits, pageviews, events, bounceRate,
// visitDuration, viewsPerVisit) follows from `want`, else the first field that does not.
std::string compareBlock(const json& got, const Sums& want, bool viewsAreEvents = false) {
  const double bounceRate =
      want.visits == 0 ? 0.0 : static_cast<double>(halfUp(want.bounces * 100, want.visits));
  const double duration =
      want.visits == 0 ? 0.0 : static_cast<double>(halfUp(want.durationMs, want.visits * 1000));
  const double perVisit =
      want.visits == 0 ? 0.0
                       : static_cast<double>(halfUp(want.pageviews * 100, want.visits)) / 100.0;
  const std::pair<const char*, double> fields[] = {
      {"views", static_cast<double>(viewsAreEvents ? want.events : want.pageviews)},
      {"visitors", static_cast<double>(want.visitors)},
      {"visits", static_cast<double>(want.visits)},
      {"pageviews", static_cast<double>(want.pageviews)},
      {"events", static_cast<double>(want.events)},
      {"bounceRate", bounceRate},
      {"visitDuration", duration},
      {"viewsPerVisit", perVisit}};
  for (const auto& [key, value] : fields) {
    auto m = expectField(got, key, value);
    if (!m.empty()) return m;
  }
  return {};
}

struct CheckContext {
  std::string from;
  std::string to;
  std::string today;  ///< in the website's zone
  std::string info;   ///< what the SQL found worth printing (a funnel's visitors per step)
};

std::string compareOverview(const json& answer, const mp::db::Result& rows,
                            const CheckContext& ctx) {
  std::map<std::chrono::sys_days, Sums> perDay;
  for (int r = 0; r < rows.rows(); ++r) perDay[dateOf(rows.get(r, 0))] = sumsAt(rows, r, 1);
  const auto sum = [&perDay](std::chrono::sys_days from, std::chrono::sys_days to) {
    Sums s;
    for (const auto& [day, sums] : perDay) {
      if (day >= from && day <= to) s += sums;
    }
    return s;
  };
  const auto today = dateOf(ctx.today);
  const Sums all = sum(std::chrono::sys_days{}, std::chrono::sys_days::max());
  if (auto m = expectField(answer, "totalViews", static_cast<double>(all.pageviews)); !m.empty()) {
    return m;
  }
  if (auto m = expectField(answer, "uniqueVisitors", static_cast<double>(all.visitors));
      !m.empty()) {
    return m;
  }
  const std::pair<const char*, Sums> blocks[] = {
      {"total", all},
      {"today", sum(today, today)},
      {"last7Days", sum(today - std::chrono::days{6}, today)},
      {"range", sum(dateOf(ctx.from), dateOf(ctx.to))}};
  for (const auto& [key, want] : blocks) {
    if (!answer.contains(key)) return std::string(key) + ": missing";
    if (auto m = compareBlock(answer[key], want); !m.empty()) return std::string(key) + "." + m;
  }
  return {};
}

std::string compareSeries(const json& answer, const mp::db::Result& rows, const CheckContext& ctx) {
  std::map<std::string, Sums> perDay;
  for (int r = 0; r < rows.rows(); ++r) perDay[std::string(rows.get(r, 0))] = sumsAt(rows, r, 1);
  if (!answer.contains("points") || !answer["points"].is_array()) return "no points array";
  const auto& points = answer["points"];
  const int days = daysBetween(ctx.from, ctx.to);
  if (static_cast<int>(points.size()) != days) {
    return fmt::format("{} points vs {} days", points.size(), days);
  }
  for (int i = 0; i < days; ++i) {
    const std::string day = dateText(dateOf(ctx.from) + std::chrono::days{i});
    const auto& pt = points[static_cast<std::size_t>(i)];
    if (!pt.contains("t") || pt["t"] != day) return fmt::format("point {}: not {}", i, day);
    const auto it = perDay.find(day);
    if (auto m = compareBlock(pt, it == perDay.end() ? Sums{} : it->second); !m.empty()) {
      return day + ": " + m;
    }
  }
  return {};
}

std::string compareHours(const json& answer, const mp::db::Result& rows, const CheckContext& ctx) {
  std::map<std::int64_t, Sums> perHour;
  for (int r = 0; r < rows.rows(); ++r) perHour[rows.getInt(r, 0)] = sumsAt(rows, r, 1);
  if (!answer.contains("points") || !answer["points"].is_array()) return "no points array";
  const auto& points = answer["points"];
  // The website is in UTC (the generator's): 24 hours a day.
  const int hours = 24 * daysBetween(ctx.from, ctx.to);
  if (static_cast<int>(points.size()) != hours) {
    return fmt::format("{} points vs {} hours", points.size(), hours);
  }
  const std::int64_t first =
      std::chrono::duration_cast<std::chrono::milliseconds>(dateOf(ctx.from).time_since_epoch())
          .count();
  for (int i = 0; i < hours; ++i) {
    const auto it = perHour.find(first + std::int64_t{i} * 3'600'000);
    const auto& pt = points[static_cast<std::size_t>(i)];
    if (auto m = compareBlock(pt, it == perHour.end() ? Sums{} : it->second); !m.empty()) {
      return fmt::format("hour {} ({}): {}", i, pt.value("t", std::string("?")), m);
    }
  }
  return {};
}

// Lists: the answer's rows must be the SQL's in order; at a tie of the last place's views, another
// value may stand in for one of the SQL's.
std::string compareList(const Question& q, const json& answer, const mp::db::Result& rows) {
  if (!answer.contains(q.listKey) || !answer[q.listKey].is_array()) {
    return "no " + q.listKey + " array";
  }
  const auto& list = answer[q.listKey];
  if (static_cast<int>(list.size()) != rows.rows()) {
    return fmt::format("{} rows vs SQL {}", list.size(), rows.rows());
  }
  std::map<std::string, Sums> sql;
  for (int r = 0; r < rows.rows(); ++r) sql[std::string(rows.get(r, 0))] = sumsAt(rows, r, 1);
  const auto viewsAt = [&](int r) { return rows.getInt(r, q.viewsAreEvents ? 4 : 3); };
  for (int r = 0; r < rows.rows(); ++r) {
    const auto& row = list[static_cast<std::size_t>(r)];
    const std::string value = row.contains(q.valueKey) && row[q.valueKey].is_string()
                                  ? row[q.valueKey].get<std::string>()
                                  : std::string();
    const auto views = number(row, "views");
    if (!views) return fmt::format("row {}: views missing", r);
    if (static_cast<std::int64_t>(*views) != viewsAt(r)) {
      return fmt::format("row {} ({}): views {} vs SQL {} ({})", r, value, *views, viewsAt(r),
                         rows.get(r, 0));
    }
    const auto it = sql.find(value);
    if (it == sql.end()) {
      if (static_cast<std::int64_t>(*views) != viewsAt(rows.rows() - 1)) {
        return fmt::format("row {}: {} is not among the SQL's rows", r, value);
      }
      continue;  // tied with the last place: either may be shown
    }
    if (auto m = compareBlock(row, it->second, q.viewsAreEvents); !m.empty()) {
      return fmt::format("row {} ({}): {}", r, value, m);
    }
  }
  return {};
}

std::string compareGoals(const json& answer, const mp::db::Result& rows) {
  const std::int64_t visitors = rows.getInt(0, 0);
  if (auto m = expectField(answer, "visitors", static_cast<double>(visitors)); !m.empty()) {
    return m;
  }
  if (!answer.contains("goals") || !answer["goals"].is_array()) return "no goals array";
  const auto& goals = benchGoals();
  int found = 0;
  for (const auto& row : answer["goals"]) {
    const std::string type = row.value("type", std::string());
    const std::string target = row.value(type == "page" ? "pagePath" : "eventName", std::string());
    for (std::size_t i = 0; i < goals.size(); ++i) {
      if (goals[i].page != (type == "page") || goals[i].target != target) continue;
      ++found;
      const int c = 1 + 2 * static_cast<int>(i);
      const std::int64_t v = rows.getInt(0, c);
      for (const auto& [key, want] :
           {std::pair<const char*, double>{"visitors", static_cast<double>(v)},
            {"events", static_cast<double>(rows.getInt(0, c + 1))},
            {"conversionRate", percent(v, visitors)}}) {
        if (auto m = expectField(row, key, want); !m.empty()) return target + ": " + m;
      }
    }
  }
  if (found != static_cast<int>(goals.size())) {
    return fmt::format("{} of the {} goals in the answer", found, goals.size());
  }
  return {};
}

std::string compareFunnel(const json& answer, const mp::db::Result& rows, CheckContext& ctx) {
  constexpr std::size_t kSteps = std::size(kFunnelSteps);
  std::int64_t visitors = 0;
  std::array<std::set<std::string>, kSteps> reachedBy;  // "day:visitor"
  std::array<std::int64_t, kSteps> visits{};
  for (int r = 0; r < rows.rows(); ++r) {
    if (rows.isNull(r, 0)) {
      visitors = std::stoll(std::string(rows.get(r, 2)));
      continue;
    }
    // The walk: each event may take the next step; a step before its previous one is no step.
    std::size_t step = 0;
    for (const char c : rows.get(r, 2)) {
      if (step == kSteps) break;
      if (((c - 64) >> step & 1) != 0) {
        reachedBy[step].insert(std::string(rows.get(r, 0)) + ":" + std::string(rows.get(r, 1)));
        ++visits[step];
        ++step;
      }
    }
  }
  ctx.info = fmt::format("{}", visitors);
  for (const auto& s : reachedBy) ctx.info += fmt::format("/{}", s.size());
  if (auto m = expectField(answer, "visitors", static_cast<double>(visitors)); !m.empty()) {
    return m;
  }
  if (!answer.contains("steps") || !answer["steps"].is_array() ||
      answer["steps"].size() != kSteps) {
    return "not 4 steps";
  }
  const auto first = static_cast<std::int64_t>(reachedBy[0].size());
  for (std::size_t i = 0; i < kSteps; ++i) {
    const auto here = static_cast<std::int64_t>(reachedBy[i].size());
    const std::int64_t previous =
        i == 0 ? visitors : static_cast<std::int64_t>(reachedBy[i - 1].size());
    const std::pair<const char*, double> fields[] = {
        {"visitors", static_cast<double>(here)},
        {"visits", static_cast<double>(visits[i])},
        {"dropoff", i == 0 ? 0.0 : static_cast<double>(previous - here)},
        {"dropoffRate", i == 0 ? 0.0 : percent(previous - here, previous)},
        {"conversionRate", percent(here, first)},
        {"conversionRateStep", percent(here, previous)}};
    for (const auto& [key, want] : fields) {
      if (auto m = expectField(answer["steps"][i], key, want); !m.empty()) {
        return fmt::format("step {}: {}", i + 1, m);
      }
    }
  }
  return {};
}

// "" when the endpoint's answer agrees with the SQL rows, else where it does not.
std::string compare(const Question& q, const json& answer, const mp::db::Result& rows,
                    CheckContext& ctx) {
  switch (q.shape) {
    case Shape::kOverview:
      return compareOverview(answer, rows, ctx);
    case Shape::kSeries:
      return compareSeries(answer, rows, ctx);
    case Shape::kHourSeries:
      return compareHours(answer, rows, ctx);
    case Shape::kGoals:
      return compareGoals(answer, rows);
    case Shape::kFunnel:
      return compareFunnel(answer, rows, ctx);
    case Shape::kList:
      return compareList(q, answer, rows);
    case Shape::kRealtime:
      break;
  }
  return {};
}

int runSql(const Args& args) {
  const auto& p = args.positional;  // URL WEBSITE FROM TO LABEL
  mp::db::Connection conn(p[0], std::chrono::seconds(10));
  const auto site = conn.execArgs(
      "SELECT time_zone, (now() AT TIME ZONE time_zone)::date::text FROM websites"
      " WHERE id = $1::uuid",
      p[1]);
  if (site.rows() != 1) throw std::runtime_error("no website " + p[1]);
  const std::string zone(site.get(0, 0));
  CheckContext ctx{p[2], p[3], std::string(site.get(0, 1)), ""};
  std::optional<HttpClient> client;
  if (!args.checkBase.empty()) client.emplace(args.checkBase, args.checkToken);
  // The untimed runs are for the first question only, the overview, which reads every event of
  // the website: the others read the same rows, a part of them, warm by then.
  int warmup = args.warmup;
  for (const auto& q : questions(daysBetween(p[2], p[3]), zone, args.extended, args.funnelId)) {
    const mp::db::Params params =
        q.usesRange ? mp::db::Params{p[1], p[2], p[3]} : mp::db::Params{p[1]};
    Timings timings;
    std::optional<mp::db::Result> last;
    const auto started = Clock::now();
    for (int i = 0; i < warmup + args.count; ++i) {
      if (!timings.micros.empty() && microsSince(started) > args.maxSeconds * 1e6) break;
      const auto start = Clock::now();
      auto rows = conn.exec(q.sql, params);
      const double us = microsSince(start);
      if (i >= warmup) timings.micros.push_back(us);
      last.emplace(std::move(rows));
      // An untimed run already past the budget is timing enough.
      if (timings.micros.empty() && microsSince(started) > args.maxSeconds * 1e6) {
        timings.micros.push_back(us);
        break;
      }
    }
    warmup = 0;
    std::string check = "n/a";
    std::string detail;
    ctx.info.clear();
    if (client && q.shape != Shape::kRealtime && last) {
      const auto a = client->get(requestPath(q, p[1], p[2], p[3]));
      if (!a.error.empty() || a.status != 200) {
        check = "error";
        detail = a.error.empty() ? fmt::format("HTTP {}", a.status) : a.error;
      } else {
        const auto answer = json::parse(a.body, nullptr, false);
        detail = answer.is_discarded() ? "the answer is not JSON" : compare(q, answer, *last, ctx);
        check = detail.empty() ? "ok" : "mismatch";
      }
    }
    std::printf("BENCH kind=sql label=%s endpoint=%s %s rows=%d check=%s%s%s\n", p[4].c_str(),
                q.name.c_str(), timings.summary().c_str(), last ? last->rows() : 0, check.c_str(),
                ctx.info.empty() ? "" : " visitors_by_step=", ctx.info.c_str());
    if (!detail.empty()) {
      std::printf("CHECK %s %s: %s\n", p[4].c_str(), q.name.c_str(), detail.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

// Gives the website the bench's goals and funnel (those it has already are kept) and prints
// "FUNNEL id".
int runGoals(const Args& args) {
  const auto& p = args.positional;  // BASE TOKEN WEBSITE
  HttpClient client(p[0], p[1]);
  const std::string base = "/websites/" + p[2];
  const auto fail = [](const std::string& what, const HttpClient::Answer& a) {
    throw std::runtime_error(fmt::format(
        "{}: {}", what, a.error.empty() ? fmt::format("HTTP {} {}", a.status, a.body) : a.error));
  };
  for (const auto& g : benchGoals()) {
    const json body = {{g.page ? "pagePath" : "eventName", g.target}};
    const auto a = client.post(base + "/goals", body.dump());
    if (a.status != 201 && a.status != 409) fail("POST goal " + g.target, a);
  }
  const auto listed = client.get(base + "/goals");
  if (listed.status != 200) fail("GET goals", listed);
  std::vector<std::string> ids(benchGoals().size());
  const json goalList = json::parse(listed.body);
  for (const auto& row : goalList.at("goals")) {
    const bool page = row.value("type", std::string()) == "page";
    const std::string target = row.value(page ? "pagePath" : "eventName", std::string());
    for (std::size_t i = 0; i < benchGoals().size(); ++i) {
      if (benchGoals()[i].page == page && benchGoals()[i].target == target) {
        ids[i] = row.value("id", std::string());
      }
    }
  }
  json steps = json::array();
  for (const int i : kFunnelSteps) {
    const auto& id = ids[static_cast<std::size_t>(i)];
    if (id.empty()) {
      throw std::runtime_error("goal " + benchGoals()[static_cast<std::size_t>(i)].target +
                               " is not among the website's: " + listed.body.substr(0, 2000));
    }
    steps.push_back(id);
  }
  const auto made =
      client.post(base + "/funnels", json{{"name", kFunnelName}, {"steps", steps}}.dump());
  std::string funnelId;
  if (made.status == 201) {
    funnelId = json::parse(made.body).value("id", std::string());
  } else if (made.status == 409) {
    const auto funnels = client.get(base + "/funnels");
    if (funnels.status != 200) fail("GET funnels", funnels);
    const json funnelList = json::parse(funnels.body);
    for (const auto& f : funnelList.at("funnels")) {
      if (f.value("name", std::string()) == kFunnelName) funnelId = f.value("id", std::string());
    }
  } else {
    fail("POST funnel", made);
  }
  if (funnelId.empty()) throw std::runtime_error("the funnel was not found");
  std::printf("FUNNEL %s\n", funnelId.c_str());
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
    } else if (a == "--extended") {
      args.extended = true;
    } else if (a == "--funnel") {
      if (i + 1 >= argc) return false;
      args.funnelId = argv[++i];
    } else if (a == "--keep-going") {
      args.keepGoing = true;
    } else if (a == "--only") {
      if (i + 1 >= argc) return false;
      std::string_view names = argv[++i];
      while (!names.empty()) {
        const auto comma = names.find(',');
        args.only.emplace_back(names.substr(0, comma));
        names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
      }
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
                  (mode == "sql" && parseArgs(argc, argv, 2, 5, args)) ||
                  (mode == "goals" && parseArgs(argc, argv, 2, 3, args));
  if (!ok) {
    std::fprintf(stderr,
                 "usage: %s http BASE_URL TOKEN WEBSITE FROM TO LABEL [--requests N] [--warmup N]"
                 " [--max-seconds S] [--extended] [--funnel ID] [--only NAME,...] [--keep-going]\n"
                 "       %s sql DATABASE_URL WEBSITE FROM TO LABEL [--runs N] [--warmup N]"
                 " [--max-seconds S] [--check BASE_URL TOKEN] [--extended] [--funnel ID]\n"
                 "       %s goals BASE_URL TOKEN WEBSITE\n",
                 argv[0], argv[0], argv[0]);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = 1;
  try {
    if (mode == "http") {
      rc = runHttp(args);
    } else if (mode == "sql") {
      rc = runSql(args);
    } else {
      rc = runGoals(args);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_query_probe: %s\n", e.what());
  }
  curl_global_cleanup();
  return rc;
}
