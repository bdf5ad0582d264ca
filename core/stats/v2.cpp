// The Stats API v2 request, checked key by key with messages naming the key, and its answer.
#include "stats/v2.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <climits>
#include <set>
#include <string_view>
#include <utility>

#include "db/array.hpp"
#include "goals/goals.hpp"
#include "stats/conversions.hpp"
#include "stats/engine.hpp"
#include "stats/query_params.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace mp::stats::v2 {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using std::chrono::days;
using std::chrono::sys_days;

constexpr std::array<std::string_view, 8> kKeys = {"site_id",    "metrics", "date_range",
                                                   "dimensions", "filters", "order_by",
                                                   "pagination", "include"};
constexpr std::size_t kMaxDimensions = 10;
constexpr std::size_t kMaxSiteIdLength = 255;
// "Nmo": at most ten years of whole months.
constexpr int kMaxMonths = 120;

// The start of a JSON value for a message, cut short.
std::string shown(const json& value) {
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.size() > 60) text = text.substr(0, 60) + "…";
  return text;
}

std::string checkSiteId(const json& body) {
  const auto it = body.find("site_id");
  if (it == body.end() || it->is_null()) {
    throw InvalidInput("site_id", "site_id is required: the website's id or its domain");
  }
  if (!it->is_string() || it->get<std::string>().empty() ||
      it->get<std::string>().size() > kMaxSiteIdLength) {
    throw InvalidInput("site_id", "site_id must be the website's id or its domain, as a string");
  }
  return it->get<std::string>();
}

std::vector<Metric> checkMetrics(const json& body) {
  const auto it = body.find("metrics");
  if (it == body.end() || it->is_null()) {
    throw InvalidInput("metrics", "metrics is required, e.g. [\"visitors\", \"pageviews\"]");
  }
  if (!it->is_array() || it->empty()) {
    throw InvalidInput("metrics", "metrics must be a non-empty array of metric names");
  }
  std::vector<Metric> out;
  for (const auto& m : *it) {
    const auto metric = m.is_string() ? metricNamed(m.get<std::string>()) : std::nullopt;
    if (!metric) {
      throw InvalidInput("metrics",
                         fmt::format("metrics: \"{}\" is not answered; the metrics are visitors, "
                                     "visits, pageviews, events, views_per_visit, bounce_rate, "
                                     "visit_duration and conversion_rate",
                                     shown(m)));
    }
    if (std::find(out.begin(), out.end(), *metric) != out.end()) {
      throw InvalidInput("metrics",
                         fmt::format("metrics: \"{}\" is asked for twice", name(*metric)));
    }
    out.push_back(*metric);
  }
  return out;
}

