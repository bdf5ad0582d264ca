// Request helpers and the one place exceptions become HTTP answers.
#include "http/common.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "auth/jwt.hpp"
#include "auth/session_cookie.hpp"
#include "db/connection.hpp"
#include "events/privacy.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "log/log.hpp"
#include "redis/pool.hpp"
#include "services.hpp"
#include "sites/shares.hpp"
#include "users/users.hpp"
#include "util/error.hpp"
#include "util/net.hpp"

namespace mp::http {
namespace Http = Pistache::Http;

namespace {

std::int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

thread_local bool tDeferred = false;

}  // namespace

void markDeferred() {
  tDeferred = true;
}

bool takeDeferred() {
  const bool deferred = tDeferred;
  tDeferred = false;
  return deferred;
}

std::optional<std::string> header(const Http::Request& request, const std::string& name) {
  const auto& headers = request.headers();
  if (auto raw = headers.tryGetRaw(name)) return raw->value();
  if (auto typed = headers.tryGet(name)) {
    // Pistache keeps only the parsed form of the headers it knows (User-Agent, Content-Type,
    // Authorization…); one stream per thread, as building one per call was a visible share of a
    // tracking request's time.
    thread_local std::ostringstream out;
    out.str(std::string());
    out.clear();
    typed->write(out);
    return out.str();
  }
  return std::nullopt;
}

nlohmann::json jsonBody(const Http::Request& request, bool allowTextPlain) {
  if (auto type = header(request, "Content-Type")) {
    const std::string media = lower(trim(type->substr(0, type->find(';'))));
    const bool ok = media == "application/json" || (allowTextPlain && media == "text/plain");
    if (!ok) {
      throw UnsupportedMediaType("send the body as JSON with Content-Type: application/json");
    }
  }
  auto body = nlohmann::json::parse(request.body(), nullptr, false);
  if (body.is_discarded()) throw InvalidInput("body", "the body is not valid JSON");
  if (!body.is_object()) throw InvalidInput("body", "the body must be a JSON object");
  return body;
}

std::string requireString(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    throw InvalidInput(field, std::string(field) + " is required");
  }
  if (!it->is_string()) throw InvalidInput(field, std::string(field) + " must be a string");
  return it->get<std::string>();
}

std::optional<std::string> optionalString(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw InvalidInput(field, std::string(field) + " must be a string");
  return it->get<std::string>();
}

std::string clientAddress(const Http::Request& request, const config::HttpConfig& http) {
  std::string peer = request.address().host();
  if (http.trustedProxies.empty()) return peer;
  return forwardedClient(peer, header(request, "X-Forwarded-For"), http.trustedProxies);
}

std::string forwardedClient(const std::string& peer, const std::optional<std::string>& forwardedFor,
                            const std::vector<std::string>& trustedProxies) {
  const auto trusted = [&](const std::string& addr) {
    return std::any_of(trustedProxies.begin(), trustedProxies.end(),
                       [&](const std::string& cidr) { return util::inCidr(addr, cidr); });
  };
  if (!forwardedFor || !trusted(peer)) return peer;
  // Each proxy appends the address it was connected from; only a trusted one's word counts, so
  // the walk starts at this server's end. The left-most entry is the easiest to forge: a client
  // sends it, and an appending proxy keeps it.
  std::string client = peer;
  std::string_view rest = *forwardedFor;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string entry =
        trim(std::string(comma == std::string_view::npos ? rest : rest.substr(comma + 1)));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (!events::parseIp(entry)) break;  // nothing left of a malformed entry can be placed
    client = entry;
    if (!trusted(entry)) break;
  }
  return client;
}

bool viaHttps(const Http::Request& request, const config::HttpConfig& http) {
  const std::string peer = request.address().host();
  const bool trusted =
      std::any_of(http.trustedProxies.begin(), http.trustedProxies.end(),
                  [&](const std::string& cidr) { return util::inCidr(peer, cidr); });
  if (!trusted) return false;
  auto proto = header(request, "X-Forwarded-Proto");
  return proto && lower(trim(*proto)) == "https";
}

bool secureCookie(const Http::Request& request, const config::Config& config) {
  if (config.web.cookieSecure == "always") return true;
  if (config.web.cookieSecure == "never") return false;
  return viaHttps(request, config.http);
}

std::optional<std::string> bearerToken(const Http::Request& request) {
  auto value = header(request, "Authorization");
  if (!value) return std::nullopt;
  std::string v = trim(*value);
  if (v.size() < 7 || lower(v.substr(0, 7)) != "bearer ") return std::nullopt;
  std::string token = trim(v.substr(7));
  if (token.empty()) return std::nullopt;
  return token;
}

