// The goal and funnel routes: the token and body are checked on the HTTP worker, the rest runs on
// the blocking pool. A website that is not the caller's answers as one that does not exist.
#include "http/goals.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "goals/goals.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "services.hpp"
#include "sites/announce.hpp"
#include "sites/sites.hpp"
#include "util/error.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
using json = nlohmann::json;

namespace {

// The website `id` when it is the caller's; NotFound otherwise.
std::string ownedWebsite(db::Connection& conn, const std::string& userId, const std::string& id) {
  auto site = sites::findOwned(conn, userId, id);
  if (!site) throw NotFound("no such website");
  return site->id;
}

// Cached stats answers of the website (goal and funnel reports among them) are dropped on every
// daemon, as after a change of time zone.
void dropCachedAnswers(daemon::Services& services, const std::string& websiteId) {
  announce(services,
           [&](redis::Client& redis) { sites::announceWebsiteChanged(redis, websiteId); });
}

using Work = std::function<void(daemon::Services&, const auth::Claims&, const RouteParams&,
                                const json&, Http::ResponseWriter&)>;

// A route whose work runs on the blocking pool for a live account; `withBody` parses the JSON
// body first.
void add(Router& router, const std::shared_ptr<daemon::Services>& services, Http::Method method,
         const std::string& path, bool withBody, Work work) {
  router.add(
      method, path,
      [services, path, method, withBody, work = std::move(work)](
          const Http::Request& request, const RouteParams& params, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        json body = withBody ? jsonBody(request) : json();
        if (withBody && !body.is_object()) {
          throw InvalidInput("body", "the body must be a JSON object");
        }
        offload(*services, response, std::string(Http::methodString(method)) + " " + path,
                [services, claims, params, body = std::move(body), work](Http::ResponseWriter& rw) {
                  requireLiveAccount(*services, claims);
                  work(*services, claims, params, body, rw);
                });
      });
}

using ReadWork = std::function<void(db::Connection&, const std::string& websiteId,
                                    const RouteParams&, Http::ResponseWriter&)>;

// A GET route the owner or a share link's holder may read (requireReader()).
void addRead(Router& router, const std::shared_ptr<daemon::Services>& services,
             const std::string& path, ReadWork work) {
  router.add(
      Http::Method::Get, path,
      [services, path, work = std::move(work)](
          const Http::Request& request, const RouteParams& params, Http::ResponseWriter& response) {
        const Viewer viewer = requireViewer(request, *services);
        auto id = util::canonicalUuid(params.get("id"));
        if (!id) throw NotFound("no such website");
        offload(*services, response, "GET " + path,
                [services, viewer, id = *id, params, work](Http::ResponseWriter& rw) {
                  requireReader(*services, viewer, id);
                  auto conn = services->db.acquire();
                  work(*conn, id, params, rw);
                });
      });
}

}  // namespace

void addGoalRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  addRead(router, services, "/websites/{id}/goals",
          [](db::Connection& conn, const std::string& site, const RouteParams&,
             Http::ResponseWriter& rw) {
            json list = json::array();
            for (const auto& g : goals::listGoals(conn, site)) list.push_back(goals::toJson(g));
            sendJson(rw, Http::Code::Ok, json{{"goals", std::move(list)}});
          });

  add(router, services, Http::Method::Post, "/websites/{id}/goals", true,
      [](daemon::Services& s, const auth::Claims& claims, const RouteParams& params,
         const json& body, Http::ResponseWriter& rw) {
        const goals::GoalSpec spec{optionalString(body, "eventName"),
                                   optionalString(body, "pagePath"), optionalString(body, "name")};
        auto conn = s.db.acquire();
        const std::string site = ownedWebsite(*conn, claims.sub, params.get("id"));
        const goals::Goal goal = goals::addGoal(*conn, site, spec);
        conn.release();
        dropCachedAnswers(s, site);
        log::get("http")->info("goal added website={} goal={}", site, goal.id);
        sendJson(rw, Http::Code::Created, goals::toJson(goal));
      });

  add(router, services, Http::Method::Delete, "/websites/{id}/goals/{goalId}", false,
      [](daemon::Services& s, const auth::Claims& claims, const RouteParams& params, const json&,
         Http::ResponseWriter& rw) {
        auto conn = s.db.acquire();
        const std::string site = ownedWebsite(*conn, claims.sub, params.get("id"));
        if (!goals::deleteGoal(*conn, site, params.get("goalId"))) throw NotFound("no such goal");
        conn.release();
        dropCachedAnswers(s, site);
        rw.send(Http::Code::No_Content);
      });

  addRead(router, services, "/websites/{id}/funnels",
          [](db::Connection& conn, const std::string& site, const RouteParams&,
             Http::ResponseWriter& rw) {
            json list = json::array();
            for (const auto& f : goals::listFunnels(conn, site)) list.push_back(goals::toJson(f));
            sendJson(rw, Http::Code::Ok, json{{"funnels", std::move(list)}});
          });

  add(router, services, Http::Method::Post, "/websites/{id}/funnels", true,
      [](daemon::Services& s, const auth::Claims& claims, const RouteParams& params,
         const json& body, Http::ResponseWriter& rw) {
        const std::string name = requireString(body, "name");
        if (!body.contains("steps") || !body["steps"].is_array()) {
          throw InvalidInput("steps", "steps must be an array of goal ids, in order");
        }
        std::vector<std::string> steps;
        for (const auto& step : body["steps"]) {
          if (!step.is_string()) throw InvalidInput("steps", "steps must be goal ids (strings)");
          steps.push_back(step.get<std::string>());
        }
        auto conn = s.db.acquire();
        const std::string site = ownedWebsite(*conn, claims.sub, params.get("id"));
        const goals::Funnel funnel = goals::addFunnel(*conn, site, name, steps);
        conn.release();
        log::get("http")->info("funnel added website={} funnel={}", site, funnel.id);
        sendJson(rw, Http::Code::Created, goals::toJson(funnel));
      });

  addRead(router, services, "/websites/{id}/funnels/{funnelId}",
          [](db::Connection& conn, const std::string& site, const RouteParams& params,
             Http::ResponseWriter& rw) {
            auto funnel = goals::findFunnel(conn, site, params.get("funnelId"));
            if (!funnel) throw NotFound("no such funnel");
            sendJson(rw, Http::Code::Ok, goals::toJson(*funnel));
          });

  add(router, services, Http::Method::Delete, "/websites/{id}/funnels/{funnelId}", false,
      [](daemon::Services& s, const auth::Claims& claims, const RouteParams& params, const json&,
         Http::ResponseWriter& rw) {
        auto conn = s.db.acquire();
        const std::string site = ownedWebsite(*conn, claims.sub, params.get("id"));
        if (!goals::deleteFunnel(*conn, site, params.get("funnelId"))) {
          throw NotFound("no such funnel");
        }
        conn.release();
        dropCachedAnswers(s, site);
        rw.send(Http::Code::No_Content);
      });
}

}  // namespace mp::http