// A whole number of `suffix` units ("7d", "6mo") from 1 to `max`; nullopt when `text` is not one.
std::optional<int> countOf(const std::string& text, std::string_view suffix, int max,
                           bool& tooMany) {
  if (text.size() <= suffix.size() ||
      text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  const std::string digits = text.substr(0, text.size() - suffix.size());
  if (digits.size() > 6 || digits[0] == '0' ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int n = std::stoi(digits);
  if (n > max) tooMany = true;
  return n;
}

bool looksLikeDateTime(const std::string& text) {
  return text.find('T') != std::string::npos || text.find(':') != std::string::npos;
}

DateSpec checkDateRange(const json& body) {
  const auto it = body.find("date_range");
  if (it == body.end() || it->is_null()) {
    throw InvalidInput("date_range",
                       "date_range is required: \"day\", \"7d\", \"28d\", \"30d\", \"91d\", "
                       "\"month\", \"6mo\", \"12mo\", \"year\", \"all\" or [\"YYYY-MM-DD\", "
                       "\"YYYY-MM-DD\"]");
  }
  DateSpec spec;
  if (it->is_string()) {
    const std::string text = it->get<std::string>();
    if (text == "day" || text == "month" || text == "year" || text == "all") {
      spec.shorthand = text;
      return spec;
    }
    bool tooMany = false;
    if (countOf(text, "d", kMaxRangeDays, tooMany) || countOf(text, "mo", kMaxMonths, tooMany)) {
      if (tooMany) {
        throw InvalidInput("date_range", fmt::format("date_range \"{}\" is longer than the {} days "
                                                     "answered",
                                                     shown(*it), kMaxRangeDays));
      }
      spec.shorthand = text;
      return spec;
    }
    if (text == "realtime" || text == "30m" || text == "24h") {
      throw InvalidInput("date_range", fmt::format("date_range \"{}\" is not answered: ranges are "
                                                   "whole days (use \"day\" for today)",
                                                   text));
    }
    throw InvalidInput(
        "date_range", fmt::format("date_range \"{}\" is not a range: use \"day\", \"7d\", \"28d\", "
                                  "\"30d\", \"91d\", \"month\", \"6mo\", \"12mo\", \"year\", "
                                  "\"all\" or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]",
                                  shown(*it)));
  }
  if (!it->is_array() || it->size() != 2 || !(*it)[0].is_string() || !(*it)[1].is_string()) {
    throw InvalidInput("date_range",
                       fmt::format("date_range must be a shorthand such as \"7d\" or two dates "
                                   "[\"YYYY-MM-DD\", \"YYYY-MM-DD\"], not {}",
                                   shown(*it)));
  }
  const std::string fromText = (*it)[0].get<std::string>();
  const std::string toText = (*it)[1].get<std::string>();
  const auto from = util::parseDate(fromText);
  const auto to = util::parseDate(toText);
  if (!from || !to) {
    if (looksLikeDateTime(fromText) || looksLikeDateTime(toText)) {
      throw InvalidInput("date_range",
                         "date_range: only dates are supported ([\"YYYY-MM-DD\", \"YYYY-MM-DD\"], "
                         "days of the website's time zone), not date-times");
    }
    throw InvalidInput("date_range", fmt::format("date_range must hold two dates (YYYY-MM-DD), "
                                                 "not {}",
                                                 shown(*it)));
  }
  if (*from < kFirstDate || *to > kLastDate) {
    throw InvalidInput("date_range", "date_range must lie between 1970-01-01 and 9999-12-31");
  }
  if (*from > *to) {
    throw InvalidInput("date_range",
                       fmt::format("date_range starts ({}) after it ends ({})", fromText, toText));
  }
  const DateRange range{*from, *to};
  if (range.days() > kMaxRangeDays) {
    throw InvalidInput("date_range",
                       fmt::format("date_range covers {} days; at most {} are answered",
                                   range.days(), kMaxRangeDays));
  }
  spec.dates = range;
  return spec;
}

void checkDimensions(const json& body, Request& request) {
  const auto it = body.find("dimensions");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_array()) {
    throw InvalidInput("dimensions", "dimensions must be an array of dimension names");
  }
  if (it->size() > kMaxDimensions) {
    throw InvalidInput("dimensions",
                       fmt::format("dimensions: at most {} are answered at once", kMaxDimensions));
  }
  std::optional<std::size_t> eventLevel;  // index of the event dimension or time:hour
  for (const auto& d : *it) {
    std::string given = d.is_string() ? d.get<std::string>() : std::string();
    if (given == "time") given = "time:day";
    const auto dim = dimensionNamed(given);
    if (!dim) {
      throw InvalidInput("dimensions",
                         fmt::format("dimensions: \"{}\" is not a dimension MetricPulse answers "
                                     "(docs/api-v2.md lists them)",
                                     shown(d)));
    }
    if (std::find(request.dimensions.begin(), request.dimensions.end(), *dim) !=
        request.dimensions.end()) {
      throw InvalidInput("dimensions", fmt::format("dimensions: \"{}\" is asked for twice", given));
    }
    request.dimensions.push_back(*dim);
    request.dimensionNames.push_back(given);
    if (dim->kind == DimensionKind::kEvent || dim->name == "time:hour") {
      if (eventLevel) {
        throw InvalidInput("dimensions",
                           fmt::format("dimensions: \"{}\" and \"{}\" cannot be combined: at most "
                                       "one of the event dimensions (event:page, event:name, "
                                       "event:props:…) and time:hour per query",
                                       request.dimensionNames[*eventLevel], given));
      }
      eventLevel = request.dimensions.size() - 1;
    }
  }
}

void checkFilters(const json& body, Request& request) {
  const auto it = body.find("filters");
  if (it == body.end() || it->is_null()) return;
  if (it->is_array()) {
    for (const auto& f : *it) {
      if (!f.is_array() || f.empty() || !f[0].is_string()) continue;
      const std::string op = f[0].get<std::string>();
      if (op == "and" || op == "or" || op == "not") {
        throw InvalidInput("filters",
                           fmt::format("filters: the logical operator \"{}\" is not supported; "
                                       "list the filters instead (all of them must hold)",
                                       op));
      }
      if (op == "has_done" || op == "has_not_done") {
        throw InvalidInput("filters",
                           fmt::format("filters: the operator \"{}\" is not supported", op));
      }
      if (f.size() == 4) {
        throw InvalidInput(
            "filters",
            fmt::format("filters: filter modifiers such as {} are not supported", shown(f[3])));
      }
    }
  }
  // Goals by their names: ["is", "event:goal", ["Signup"]], resolved with the website.
  json rest = json::array();
  if (it->is_array()) {
    for (const auto& f : *it) {
      if (f.is_array() && f.size() == 3 && f[1] == "event:goal") {
        if (f[0] != "is" || !f[2].is_array() || f[2].size() != 1 || !f[2][0].is_string()) {
          throw InvalidInput("filters",
                             "filters: event:goal takes the operator is and one goal's name, "
                             "e.g. [\"is\", \"event:goal\", [\"Signup\"]]");
        }
        request.goals.push_back(f[2][0].get<std::string>());
      } else {
        rest.push_back(f);
      }
    }
  } else {
    rest = *it;
  }
  request.filters = filtersFromJson(rest, "filters");
  request.filtersJson = *it;
}

void checkOrderBy(const json& body, Request& request) {
  const auto it = body.find("order_by");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_array()) {
    throw InvalidInput("order_by",
                       "order_by must be an array of [metric or dimension, \"asc\" or "
                       "\"desc\"]");
  }
  for (const auto& entry : *it) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_string() ||
        (entry[1] != "asc" && entry[1] != "desc")) {
      throw InvalidInput("order_by", fmt::format("order_by: each entry must be [metric or "
                                                 "dimension, \"asc\" or \"desc\"], not {}",
                                                 shown(entry)));
    }
    const std::string what = entry[0].get<std::string>();
    bool known = false;
    if (const auto m = metricNamed(what)) {
      known =
          std::find(request.metrics.begin(), request.metrics.end(), *m) != request.metrics.end();
    } else if (const auto d = dimensionNamed(what == "time" ? "time:day" : what)) {
      known = std::find(request.dimensions.begin(), request.dimensions.end(), *d) !=
              request.dimensions.end();
    }
    if (!known) {
      throw InvalidInput("order_by", fmt::format("order_by: \"{}\" is not one of the query's "
                                                 "metrics or dimensions",
                                                 shown(entry[0])));
    }
    request.orderBy.emplace_back(what, entry[1] == "desc");
  }
}

