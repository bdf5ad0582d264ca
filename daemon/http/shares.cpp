// The share-link routes; everything that waits runs on the blocking pool.
#include "http/shares.hpp"

#include <nlohmann/json.hpp>

#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "services.hpp"
#include "sites/shares.hpp"
#include "sites/sites.hpp"
#include "util/error.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
using json = nlohmann::json;

namespace {

json shareJson(const sites::Share& s) {
  return {{"id", s.id},       {"websiteId", s.websiteId},   {"token", s.token},
          {"label", s.label}, {"url", "/share/" + s.token}, {"createdAt", s.createdAt}};
}

// The website `id` when it is the account's; NotFound otherwise (and for a malformed id).
std::string ownedWebsite(db::Connection& conn, const std::string& userId, const std::string& id) {
  auto site = sites::findOwned(conn, userId, id);
  if (!site) throw NotFound("no such website");
  return site->id;
}

}  // namespace

void addShareRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(Http::Method::Post, "/websites/{id}/shares",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const auth::Claims claims = requireToken(request, *services);
               std::string label;
               if (!request.body().empty()) {
                 const json body = jsonBody(request);
                 label = optionalString(body, "label").value_or("");
               }
               const std::string id = params.get("id");
               offload(*services, response, "POST /websites/{id}/shares",
                       [services, claims, id, label](Http::ResponseWriter& rw) {
                         requireLiveAccount(*services, claims);
                         auto conn = services->db.acquire();
                         const std::string site = ownedWebsite(*conn, claims.sub, id);
                         const auto share = sites::createShare(*conn, site, label);
                         log::get("auth")->info("share link created website={} share={} user={}",
                                                site, share.id, claims.sub);
                         sendJson(rw, Http::Code::Created, shareJson(share));
                       });
             });

  router.add(Http::Method::Get, "/websites/{id}/shares",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const auth::Claims claims = requireToken(request, *services);
               const std::string id = params.get("id");
               offload(*services, response, "GET /websites/{id}/shares",
                       [services, claims, id](Http::ResponseWriter& rw) {
                         requireLiveAccount(*services, claims);
                         auto conn = services->db.acquire();
                         const std::string site = ownedWebsite(*conn, claims.sub, id);
                         json list = json::array();
                         for (const auto& s : sites::listShares(*conn, site)) {
                           list.push_back(shareJson(s));
                         }
                         sendJson(rw, Http::Code::Ok, list);
                       });
             });

  router.add(Http::Method::Delete, "/websites/{id}/shares/{shareId}",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const auth::Claims claims = requireToken(request, *services);
               const std::string id = params.get("id");
               const std::string shareId = params.get("shareId");
               offload(*services, response, "DELETE /websites/{id}/shares/{shareId}",
                       [services, claims, id, shareId](Http::ResponseWriter& rw) {
                         requireLiveAccount(*services, claims);
                         auto conn = services->db.acquire();
                         const std::string site = ownedWebsite(*conn, claims.sub, id);
                         if (!sites::revokeShare(*conn, site, shareId)) {
                           throw NotFound("no such share link");
                         }
                         log::get("auth")->info("share link revoked website={} share={} user={}",
                                                site, shareId, claims.sub);
                         rw.send(Http::Code::No_Content);
                       });
             });

  router.add(
      Http::Method::Get, "/shares/{token}",
      [services](const Http::Request&, const RouteParams& params, Http::ResponseWriter& response) {
        const std::string token = params.get("token");
        if (!sites::isShareToken(token)) throw NotFound("no such share link");
        offload(*services, response, "GET /shares/{token}",
                [services, token](Http::ResponseWriter& rw) {
                  auto conn = services->db.acquire();
                  auto share = sites::findShare(*conn, token);
                  if (!share) throw NotFound("this share link does not exist or was revoked");
                  auto site = sites::findById(*conn, share->websiteId);
                  if (!site) throw NotFound("this share link does not exist or was revoked");
                  addHeader(rw, "Cache-Control", "no-store");
                  sendJson(rw, Http::Code::Ok,
                           {{"websiteId", site->id},
                            {"name", site->name},
                            {"domain", site->domain},
                            {"timeZone", site->timeZone}});
                });
      });
}

}  // namespace mp::http
