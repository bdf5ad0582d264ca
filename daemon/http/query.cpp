// POST /api/v2/query: the body is checked on the HTTP worker (token, then every key), the website,
// its days and the answer are settled on the blocking pool.
#include "http/query.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "db/pool.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "services.hpp"
#include "sites/sites.hpp"
#include "stats/cache.hpp"
#include "stats/v2.hpp"
#include "util/error.hpp"
#include "util/time.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
namespace v2 = stats::v2;

namespace {

constexpr const char* kEndpoint = "v2-query";

// Answers `request` for `userId`. The website is named by id or by domain; one that does not
// exist and one of another account are both 404, with the same body.
void serve(daemon::Services& services, const std::string& userId, const v2::Request& request,
           Http::ResponseWriter& response) {
  // A connection only when something must be asked of PostgreSQL: a cached answer for a website
  // named by id, in a zone whose today is known, is served even while PostgreSQL is out of reach.
  std::optional<db::Pool::Lease> conn;
  const auto connection = [&services, &conn]() -> db::Connection& {
    if (!conn) conn.emplace(services.reader().acquire());
    return **conn;
  };
  std::optional<std::string> id = util::canonicalUuid(request.siteId);
  if (!id) {
    if (auto site = sites::findByDomain(connection(), request.siteId)) id = site->id;
  }
  std::optional<sites::CachedSite> cached;
  if (id) cached = services.sites.find(*id);
  if (!cached || cached->userId != userId) throw NotFound("no such website");
  const v2::Site site{*id, cached->domain, cached->timeZone};

  auto today = services.localDays.known(site.timeZone);
  if (!today) today = services.localDays.today(connection(), site.timeZone);
  const stats::DateRange range =
      v2::resolveRange(request.dateRange, *today, [&] { return v2::startDay(connection(), site); });
  // The echo holds every part of the question with its days resolved: the key changes with them.
  const std::string key = "tz=" + site.timeZone + "&q=" + v2::echo(request, site, range).dump();
  const auto answer =
      services.statsCache.answer({kEndpoint, site.id, key}, [&connection, &request, &site, &range] {
        return v2::answer(connection(), request, site, range)
            .dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      });
  addHeader(response, "X-Cache", answer.hit ? "HIT" : "MISS");
  sendJsonText(response, Http::Code::Ok, answer.body);
}

}  // namespace

void addQueryRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(
      Http::Method::Post, "/api/v2/query",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        auto query = std::make_shared<v2::Request>(v2::parseRequest(jsonBody(request)));
        offload(*services, response, "POST /api/v2/query",
                [services, claims, query](Http::ResponseWriter& rw) {
                  requireLiveAccount(*services, claims);
                  serve(*services, claims.sub, *query, rw);
                });
      });
}

}  // namespace mp::http