int checkWholeNumber(const json& value, const char* what, long long min, long long max) {
  if (!value.is_number_integer() || value.get<long long>() < min || value.get<long long>() > max) {
    throw InvalidInput("pagination", fmt::format("pagination.{} must be a whole number from {} to "
                                                 "{}, not {}",
                                                 what, min, max, shown(value)));
  }
  return static_cast<int>(value.get<long long>());
}

void checkPagination(const json& body, Request& request) {
  const auto it = body.find("pagination");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) {
    throw InvalidInput("pagination", "pagination must be an object {\"limit\": …, \"offset\": …}");
  }
  for (const auto& [key, value] : it->items()) {
    if (key == "limit") {
      request.limit = checkWholeNumber(value, "limit", 1, kMaxLimit);
    } else if (key == "offset") {
      request.offset = checkWholeNumber(value, "offset", 0, INT_MAX - kMaxLimit);
    } else {
      throw InvalidInput("pagination", fmt::format("pagination: unknown key \"{}\"; it takes limit "
                                                   "and offset",
                                                   shown(json(key))));
    }
  }
}

void checkInclude(const json& body, Request& request) {
  const auto it = body.find("include");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw InvalidInput("include", "include must be an object");
  for (const auto& [key, value] : it->items()) {
    bool* flag = nullptr;
    if (key == "imports") flag = &request.include.imports;
    if (key == "time_labels") flag = &request.include.timeLabels;
    if (key == "total_rows") flag = &request.include.totalRows;
    if (!flag) {
      throw InvalidInput("include",
                         fmt::format("include.{} is not supported; include takes imports, "
                                     "time_labels and total_rows",
                                     shown(json(key))));
    }
    if (!value.is_boolean()) {
      throw InvalidInput("include", fmt::format("include.{} must be true or false", key));
    }
    *flag = value.get<bool>();
  }
  if (request.include.timeLabels &&
      std::none_of(request.dimensions.begin(), request.dimensions.end(),
                   [](const Dim& d) { return d.kind == DimensionKind::kTime; })) {
    throw InvalidInput("include",
                       "include.time_labels needs a time dimension (time:hour, "
                       "time:day, time:week or time:month)");
  }
}

