// Liveness and readiness: readiness pings PostgreSQL and Redis on every call, so it recovers by
// itself. The pings run on the blocking pool: with PostgreSQL or Redis unreachable they can take
// their whole time-out, which must not hold up an HTTP worker (and /track behind it).
#include "http/health.hpp"

#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "services.hpp"

namespace mp::http {
namespace {

void answerReadiness(daemon::Services& services, Pistache::Http::ResponseWriter& response) {
  const bool dbOk = services.db.ping();
  const bool redisOk = services.redis.ping();
  nlohmann::json body = {{"status", dbOk && redisOk ? "ready" : "unavailable"},
                         {"database", dbOk ? "ok" : "down"},
                         {"redis", redisOk ? "ok" : "down"}};
  if (!dbOk || !redisOk) {
    log::get("http")->warn("readyz: database={} redis={}", dbOk ? "ok" : "down",
                           redisOk ? "ok" : "down");
  }
  sendJson(response,
           dbOk && redisOk ? Pistache::Http::Code::Ok : Pistache::Http::Code::Service_Unavailable,
           body);
}

}  // namespace

void addHealthRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(Pistache::Http::Method::Get, "/healthz", [](const auto&, const auto&, auto& response) {
    sendJson(response, Pistache::Http::Code::Ok, {{"status", "ok"}});
  });
  router.add(
      Pistache::Http::Method::Get, "/readyz", [services](const auto&, const auto&, auto& response) {
        offload(*services, response, "GET /readyz",
                [services](Pistache::Http::ResponseWriter& rw) { answerReadiness(*services, rw); });
      });
}

}  // namespace mp::http