ErrorAnswer describeException(std::exception_ptr error, const std::string& context) {
  using Code = Http::Code;
  try {
    std::rethrow_exception(error);
  } catch (const InvalidInput& e) {
    return {Code::Bad_Request, "invalid_request", e.what(), {}};
  } catch (const UnsupportedMediaType& e) {
    return {Code::Unsupported_Media_Type, "unsupported_media_type", e.what(), {}};
  } catch (const Unauthorized& e) {
    return {Code::Unauthorized,
            "unauthorized",
            e.what(),
            {{"WWW-Authenticate", "Bearer realm=\"metricpulse\""}}};
  } catch (const Forbidden& e) {
    return {Code::Forbidden, e.code(), e.what(), {}};
  } catch (const NotFound& e) {
    return {Code::Not_Found, "not_found", e.what(), {}};
  } catch (const Conflict& e) {
    return {Code::Conflict, e.code(), e.what(), {}};
  } catch (const Rejected& e) {
    ErrorAnswer answer{static_cast<Code>(e.status()), e.code(), e.what(), {}};
    if (e.retryAfter() > 0)
      answer.headers.emplace_back("Retry-After", std::to_string(e.retryAfter()));
    return answer;
  } catch (const RateLimited& e) {
    return {Code::Too_Many_Requests,
            "rate_limited",
            e.what(),
            {{"Retry-After", std::to_string(e.retryAfter())}}};
  } catch (const DbError& e) {
    if (db::isUnavailable(e)) {
      log::get("db")->warn("{}: database unavailable: {}", context, e.what());
      return {Code::Service_Unavailable,
              "unavailable",
              "the database is unavailable; try again shortly",
              {{"Retry-After", "5"}}};
    }
    log::get("db")->error("{}: {}", context, e.what());
  } catch (const RedisError& e) {
    log::get("redis")->warn("{}: redis unavailable: {}", context, e.what());
    return {Code::Service_Unavailable,
            "unavailable",
            "a backing service is unavailable; try again shortly",
            {{"Retry-After", "5"}}};
  } catch (const std::exception& e) {
    log::get("http")->error("{}: {}", context, e.what());
  }
  return {Code::Internal_Server_Error,
          "internal",
          "the server failed to handle this request; see its log",
          {}};
}

void sendException(Http::ResponseWriter& response, std::exception_ptr error,
                   const std::string& context) {
  const ErrorAnswer answer = describeException(std::move(error), context);
  for (const auto& [name, value] : answer.headers) addHeader(response, name, value);
  sendError(response, answer.status, answer.code, answer.message);
}

std::optional<std::string> sessionToken(const Http::Request& request) {
  const std::string name(auth::kSessionCookie);
  const auto& jar = request.cookies();
  if (!jar.has(name)) return std::nullopt;
  std::string value = jar.get(name).value;
  if (value.empty()) return std::nullopt;
  return value;
}

bool sameOrigin(const Http::Request& request) {
  auto origin = header(request, "Origin");
  auto host = header(request, "Host");
  if (!origin || !host) return false;
  const auto scheme = origin->find("://");
  if (scheme == std::string::npos) return false;
  return lower(trim(origin->substr(scheme + 3))) == lower(trim(*host));
}

auth::Claims requireToken(const Http::Request& request, const daemon::Services& services) {
  auto token = bearerToken(request);
  if (!token) {
    token = sessionToken(request);
    if (!token) {
      throw Unauthorized("log in first: send Authorization: Bearer <token> or the session cookie");
    }
    // The cookie travels with any request the browser makes to this host, also from a page of
    // another origin on the same site; a change must come from the dashboard's own origin.
    const auto method = request.method();
    if (method != Http::Method::Get && method != Http::Method::Head && !sameOrigin(request)) {
      throw Forbidden("forbidden",
                      "a request authenticated by the session cookie must come from the "
                      "dashboard's own origin (its Origin header must match Host)");
    }
  }
  auto verified = auth::verifyToken(*token, services.jwtSecret, nowSeconds());
  if (!verified.claims) {
    log::get("auth")->debug("token refused: {}", auth::describe(verified.error));
    throw Unauthorized("the token is invalid or has expired; log in again");
  }
  return *verified.claims;
}

Viewer requireViewer(const Http::Request& request, const daemon::Services& services) {
  Viewer viewer;
  if (auto share = header(request, "X-Share-Token")) {
    viewer.shareToken = trim(*share);
    if (!sites::isShareToken(viewer.shareToken)) throw NotFound("no such share link");
    return viewer;
  }
  viewer.claims = requireToken(request, services);
  return viewer;
}

std::string requireReader(daemon::Services& services, const Viewer& viewer,
                          const std::string& websiteId) {
  if (viewer.claims) {
    requireLiveAccount(services, *viewer.claims);
    auto site = services.sites.find(websiteId);
    if (!site || site->userId != viewer.claims->sub) throw NotFound("no such website");
    return site->timeZone;
  }
  auto conn = services.db.acquire();
  auto share = sites::findShare(*conn, viewer.shareToken);
  // A link of another website reads nothing of this one, and says no more than an unknown one.
  if (!share || share->websiteId != websiteId) throw NotFound("no such website");
  auto site = services.sites.find(websiteId);
  if (!site) throw NotFound("no such website");
  return site->timeZone;
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

void announce(daemon::Services& services, const std::function<void(redis::Client&)>& tell) {
  try {
    auto lease = services.redis.acquire();
    tell(*lease);
  } catch (const std::exception& e) {
    log::get("redis")->warn(
        "could not announce a change (other daemons see it at their next reload): {}", e.what());
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

}  // namespace mp::http