// The order the answer follows: as asked, else the time dimensions ascending when there are any,
// else the first metric descending (the engine's default, spelt out).
std::vector<std::pair<std::string, bool>> effectiveOrder(const Request& request) {
  if (!request.orderBy.empty()) return request.orderBy;
  std::vector<std::pair<std::string, bool>> out;
  for (std::size_t i = 0; i < request.dimensions.size(); ++i) {
    if (request.dimensions[i].kind == DimensionKind::kTime) {
      out.emplace_back(request.dimensionNames[i], false);
    }
  }
  if (out.empty()) out.emplace_back(std::string(name(request.metrics.front())), true);
  return out;
}

ojson metricValue(Metric metric, const Totals& totals) {
  const double v = value(metric, totals);
  if (metric == Metric::kViewsPerVisit || metric == Metric::kConversionRate) return v;
  return static_cast<std::int64_t>(v);
}

// Every bucket of the time dimension `dim` over `range`, as response() writes the values.
std::vector<std::string> timeLabels(db::Connection& conn, const Dim& dim, const DateRange& range,
                                    const std::string& zone) {
  std::vector<std::string> out;
  if (dim.name == "time:day") {
    for (sys_days d = range.from; d <= range.to; d += days{1}) out.push_back(util::formatDate(d));
  } else if (dim.name == "time:week") {
    out.push_back(util::formatDate(range.from));
    const unsigned weekday = std::chrono::weekday{range.from}.c_encoding();  // 0 Sunday, 1 Monday
    sys_days monday = range.from + days{weekday == 1 ? 7 : (8 - weekday) % 7};
    for (; monday <= range.to; monday += days{7}) out.push_back(util::formatDate(monday));
  } else if (dim.name == "time:month") {
    const std::chrono::year_month_day first{range.from};
    for (auto ym = first.year() / first.month(); sys_days{ym / 1} <= range.to;
         ym += std::chrono::months{1}) {
      out.push_back(util::formatDate(sys_days{ym / 1}));
    }
  } else {
    // The zone's hours, daylight-saving changes included (23 or 25 a day).
    auto r = conn.execArgs(
        "SELECT to_char(h AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') FROM generate_series("
        "($1::date)::timestamp AT TIME ZONE $3, ($2::date + 1)::timestamp AT TIME ZONE $3"
        " - interval '1 second', interval '1 hour') h",
        util::formatDate(range.from), util::formatDate(range.to), zone);
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
  }
  return out;
}

}  // namespace

Request parseRequest(const json& body) {
  if (!body.is_object()) throw InvalidInput("body", "the body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      throw InvalidInput(key, fmt::format("unknown key \"{}\": a query takes site_id, metrics, "
                                          "date_range, dimensions, filters, order_by, pagination "
                                          "and include",
                                          shown(json(key))));
    }
  }
  Request request;
  request.siteId = checkSiteId(body);
  request.metrics = checkMetrics(body);
  request.dateRange = checkDateRange(body);
  checkDimensions(body, request);
  checkFilters(body, request);
  const bool conversion = std::find(request.metrics.begin(), request.metrics.end(),
                                    Metric::kConversionRate) != request.metrics.end();
  const bool goal =
      !request.goals.empty() ||
      std::any_of(request.filters.begin(), request.filters.end(),
                  [](const Filter& f) { return f.dimension.kind == DimensionKind::kEvent; });
  if (conversion && !goal) {
    throw InvalidInput("metrics",
                       "metrics: conversion_rate needs a goal: an event:goal filter (or one on "
                       "event:name, event:page or event:props:…)");
  }
  checkOrderBy(body, request);
  checkPagination(body, request);
  checkInclude(body, request);
  return request;
}

