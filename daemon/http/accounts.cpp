// POST /auth/signup, POST /auth/login, GET /auth/me and the /websites routes.
#include "http/accounts.hpp"

#include <chrono>

#include "auth/jwt.hpp"
#include "http/common.hpp"
#include "http/response.hpp"
#include "log/log.hpp"
#include "redis/keys.hpp"
#include "server.hpp"
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

std::string requireUser(const Http::Request& request, const daemon::Services& services) {
  auto token = bearerToken(request);
  if (!token) throw Unauthorized("an Authorization: Bearer token is required");
  auto verified = auth::verifyToken(*token, services.jwtSecret, nowSeconds());
  if (!verified.claims) {
    log::get("auth")->debug("token refused: {}", auth::describe(verified.error));
    throw Unauthorized("the token is invalid or has expired; log in again");
  }
  return verified.claims->sub;
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
                  const std::string token =
                      auth::signToken({user->id, now, now + ttl}, services->jwtSecret);
                  sendJson(rw, Http::Code::Ok,
                           {{"accessToken", token}, {"tokenType", "Bearer"}, {"expiresIn", ttl}});
                });
      });

  router.add(
      Http::Method::Get, "/auth/me",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const std::string userId = requireUser(request, *services);
        auto conn = services->db.acquire();
        auto user = users::findById(*conn, userId);
        // A token outliving its account is as good as no token.
        if (!user) throw Unauthorized("the account of this token no longer exists");
        sendJson(response, Http::Code::Ok, userJson(*user));
      });
}

void addWebsiteRoutes(Router& router, std::shared_ptr<daemon::Services> services) {
  router.add(
      Http::Method::Post, "/websites",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const std::string userId = requireUser(request, *services);
        const json body = jsonBody(request);
        const std::string name = requireString(body, "name");
        const std::string domain = requireString(body, "domain");
        auto conn = services->db.acquire();
        if (!users::findById(*conn, userId)) {
          throw Unauthorized("the account of this token no longer exists");
        }
        auto site = sites::create(*conn, userId, name, domain);
        log::get("http")->info("website created id={} domain={}", site.id, site.domain);
        sendJson(response, Http::Code::Created, websiteJson(site));
      });

  router.add(
      Http::Method::Get, "/websites",
      [services](const Http::Request& request, const RouteParams&, Http::ResponseWriter& response) {
        const std::string userId = requireUser(request, *services);
        auto conn = services->db.acquire();
        json list = json::array();
        for (const auto& site : sites::listForUser(*conn, userId))
          list.push_back(websiteJson(site));
        sendJson(response, Http::Code::Ok, list);
      });

  router.add(Http::Method::Get, "/websites/{id}",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const std::string userId = requireUser(request, *services);
               auto conn = services->db.acquire();
               auto site = sites::findOwned(*conn, userId, params.get("id"));
               if (!site) throw NotFound("no such website");
               sendJson(response, Http::Code::Ok, websiteJson(*site));
             });

  router.add(Http::Method::Delete, "/websites/{id}",
             [services](const Http::Request& request, const RouteParams& params,
                        Http::ResponseWriter& response) {
               const std::string userId = requireUser(request, *services);
               auto conn = services->db.acquire();
               if (!sites::removeOwned(*conn, userId, params.get("id")))
                 throw NotFound("no such website");
               log::get("http")->info("website deleted id={}", params.get("id"));
               response.send(Http::Code::No_Content);
             });
}

}  // namespace mp::http
