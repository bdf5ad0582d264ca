// POST /auth/signup, POST /auth/login, GET /auth/me and the /websites routes.
#include "http/accounts.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "auth/jwt.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "server.hpp"
#include "sites/announce.hpp"
#include "sites/sites.hpp"
#include "users/users.hpp"
#include "util/error.hpp"

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
  return {{"id", u.id}, {"email", u.email}, {"createdAt", u.createdAt}};
}

// Runs `tell` with a Redis client of the pool; a Redis out of reach is logged, never an error:
// the change is committed, and other daemons catch up at their next reload.
void announce(daemon::Services& services, const std::function<void(redis::Client&)>& tell) {
  try {
    auto lease = services.redis.acquire();
    tell(*lease);
  } catch (const std::exception& e) {
    log::get("redis")->warn(
        "could not announce a change (other daemons see it at their next "
        "reload): {}",
        e.what());
  }
}

std::string lowerId(std::string id) {
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return id;
}

json websiteJson(const sites::Website& w) {
  return {{"id", w.id}, {"name", w.name}, {"domain", w.domain}, {"createdAt", w.createdAt}};
}

// Login throttling: a failure counter per email and per address, each living one window.
class LoginThrottle {
 public:
  LoginThrottle(daemon::Services& services, std::string email, std::string ip)
      : services_(services),
        emailKey_(redis::loginFailEmailKey(email)),
        ipKey_(redis::loginFailIpKey(ip)) {}

  /// Throws RateLimited when either counter is at the limit. Redis being down lets logins
  /// through (logged): locking every owner out during a Redis outage is the worse failure.
  void check() {
    try {
      auto lease = services_.redis.acquire();
      auto replies = lease->pipeline(
          {{"GET", emailKey_}, {"TTL", emailKey_}, {"GET", ipKey_}, {"TTL", ipKey_}});
      const long limits[] = {services_.config.auth.loginMaxFailures,
                             services_.config.auth.loginMaxFailuresPerAddress};
      for (std::size_t i = 0; i < 4; i += 2) {
        if (replies[i].isString() && std::stol(replies[i].str()) >= limits[i / 2]) {
          const long ttl =
              replies[i + 1].isInteger() ? static_cast<long>(replies[i + 1].integer()) : 60;
          throw RateLimited(ttl > 0 ? ttl : 1,
                            "too many failed logins; try again in " + std::to_string(ttl) + " s");
        }
      }
    } catch (const RedisError& e) {
      log::get("auth")->warn("login throttle unavailable (redis: {}); not enforced", e.what());
    }
  }

  void recordFailure() {
    try {
      const std::string window = std::to_string(services_.config.auth.loginWindow.count());
      auto lease = services_.redis.acquire();
      // SET NX EX starts the window on the first failure; INCR counts within it.
      lease->pipeline({{"SET", emailKey_, "0", "EX", window, "NX"},
                       {"INCR", emailKey_},
                       {"SET", ipKey_, "0", "EX", window, "NX"},
                       {"INCR", ipKey_}});
    } catch (const RedisError& e) {
      log::get("auth")->warn("could not record a failed login (redis: {})", e.what());
    }
  }

  void clearEmail() {
    try {
      services_.redis.acquire()->command({"DEL", emailKey_});
    } catch (const RedisError& e) {
      log::get("auth")->warn("could not clear the login counter (redis: {})", e.what());
    }
  }

 private:
  daemon::Services& services_;
  std::string emailKey_;
  std::string ipKey_;
};

}  // namespace

auth::Claims requireToken(const Http::Request& request, const daemon::Services& services) {
  auto token = bearerToken(request);
  if (!token) throw Unauthorized("an Authorization: Bearer token is required");
  auto verified = auth::verifyToken(*token, services.jwtSecret, nowSeconds());
  if (!verified.claims) {
    log::get("auth")->debug("token refused: {}", auth::describe(verified.error));
    throw Unauthorized("the token is invalid or has expired; log in again");
  }
  return *verified.claims;
}