DateRange resolveRange(const DateSpec& spec, sys_days today,
                       const std::function<std::optional<sys_days>()>& startDay) {
  using std::chrono::months;
  using std::chrono::year_month_day;
  if (spec.dates) return *spec.dates;
  const year_month_day ymd{today};
  const auto thisMonth = ymd.year() / ymd.month();
  const std::string& s = spec.shorthand;
  if (s == "day") return {today, today};
  if (s == "month") return {sys_days{thisMonth / 1}, sys_days{thisMonth / std::chrono::last}};
  if (s == "year") {
    return {sys_days{ymd.year() / 1 / 1}, sys_days{ymd.year() / 12 / 31}};
  }
  if (s == "all") {
    sys_days from = startDay ? startDay().value_or(today) : today;
    from = std::clamp(from, today - days{kMaxRangeDays - 1}, today);
    return {from, today};
  }
  bool tooMany = false;
  if (const auto n = countOf(s, "mo", kMaxMonths, tooMany)) {
    return {sys_days{(thisMonth - months{*n}) / 1},
            sys_days{(thisMonth - months{1}) / std::chrono::last}};
  }
  if (const auto n = countOf(s, "d", kMaxRangeDays, tooMany)) {
    return {today - days{*n}, today - days{1}};
  }
  throw InvalidInput("date_range", "date_range \"" + s + "\" is not a range");
}

std::optional<sys_days> startDay(db::Connection& conn, const Site& site) {
  auto r = conn.execArgs(
      "SELECT coalesce((SELECT (min(ts) AT TIME ZONE $2)::date FROM events"
      " WHERE website_id = w.id), (w.created_at AT TIME ZONE $2)::date)::text"
      " FROM websites w WHERE w.id = $1::uuid",
      site.id, site.timeZone);
  if (r.rows() == 0 || r.isNull(0, 0)) return std::nullopt;
  return util::parseDate(r.get(0, 0));
}

Query toQuery(const Request& request, const Site& site, const DateRange& range) {
  Query q;
  q.websiteId = site.id;
  q.timeZone = site.timeZone;
  q.range = range;
  q.metrics = request.metrics;
  q.dimensions = request.dimensions;
  q.filters = request.filters;
  for (const auto& [what, descending] : effectiveOrder(request)) {
    Order order;
    order.descending = descending;
    if (const auto m = metricNamed(what)) {
      order.metric = *m;
    } else {
      order.dimension = dimensionNamed(what == "time" ? "time:day" : what);
    }
    q.orderBy.push_back(std::move(order));
  }
  if (request.include.totalRows) {
    q.limit = INT_MAX;
    q.offset = 0;
  } else {
    q.limit = request.limit;
    q.offset = request.offset;
  }
  return q;
}

ojson echo(const Request& request, const Site& site, const DateRange& range) {
  ojson metrics = ojson::array();
  for (const auto m : request.metrics) metrics.push_back(std::string(name(m)));
  ojson order = ojson::array();
  for (const auto& [what, descending] : effectiveOrder(request)) {
    order.push_back(ojson::array({what, descending ? "desc" : "asc"}));
  }
  ojson include = ojson::object();
  if (request.include.imports) include["imports"] = true;
  if (request.include.timeLabels) include["time_labels"] = true;
  if (request.include.totalRows) include["total_rows"] = true;
  ojson out;
  out["site_id"] = site.domain;
  out["metrics"] = std::move(metrics);
  out["date_range"] = ojson::array({util::formatDate(range.from), util::formatDate(range.to)});
  out["filters"] = ojson::parse(request.filtersJson.dump());
  out["dimensions"] = request.dimensionNames;
  out["order_by"] = std::move(order);
  out["include"] = std::move(include);
  out["pagination"] = {{"limit", request.limit}, {"offset", request.offset}};
  return out;
}

