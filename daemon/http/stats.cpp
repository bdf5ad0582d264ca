// The stats routes: the request is checked on the HTTP worker (token, parameters), everything
// that waits (ownership, Redis, PostgreSQL) runs on the blocking pool.
#include "http/stats.hpp"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "http/common.hpp"
#include "http/response.hpp"
#include "services.hpp"
#include "sites/sites.hpp"
#include "stats/cache.hpp"
#include "stats/params.hpp"
#include "stats/stats.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
using json = nlohmann::json;

namespace {

// What one stats request asks, once its parameters are checked.
struct StatsQuery {
  std::string endpoint;     // "top-pages": metrics label and part of the cache key
  std::string websiteId;    // lower case
  std::string cacheParams;  // the normalised parameters of the cache key
  // Computes the answer; the connection is null for realtime, which reads Redis only.
  std::function<json(db::Connection*, redis::Client*)> answer;
};

std::optional<std::string> queryParam(const Http::Request& request, const char* name) {
  return request.query().get(name);
}

std::string websiteIdOf(const RouteParams& params) {
  // A path that is not a UUID names no website (API.md: 404, not 400).
  auto id = util::canonicalUuid(params.get("id"));
  if (!id) throw NotFound("no such website");
  return *std::move(id);
}

stats::DateRange rangeOf(const Http::Request& request) {
  return stats::parseRange(queryParam(request, "from"), queryParam(request, "to"),
                           util::todayUtc());
}

std::string rangeParams(const stats::DateRange& range) {
  return "from=" + util::formatDate(range.from) + "&to=" + util::formatDate(range.to);
}

// Throws NotFound unless the website exists and is `userId`'s: the website cache answers, and
// looks a website it does not hold up (this runs on the blocking pool). A deleted website is
// forgotten by every daemon when its deletion is announced, so its cached answers are never
// served: this check comes first.
void requireOwned(daemon::Services& services, const std::string& userId,
                  const std::string& websiteId) {
  auto site = services.sites.find(websiteId);
  if (!site || site->userId != userId) throw NotFound("no such website");
}

// Answers `query` for `userId`: from the stats cache when it holds the answer, else computed
// (and cached).
void serve(daemon::Services& services, const std::string& userId, const StatsQuery& query,
           Http::ResponseWriter& response) {
  requireOwned(services, userId, query.websiteId);
  const auto cached = services.statsCache.answer(
      {query.endpoint, query.websiteId, query.cacheParams}, [&services, &query] {
        json answer;
        if (query.endpoint == "realtime") {
          auto lease = services.redis.acquire();
          answer = query.answer(nullptr, &*lease);
        } else {
          auto conn = services.db.acquire();
          answer = query.answer(&*conn, nullptr);
        }
        return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      });
  addHeader(response, "X-Cache", cached.hit ? "HIT" : "MISS");
  sendJsonText(response, Http::Code::Ok, cached.body);
}

using QueryBuilder = std::function<StatsQuery(const Http::Request&, std::string websiteId)>;

void addRoute(Router& router, const std::shared_ptr<daemon::Services>& services,
              const std::string& endpoint, QueryBuilder build) {
  const std::string path = "/stats/{id}/" + endpoint;
  router.add(
      Http::Method::Get, path,
      [services, path, build = std::move(build)](
          const Http::Request& request, const RouteParams& params, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        auto query = std::make_shared<StatsQuery>(build(request, websiteIdOf(params)));
        offload(*services, response, "GET " + path,
                [services, claims, query](Http::ResponseWriter& rw) {
                  requireLiveAccount(*services, claims);
                  serve(*services, claims.sub, *query, rw);
                });
      });
}

}  // namespace

void addStatsRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  addRoute(router, services, "overview", [](const Http::Request& request, std::string id) {
    rangeOf(request);  // checked like on every stats route, not used
    const std::int64_t now = util::nowMillis();
    // The answer's "today" changes at midnight: so does the key.
    const std::string params = "today=" + util::formatDate(util::todayUtc());
    return StatsQuery{"overview", id, params, [id, now](db::Connection* conn, redis::Client*) {
                        return stats::overview(*conn, id, now);
                      }};
  });

  addRoute(router, services, "top-pages", [](const Http::Request& request, std::string id) {
    const auto range = rangeOf(request);
    const int limit = stats::parseLimit(queryParam(request, "limit"));
    return StatsQuery{"top-pages", id, rangeParams(range) + "&limit=" + std::to_string(limit),
                      [id, range, limit](db::Connection* conn, redis::Client*) {
                        return stats::topPages(*conn, id, range, limit);
                      }};
  });

  addRoute(router, services, "realtime", [](const Http::Request& request, std::string id) {
    rangeOf(request);  // checked like on every stats route, not used
    return StatsQuery{"realtime", id, "", [id](db::Connection*, redis::Client* redis) {
                        return stats::realtime(*redis, id, util::nowMillis());
                      }};
  });

  addRoute(router, services, "timeseries", [](const Http::Request& request, std::string id) {
    const auto range = rangeOf(request);
    const auto interval = stats::parseInterval(queryParam(request, "interval"));
    stats::checkInterval(range, interval);
    return StatsQuery{"timeseries", id,
                      rangeParams(range) + "&interval=" + std::string(stats::name(interval)),
                      [id, range, interval](db::Connection* conn, redis::Client*) {
                        return stats::timeseries(*conn, id, range, interval);
                      }};
  });

  addRoute(router, services, "breakdown", [](const Http::Request& request, std::string id) {
    const auto range = rangeOf(request);
    const auto dimension = stats::parseDimension(queryParam(request, "dimension"));
    const int limit = stats::parseLimit(queryParam(request, "limit"));
    return StatsQuery{"breakdown", id,
                      rangeParams(range) + "&dimension=" + std::string(stats::name(dimension)) +
                          "&limit=" + std::to_string(limit),
                      [id, range, dimension, limit](db::Connection* conn, redis::Client*) {
                        return stats::breakdown(*conn, id, range, dimension, limit);
                      }};
  });
}

}  // namespace mp::http
