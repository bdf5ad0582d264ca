// Liveness and readiness: readiness pings PostgreSQL and Redis on every call, so it recovers by
// itself.
#include "http/health.hpp"

#include "http/response.hpp"
#include "log/log.hpp"
#include "server.hpp"

namespace mp::http {

void addHealthRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(Pistache::Http::Method::Get, "/healthz", [](const auto&, const auto&, auto& response) {
    sendJson(response, Pistache::Http::Code::Ok, {{"status", "ok"}});
  });
  router.add(
      Pistache::Http::Method::Get, "/readyz", [services](const auto&, const auto&, auto& response) {
        const bool dbOk = services->db.ping();
        const bool redisOk = services->redis.ping();
        nlohmann::json body = {{"status", dbOk && redisOk ? "ready" : "unavailable"},
                               {"database", dbOk ? "ok" : "down"},
                               {"redis", redisOk ? "ok" : "down"}};
        if (!dbOk || !redisOk) {
          log::get("http")->warn("readyz: database={} redis={}", dbOk ? "ok" : "down",
                                 redisOk ? "ok" : "down");
        }
        sendJson(
            response,
            dbOk && redisOk ? Pistache::Http::Code::Ok : Pistache::Http::Code::Service_Unavailable,
            body);
      });
}

}  // namespace mp::http