ojson response(const Request& request, const Site& site, const DateRange& range,
               const std::vector<Row>& rows, const Labels& labels) {
  std::size_t first = 0;
  std::size_t last = rows.size();
  if (request.include.totalRows) {
    first = std::min(rows.size(), static_cast<std::size_t>(request.offset));
    last = std::min(rows.size(), first + static_cast<std::size_t>(request.limit));
  }
  const std::string rangeStart = util::formatDate(range.from);
  ojson results = ojson::array();
  for (std::size_t r = first; r < last; ++r) {
    const Row& row = rows[r];
    ojson metrics = ojson::array();
    for (const auto m : request.metrics) metrics.push_back(metricValue(m, row.totals));
    ojson dimensions = ojson::array();
    for (std::size_t i = 0; i < request.dimensions.size() && i < row.dimensions.size(); ++i) {
      const std::string& dim = request.dimensions[i].name;
      const std::string& value = row.dimensions[i];
      if (dim == "time:hour") {
        const auto it = labels.hours.find(value);
        dimensions.push_back(it == labels.hours.end() ? value : it->second);
      } else if (dim == "time:week" && value < rangeStart) {
        // A week that began before the range is labelled by the range's first day, as Plausible
        // does; only the first week can.
        dimensions.push_back(rangeStart);
      } else {
        dimensions.push_back(value);
      }
    }
    ojson entry;
    entry["metrics"] = std::move(metrics);
    entry["dimensions"] = std::move(dimensions);
    results.push_back(std::move(entry));
  }
  ojson meta = ojson::object();
  if (request.include.imports) {
    // As Plausible answers: whether imported data is in the numbers, and why not.
    const auto& imported = labels.imported;
    meta["imports_included"] = imported && imported->included;
    if (!imported) {
      meta["imports_skip_reason"] = "no_imported_data";
    } else if (!imported->included) {
      meta["imports_skip_reason"] = "unsupported_query";
      meta["imports_warning"] = imported->reason;
    } else if (!imported->unavailable.empty()) {
      std::vector<std::string> names;
      for (const auto m : imported->unavailable) names.emplace_back(name(m));
      meta["imports_warning"] = "imported days count zero for " + util::join(names, ", ") +
                                ": their aggregates lack them";
    }
  }
  if (request.include.timeLabels) meta["time_labels"] = labels.timeLabels;
  if (request.include.totalRows) meta["total_rows"] = rows.size();
  ojson out;
  out["results"] = std::move(results);
  out["meta"] = std::move(meta);
  out["query"] = echo(request, site, range);
  return out;
}

ojson answer(db::Connection& conn, const Request& request, const Site& site,
             const DateRange& range) {
  Query query = toQuery(request, site, range);
  // Imported history only when asked for, as Plausible's API does.
  query.withImported = request.include.imports;
  if (!request.goals.empty()) {
    const auto all = goals::listGoals(conn, site.id);
    for (const auto& wanted : request.goals) {
      const auto it = std::find_if(all.begin(), all.end(), [&wanted](const goals::Goal& g) {
        return g.name == wanted || g.target == wanted;
      });
      if (it == all.end()) {
        throw InvalidInput("filters", "filters: the website has no goal named \"" +
                                          wanted.substr(0, 80) +
                                          "\" (mpctl goal list, GET /websites/{id}/goals)");
      }
      for (auto& f : goalFilters(*it)) query.filters.push_back(std::move(f));
    }
  }
  const Answer result = run(conn, query);
  Labels labels;
  labels.imported = result.imported;
  for (std::size_t i = 0; i < request.dimensions.size(); ++i) {
    if (request.dimensions[i].name != "time:hour") continue;
    std::vector<std::string> instants;
    for (const auto& row : result.rows) instants.push_back(row.dimensions[i]);
    if (instants.empty()) break;
    auto r = conn.execArgs(
        "SELECT u, to_char(u::timestamptz AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI:SS')"
        " FROM unnest($1::text[]) AS u",
        db::arrayLiteral(instants), site.timeZone);
    for (int row = 0; row < r.rows(); ++row) {
      labels.hours.emplace(std::string(r.get(row, 0)), std::string(r.get(row, 1)));
    }
  }
  if (request.include.timeLabels) {
    for (const auto& d : request.dimensions) {
      if (d.kind != DimensionKind::kTime) continue;
      labels.timeLabels = timeLabels(conn, d, range, site.timeZone);
      break;
    }
  }
  return response(request, site, range, result.rows, labels);
}

}  // namespace mp::stats::v2