void requireLiveAccount(daemon::Services& services, const auth::Claims& claims) {
  // A token outliving its account, or issued before a password change, is as good as none.
  if (users::standing(services.accounts.get(claims.sub), claims.ver) !=
      users::TokenStanding::kValid) {
    throw Unauthorized(
        "the token is no longer valid (account deleted or password changed); "
        "log in again");
  }
}

void offload(daemon::Services& services, Http::ResponseWriter& response, std::string context,
             std::function<void(Http::ResponseWriter&)> work) {
  // ResponseWriter is move-only and std::function needs a copyable callable: share it.
  auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
  markDeferred();
  const std::string route = Router::currentRoute();
  const auto started = std::chrono::steady_clock::now();
  const bool queued = services.blocking.submit(
      [&services, writer, work = std::move(work), context, route, started] {
        try {
          work(*writer);
        } catch (...) {
          sendException(*writer, std::current_exception(), context);
        }
        services.httpMetrics.record(
            route, static_cast<int>(writer->getResponseCode()),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      });
  if (!queued) {
    addHeader(*writer, "Retry-After", "1");
    sendError(*writer, Http::Code::Service_Unavailable, "unavailable",
              "the server is busy; try again shortly");
    services.httpMetrics.record(route, 503, 0);
  }
}

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
        const json body = jsonBody(request);
        const std::string email = requireString(body, "email");
        const std::string password = requireString(body, "password");
        const std::string ip = clientAddress(request, services->config.http);
        auto throttle = std::make_shared<LoginThrottle>(*services, email, ip);
        throttle->check();
        offload(*services, response, "POST /auth/login",
                [services, email, password, throttle](Http::ResponseWriter& rw) {
                  auto conn = services->db.acquire();
                  auto user =
                      users::authenticate(*conn, email, password, services->config.auth.bcryptCost);
                  if (!user) {
                    throttle->recordFailure();
                    sendError(rw, Http::Code::Unauthorized, "invalid_credentials",
                              "the email or password is wrong");
                    return;
                  }
                  throttle->clearEmail();
                  const auto now = nowSeconds();
                  const auto ttl = services->config.auth.tokenTtl.count();
                  const std::string token = auth::signToken(
                      {user->id, now, now + ttl, user->tokenVersion}, services->jwtSecret);
                  sendJson(rw, Http::Code::Ok,
                           {{"accessToken", token}, {"tokenType", "Bearer"}, {"expiresIn", ttl}});
                });
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
}

void addWebsiteRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(
      Http::Method::Post, "/websites",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const auth::Claims claims = requireToken(request, *services);
        const json body = jsonBody(request);
        const std::string name = requireString(body, "name");
        const std::string domain = requireString(body, "domain");
        offload(*services, response, "POST /websites",
                [services, claims, name, domain](Http::ResponseWriter& rw) {
                  requireLiveAccount(*services, claims);
                  auto conn = services->db.acquire();
                  if (!users::findById(*conn, claims.sub)) {
                    throw Unauthorized("the account of this token no longer exists");
                  }
                  auto site = sites::create(*conn, claims.sub, name, domain);
                  conn.release();
                  // Usable from the 201 on: tracked here without a lookup, and every other
                  // daemon told before the answer leaves.
                  services->sites.put(site.id, sites::CachedSite{site.userId, site.domain});
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
               const auth::Claims claims = requireToken(request, *services);
               const std::string id = params.get("id");
               offload(*services, response, "GET /websites/{id}",
                       [services, claims, id](Http::ResponseWriter& rw) {
                         requireLiveAccount(*services, claims);
                         auto conn = services->db.acquire();
                         auto site = sites::findOwned(*conn, claims.sub, id);
                         if (!site) throw NotFound("no such website");
                         sendJson(rw, Http::Code::Ok, websiteJson(*site));
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
                         const std::string lowered = lowerId(id);
                         services->sites.forget(lowered);
                         announce(*services, [&](redis::Client& redis) {
                           sites::announceWebsitesDeleted(redis, {lowered});
                         });
                         log::get("http")->info("website deleted id={}", lowered);
                         rw.send(Http::Code::No_Content);
                       });
             });
}

}  // namespace mp::http
