// The stats routes: the request is checked on the HTTP worker (token, parameters), everything
// that waits (ownership, Redis, PostgreSQL) runs on the blocking pool.
#include "http/stats.hpp"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "db/pool.hpp"
#include "goals/goals.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "services.hpp"
#include "sites/sites.hpp"
#include "stats/cache.hpp"
#include "stats/conversions.hpp"
#include "stats/params.hpp"
#include "stats/query_params.hpp"
#include "stats/stats.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/url.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
using json = nlohmann::json;

namespace {

// What one stats request asks, its parameters checked on the HTTP worker. The range needs the
// website's time zone (its "today"), so it is settled with the website, on the blocking pool.
struct StatsQuery {
  std::string endpoint;   // "top-pages": metrics label and part of the cache key
  std::string websiteId;  // lower case
  std::optional<std::string> from;
  std::optional<std::string> to;
  std::vector<stats::Filter> filters;
  std::string filtersKey;  // the filters as given, normalised (JSON), for the cache key
  std::optional<stats::Compare> compare;
  std::string params;  // the endpoint's own parameters, normalised, for the cache key
  // Computes the answer; the connection is null for realtime, which reads Redis only.
  std::function<json(db::Connection*, redis::Client*, const stats::Scope&)> answer;
};

// A query parameter, percent-decoded (Pistache hands values over as sent): filters are JSON.
std::optional<std::string> queryParam(const Http::Request& request, const char* name) {
  auto raw = request.query().get(name);
  if (!raw) return std::nullopt;
  return util::percentDecode(*raw);
}

std::string websiteIdOf(const RouteParams& params) {
  // A path that is not a UUID names no website (API.md: 404, not 400).
  auto id = util::canonicalUuid(params.get("id"));
  if (!id) throw NotFound("no such website");
  return *std::move(id);
}

// The parameters every stats route takes, checked before anything waits: dates (against any
// today: their form and order), filters and compare.
StatsQuery commonQuery(const Http::Request& request, const std::string& endpoint, std::string id) {
  StatsQuery q;
  q.endpoint = endpoint;
  q.websiteId = std::move(id);
  q.from = queryParam(request, "from");
  q.to = queryParam(request, "to");
  stats::checkDates(q.from, q.to);
  const auto filters = queryParam(request, "filters");
  q.filters = stats::parseFilters(filters);
  if (filters && !q.filters.empty()) q.filtersKey = json::parse(*filters).dump();
  q.compare = stats::parseCompare(queryParam(request, "compare"));
  return q;
}

// Answers `query` for `viewer`: from the stats cache when it holds the answer, else computed
// (and cached). Who may read the website is checked first, every time: a deleted website or a
// revoked share link is never answered from the cache.
void serve(daemon::Services& services, const Viewer& viewer, const StatsQuery& query,
           Http::ResponseWriter& response) {
  stats::Scope scope;
  scope.websiteId = query.websiteId;
  scope.timeZone = requireReader(services, viewer, query.websiteId);
  scope.filters = query.filters;
  scope.compare = query.compare;
  // A connection only when something must be asked of PostgreSQL: a cached answer of a zone
  // whose today is known is served even while PostgreSQL is out of reach.
  std::optional<db::Pool::Lease> conn;
  const auto connection = [&services, &conn]() -> db::Connection& {
    if (!conn) conn.emplace(services.reader().acquire());
    return **conn;
  };
  auto today = services.localDays.known(scope.timeZone);
  if (!today) today = services.localDays.today(connection(), scope.timeZone);
  scope.range = stats::parseRange(query.from, query.to, *today);
  // The answer's "today" changes at the zone's midnight: so does the key.
  std::string key = "tz=" + scope.timeZone + "&from=" + util::formatDate(scope.range.from) +
                    "&to=" + util::formatDate(scope.range.to) + query.params;
  if (!query.filtersKey.empty()) key += "&filters=" + query.filtersKey;
  if (query.compare) key += "&compare=" + std::string(stats::name(*query.compare));
  if (query.endpoint == "overview") key += "&today=" + util::formatDate(*today);
  const auto cached = services.statsCache.answer(
      {query.endpoint, query.websiteId, key}, [&services, &query, &scope, &connection] {
        json answer;
        if (query.endpoint == "realtime") {
          auto lease = services.redis.acquire();
          answer = query.answer(nullptr, &*lease, scope);
        } else {
          answer = query.answer(&connection(), nullptr, scope);
        }
        return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      });
  addHeader(response, "X-Cache", cached.hit ? "HIT" : "MISS");
  sendJsonText(response, Http::Code::Ok, cached.body);
}

using QueryBuilder = std::function<StatsQuery(const Http::Request&, std::string websiteId,
                                              const RouteParams& params)>;

void addRoute(Router& router, const std::shared_ptr<daemon::Services>& services,
              const std::string& endpoint, QueryBuilder build) {
  const std::string path = "/stats/{id}/" + endpoint;  // endpoint may hold parameters
  router.add(
      Http::Method::Get, path,
      [services, path, build = std::move(build)](
          const Http::Request& request, const RouteParams& params, Http::ResponseWriter& response) {
        const Viewer viewer = requireViewer(request, *services);
        auto query = std::make_shared<StatsQuery>(build(request, websiteIdOf(params), params));
        offload(*services, response, "GET " + path,
                [services, viewer, query](Http::ResponseWriter& rw) {
                  serve(*services, viewer, *query, rw);
                });
      });
}

// A breakdown report by a fixed dimension (sources, entry pages, exit pages).
QueryBuilder breakdownBy(const char* endpoint, const char* dimension) {
  return [endpoint, dimension](const Http::Request& request, std::string id, const RouteParams&) {
    StatsQuery q = commonQuery(request, endpoint, std::move(id));
    const int limit = stats::parseLimit(queryParam(request, "limit"));
    q.params = "&limit=" + std::to_string(limit);
    const stats::Dim dim = *stats::dimensionNamed(dimension);
    q.answer = [dim, limit](db::Connection* conn, redis::Client*, const stats::Scope& scope) {
      return stats::breakdown(*conn, scope, dim, limit);
    };
    return q;
  };
}

}  // namespace

void addStatsRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  addRoute(router, services, "overview",
           [](const Http::Request& request, std::string id, const RouteParams&) {
             StatsQuery q = commonQuery(request, "overview", std::move(id));
             const std::int64_t now = util::nowMillis();
             q.answer = [now](db::Connection* conn, redis::Client*, const stats::Scope& scope) {
               return stats::overview(*conn, scope, now);
             };
             return q;
           });

  addRoute(router, services, "top-pages",
           [](const Http::Request& request, std::string id, const RouteParams&) {
             StatsQuery q = commonQuery(request, "top-pages", std::move(id));
             const int limit = stats::parseLimit(queryParam(request, "limit"));
             q.params = "&limit=" + std::to_string(limit);
             q.answer = [limit](db::Connection* conn, redis::Client*, const stats::Scope& scope) {
               return stats::topPages(*conn, scope, limit);
             };
             return q;
           });

  addRoute(router, services, "realtime",
           [](const Http::Request& request, std::string id, const RouteParams&) {
             StatsQuery q = commonQuery(request, "realtime", std::move(id));  // checked, not used
             q.answer = [](db::Connection*, redis::Client* redis, const stats::Scope& scope) {
               return stats::realtime(*redis, scope.websiteId, util::nowMillis());
             };
             return q;
           });

  addRoute(router, services, "timeseries",
           [](const Http::Request& request, std::string id, const RouteParams&) {
             StatsQuery q = commonQuery(request, "timeseries", std::move(id));
             const auto interval = stats::parseInterval(queryParam(request, "interval"));
             q.params = "&interval=" + std::string(stats::name(interval));
             q.answer = [interval](db::Connection* conn, redis::Client*,
                                   const stats::Scope& scope) {
               return stats::timeseries(*conn, scope, interval);
             };
             return q;
           });

  addRoute(router, services, "breakdown",
           [](const Http::Request& request, std::string id, const RouteParams&) {
             StatsQuery q = commonQuery(request, "breakdown", std::move(id));
             const auto dimension =
                 stats::parseBreakdownDimension(queryParam(request, "dimension"));
             const int limit = stats::parseLimit(queryParam(request, "limit"));
             q.params = "&dimension=" + dimension.name + "&limit=" + std::to_string(limit);
             q.answer = [dimension, limit](db::Connection* conn, redis::Client*,
                                           const stats::Scope& scope) {
               return stats::breakdown(*conn, scope, dimension, limit);
             };
             return q;
           });

  addRoute(router, services, "goals",
           [](const Http::Request& request, std::string id, const RouteParams&) {
             StatsQuery q = commonQuery(request, "goals", std::move(id));
             q.answer = [](db::Connection* conn, redis::Client*, const stats::Scope& scope) {
               return stats::goalsReport(*conn, scope, goals::listGoals(*conn, scope.websiteId));
             };
             return q;
           });

  addRoute(router, services, "funnels/{funnelId}",
           [](const Http::Request& request, std::string id, const RouteParams& params) {
             StatsQuery q = commonQuery(request, "funnels", std::move(id));
             // Not a UUID: no such funnel (404, as an unknown one), before anything waits.
             auto funnelId = util::canonicalUuid(params.get("funnelId"));
             if (!funnelId) throw NotFound("no such funnel");
             q.params = "&funnel=" + *funnelId;
             q.answer = [funnelId = *funnelId](db::Connection* conn, redis::Client*,
                                               const stats::Scope& scope) {
               auto funnel = goals::findFunnel(*conn, scope.websiteId, funnelId);
               if (!funnel) throw NotFound("no such funnel");
               return stats::funnelReport(*conn, scope, *funnel);
             };
             return q;
           });

  addRoute(router, services, "sources", breakdownBy("sources", "source"));
  addRoute(router, services, "entry-pages", breakdownBy("entry-pages", "entry_page"));
  addRoute(router, services, "exit-pages", breakdownBy("exit-pages", "exit_page"));
}

}  // namespace mp::http
