// POST /auth/signup, POST /auth/login, GET /auth/me and the /websites routes.
#include "http/accounts.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include "auth/jwt.hpp"
#include "auth/login_throttle.hpp"
#include "auth/session_cookie.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "redis/client.hpp"
#include "redis/pool.hpp"
#include "services.hpp"
#include "sites/announce.hpp"
#include "sites/sites.hpp"
#include "users/users.hpp"
#include "util/error.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp::http {
namespace Http = Pistache::Http;
using json = nlohmann::json;

namespace {

std::int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json userJson(const users::User& u) {
  return {
      {"id", u.id}, {"email", u.email}, {"createdAt", u.createdAt}, {"report", u.reportFrequency}};
}

json websiteJson(const sites::Website& w) {
  return {{"id", w.id},
          {"name", w.name},
          {"domain", w.domain},
          {"timeZone", w.timeZone},
          {"createdAt", w.createdAt}};
}

// The email as the failed-login log line shows it: one token (no spaces, quotes or control
// characters, which are written as '?'), at most 254 bytes, so a filter can match the line
// whatever was sent.
std::string loggableEmail(std::string_view email) {
  std::string out(email.substr(0, 254));
  // Never end in the middle of a UTF-8 sequence (the email itself came as valid JSON text).
  while (!out.empty() && !util::isValidUtf8(out)) out.pop_back();
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '"' || c == '\\') c = '?';
  }
  return out.empty() ? std::string("-") : out;
}

// One line per failed login, in a fixed format operators match (docs/operations.md, fail2ban):
// "login failed ip=<address> email=<email> reason=<invalid_credentials|rate_limited>".
void logFailedLogin(const std::string& ip, const std::string& email, std::string_view reason) {
  log::get("auth")->warn("login failed ip={} email={} reason={}", ip, loggableEmail(email), reason);
}

// Checks the credentials (throttled) and answers with a token: in the body, or as the session
// cookie with the account in the body.
void login(const std::shared_ptr<daemon::Services>& services, const Http::Request& request,
           Http::ResponseWriter& response, bool asCookie) {
  const json body = jsonBody(request);
  // Normalised once: the throttle and the lookup must see the same account.
  const std::string email = users::normaliseEmail(requireString(body, "email"));
  const std::string password = requireString(body, "password");
  const std::string ip = clientAddress(request, services->config.http);
  const bool secure = secureCookie(request, services->config);
  const char* context = asCookie ? "POST /auth/session" : "POST /auth/login";
  offload(*services, response, context,
          [services, email, password, ip, asCookie, secure](Http::ResponseWriter& rw) {
            const auto& cfg = services->config.auth;
            auth::LoginThrottle throttle(
                services->redis,
                {cfg.loginMaxFailures, cfg.loginMaxFailuresPerAddress, cfg.loginWindow}, email, ip);
            if (const long wait = throttle.reserve(); wait > 0) {
              logFailedLogin(ip, email, "rate_limited");
              throw RateLimited(
                  wait, "too many failed logins; try again in " + std::to_string(wait) + " s");
            }
            auto conn = services->db.acquire();
            auto user = users::authenticate(*conn, email, password, cfg.bcryptCost);
            if (!user) {
              logFailedLogin(ip, email, "invalid_credentials");
              sendError(rw, Http::Code::Unauthorized, "invalid_credentials",
                        "the email or password is wrong");
              return;
            }
            throttle.succeeded();
            const auto now = nowSeconds();
            const auto ttl = cfg.tokenTtl.count();
            const std::string token = auth::signToken(
                {user->id, now, now + ttl, user->tokenVersion}, services->jwtSecret);
            if (!asCookie) {
              sendJson(rw, Http::Code::Ok,
                       {{"accessToken", token}, {"tokenType", "Bearer"}, {"expiresIn", ttl}});
              return;
            }
            addHeader(rw, "Set-Cookie", auth::sessionCookie(token, ttl, secure));
            addHeader(rw, "Cache-Control", "no-store");
            json answer = userJson(*user);
            answer["expiresIn"] = ttl;
            sendJson(rw, Http::Code::Ok, answer);
          });
}

}  // namespace

void addAccountRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(
      Http::Method::Post, "/auth/signup",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        if (!services->config.auth.allowSignup) {
          throw Forbidden("signup_disabled",
                          "signup is closed on this server; ask its administrator for an "
                          "account");
        }
        const json body = jsonBody(request);
        const std::string email = users::checkEmail(requireString(body, "email"));
        const std::string password = requireString(body, "password");
        users::checkPassword(password);
        offload(*services, response, "POST /auth/signup",
                [services, email, password](Http::ResponseWriter& rw) {
                  auto conn = services->db.acquire();
                  auto user =
                      users::create(*conn, email, password, services->config.auth.bcryptCost);
                  log::get("auth")->info("signup user={}", user.id);
                  sendJson(rw, Http::Code::Created, userJson(user));
                });
      });

  router.add(
      Http::Method::Post, "/auth/login",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        login(services, request, response, false);
      });

  // The dashboard's login: the same check, the token in an httpOnly cookie instead of the body.
  router.add(
      Http::Method::Post, "/auth/session",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        login(services, request, response, true);
      });

  router.add(
      Http::Method::Delete, "/auth/session",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        addHeader(response, "Set-Cookie",
                  auth::clearedSessionCookie(secureCookie(request, services->config)));
        response.send(Http::Code::No_Content);
      });

  router.add(
      Http::Method::Get, "/auth/me",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        offload(*services, response, "GET /auth/me", [services, claims](Http::ResponseWriter& rw) {
          requireLiveAccount(*services, claims);
          auto conn = services->db.acquire();
          auto user = users::findById(*conn, claims.sub);
          if (!user) throw Unauthorized("the account of this token no longer exists");
          sendJson(rw, Http::Code::Ok, userJson(*user));
        });
      });

  // The account's own settings: so far the email reports ({"report": "weekly"}).
  router.add(
      Http::Method::Patch, "/auth/me",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        const json body = jsonBody(request);
        if (!body.is_object() || body.empty()) {
          throw InvalidInput("body", "must be an object with the settings to change (\"report\")");
        }
        for (const auto& [key, value] : body.items()) {
          if (key != "report") throw InvalidInput(key, "is not a setting of the account");
        }
        const std::string report = users::checkReportFrequency(requireString(body, "report"));
        offload(*services, response, "PATCH /auth/me",
                [services, claims, report](Http::ResponseWriter& rw) {
                  requireLiveAccount(*services, claims);
                  auto conn = services->db.acquire();
                  try {
                    sendJson(rw, Http::Code::Ok,
                             userJson(users::setReportFrequency(*conn, claims.sub, report)));
                  } catch (const NotFound&) {
                    throw Unauthorized("the account of this token no longer exists");
                  }
                });
      });
}

void addWebsiteRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(
      Http::Method::Post, "/websites",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        const json body = jsonBody(request);
        const std::string name = requireString(body, "name");
        const std::string domain = requireString(body, "domain");
        const std::string timeZone =
            optionalString(body, "timeZone").value_or(std::string(sites::kDefaultTimeZone));
        offload(*services, response, "POST /websites",
                [services, claims, name, domain, timeZone](Http::ResponseWriter& rw) {
                  requireLiveAccount(*services, claims);
                  auto conn = services->db.acquire();
                  if (!users::findById(*conn, claims.sub)) {
                    throw Unauthorized("the account of this token no longer exists");
                  }
                  auto site = sites::create(*conn, claims.sub, name, domain, timeZone);
                  conn.release();
                  // Usable from the 201 on: tracked here without a lookup, and every other
                  // daemon told before the answer leaves.
                  services->sites.put(site.id,
                                      sites::CachedSite{site.userId, site.domain, site.timeZone});
                  services->domains.put(site.domain, site.id);
                  announce(*services, [&](redis::Client& redis) {
                    sites::announceWebsiteCreated(redis, site.id);
                  });
                  log::get("http")->info("website created id={} domain={}", site.id, site.domain);
                  sendJson(rw, Http::Code::Created, websiteJson(site));
                });
      });

  router.add(
      Http::Method::Get, "/websites",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        offload(*services, response, "GET /websites", [services, claims](Http::ResponseWriter& rw) {
          requireLiveAccount(*services, claims);
          auto conn = services->db.acquire();
          json list = json::array();
          for (const auto& site : sites::listForUser(*conn, claims.sub))
            list.push_back(websiteJson(site));
          sendJson(rw, Http::Code::Ok, list);
        });
      });

  router.add(Http::Method::Get, "/websites/{id}",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               // The owner, or a share link's holder (its page shows the website's name).
               const Viewer viewer = requireViewer(request, *services);
               auto id = util::canonicalUuid(params.get("id"));
               if (!id) throw NotFound("no such website");
               offload(*services, response, "GET /websites/{id}",
                       [services, viewer, id = *id](Http::ResponseWriter& rw) {
                         requireReader(*services, viewer, id);
                         auto conn = services->db.acquire();
                         auto site = sites::findById(*conn, id);
                         if (!site) throw NotFound("no such website");
                         sendJson(rw, Http::Code::Ok, websiteJson(*site));
                       });
             });

  router.add(Http::Method::Patch, "/websites/{id}",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const auth::Claims claims = requireToken(request, *services);
               const std::string id = params.get("id");
               const json body = jsonBody(request);
               // Other fields are ignored, as by POST /websites; the domain cannot be changed.
               const sites::WebsiteChanges changes{optionalString(body, "name"),
                                                   optionalString(body, "timeZone")};
               if (!changes.name && !changes.timeZone) {
                 throw InvalidInput("body", "nothing to change: give name and/or timeZone");
               }
               offload(*services, response, "PATCH /websites/{id}",
                       [services, claims, id, changes](Http::ResponseWriter& rw) {
                         requireLiveAccount(*services, claims);
                         auto conn = services->db.acquire();
                         auto updated = sites::updateOwned(*conn, claims.sub, id, changes);
                         if (!updated) throw NotFound("no such website");
                         conn.release();
                         const sites::Website& site = updated->website;
                         if (updated->timeZoneChanged) {
                           // Its days are recounted in the new zone; its cached answers go, and
                           // every daemon (this one at once) is told, before the answer leaves.
                           services->sites.put(
                               site.id, sites::CachedSite{site.userId, site.domain, site.timeZone});
                           announce(*services, [&](redis::Client& redis) {
                             sites::announceWebsiteChanged(redis, site.id);
                           });
                           log::get("http")->info("website time zone changed id={} time_zone={}",
                                                  site.id, site.timeZone);
                         }
                         sendJson(rw, Http::Code::Ok, websiteJson(site));
                       });
             });

  router.add(Http::Method::Delete, "/websites/{id}",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const auth::Claims claims = requireToken(request, *services);
               const std::string id = params.get("id");
               offload(*services, response, "DELETE /websites/{id}",
                       [services, claims, id](Http::ResponseWriter& rw) {
                         requireLiveAccount(*services, claims);
                         auto conn = services->db.acquire();
                         if (!sites::removeOwned(*conn, claims.sub, id)) {
                           throw NotFound("no such website");
                         }
                         conn.release();
                         // Gone from the 204 on: no longer tracked here, every other daemon
                         // told, and its cached stats dropped, before the answer leaves.
                         // removeOwned found it, so it is a UUID.
                         const std::string lowered = util::canonicalUuid(id).value_or(id);
                         services->sites.forget(lowered);
                         services->domains.forgetAll();
                         announce(*services, [&](redis::Client& redis) {
                           sites::announceWebsitesDeleted(redis, {lowered});
                         });
                         log::get("http")->info("website deleted id={}", lowered);
                         rw.send(Http::Code::No_Content);
                       });
             });
}

}  // namespace mp::http
