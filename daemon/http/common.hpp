// What every handler needs: header access, JSON bodies, the client address, the bearer-token
// guard, offloading to the blocking pool, exception mapping.
#pragma once

#include <pistache/http.h>

#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "http/response.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::redis {
class Client;
}

namespace mp::http {

/// The value of a request header by name (typed or raw), or nullopt.
std::optional<std::string> header(const Pistache::Http::Request& request, const std::string& name);

/// The body as a JSON object; throws InvalidInput (400) for malformed JSON or a non-object, and
/// UnsupportedMediaType (415) for a Content-Type that is not JSON (or text/plain when allowed).
nlohmann::json jsonBody(const Pistache::Http::Request& request, bool allowTextPlain = false);

/// A required string field of a JSON object; throws InvalidInput naming the field.
std::string requireString(const nlohmann::json& body, const char* field);

/// An optional string field of a JSON object: nullopt when absent or null (as requireString()
/// treats null as absent); throws InvalidInput naming the field for any other type.
std::optional<std::string> optionalString(const nlohmann::json& body, const char* field);

/// The client's address: the peer's, or, when the peer is one of http.trusted_proxies, the one
/// forwardedClient() finds in X-Forwarded-For.
std::string clientAddress(const Pistache::Http::Request& request, const config::HttpConfig& http);

/// The client behind a peer given its X-Forwarded-For: walking the entries from the right (the
/// ones nearest this server), past every address in `trustedProxies`, to the first that is not
/// (the left-most when all are); a malformed entry ends the walk at the address right of it.
/// Entries left of the client are whatever the client sent and never believed. The peer itself
/// when it is not trusted or there is no header.
std::string forwardedClient(const std::string& peer, const std::optional<std::string>& forwardedFor,
                            const std::vector<std::string>& trustedProxies);

/// Whether the request came over HTTPS as far as this server can tell: X-Forwarded-Proto: https
/// from a peer in http.trusted_proxies.
bool viaHttps(const Pistache::Http::Request& request, const config::HttpConfig& http);

/// Whether a session cookie set in answer to `request` is marked Secure (web.cookie_secure).
bool secureCookie(const Pistache::Http::Request& request, const config::Config& config);

/// The bearer token of the Authorization header, or nullopt.
std::optional<std::string> bearerToken(const Pistache::Http::Request& request);

/// The token of the session cookie (auth::kSessionCookie), or nullopt.
std::optional<std::string> sessionToken(const Pistache::Http::Request& request);

/// Whether the Origin header names the host (and port) of the Host header.
bool sameOrigin(const Pistache::Http::Request& request);

/// The claims of a valid token, from Authorization: Bearer or else the session cookie
/// (signature, issuer, expiry: no I/O); throws Unauthorized (401) otherwise, and Forbidden (403)
/// for a cookie on a request other than GET or HEAD from another origin. Whether its account still
/// holds it is requireLiveAccount()'s question.
auth::Claims requireToken(const Pistache::Http::Request& request, const daemon::Services& services);

/// Who asks to read a website's stats: an account (its token or session cookie) or whoever holds
/// a share link (the X-Share-Token header).
struct Viewer {
  std::optional<auth::Claims> claims;  ///< an account's request
  std::string shareToken;              ///< a share link's request, when claims is empty
};

/// The viewer of a read-only request: X-Share-Token when sent (a malformed one names no website:
/// NotFound), else requireToken(). No I/O.
Viewer requireViewer(const Pistache::Http::Request& request, const daemon::Services& services);

/// Throws NotFound unless the viewer may read the website: the account owns it (and still holds
/// its token, else Unauthorized), or the share link is one of the website's. Returns the
/// website's time zone. Blocks (the share is looked up in PostgreSQL, so a revoked link stops
/// at once on every daemon): call it where blocking is allowed. Throws DbError.
std::string requireReader(daemon::Services& services, const Viewer& viewer,
                          const std::string& websiteId);

/// Throws Unauthorized (401) when the token's account is gone or its password changed since the
/// token was issued. Answered by the account cache; on a miss it looks the account up, so call
/// it where blocking is allowed (offload()); throws DbError when the lookup fails.
void requireLiveAccount(daemon::Services& services, const auth::Claims& claims);

/// Runs `tell` with a Redis client of the pool; a Redis out of reach is logged, never an error:
/// the change is committed, and other daemons catch up at their next reload.
void announce(daemon::Services& services, const std::function<void(redis::Client&)>& tell);

/// Runs `work` on the blocking pool and answers from there; exceptions map as in sendException.
/// Answers 503 at once when the pool's queue is full.
void offload(daemon::Services& services, Pistache::Http::ResponseWriter& response,
             std::string context, std::function<void(Pistache::Http::ResponseWriter&)> work);

/// The answer to an exception in the API's error shape (InvalidInput 400, NotFound 404,
/// Conflict 409, PostgreSQL/Redis out of reach 503, anything else 500 with a log line naming
/// `context`).
struct ErrorAnswer {
  Pistache::Http::Code status = Pistache::Http::Code::Internal_Server_Error;
  std::string code;
  std::string message;
  HeaderList headers;  ///< Retry-After, WWW-Authenticate
};
ErrorAnswer describeException(std::exception_ptr error, const std::string& context);

/// Answers an exception as describeException() describes it.
void sendException(Pistache::Http::ResponseWriter& response, std::exception_ptr error,
                   const std::string& context);

/// Marks the request being handled on this thread as answered later from another thread.
void markDeferred();
/// True (once) when the request just handled on this thread was deferred.
bool takeDeferred();

/// Thrown for a body whose media type is not accepted (415 unsupported_media_type).
class UnsupportedMediaType : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown to answer 401 unauthorized with WWW-Authenticate: Bearer.
class Unauthorized : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown to answer 403 with the given error code.
class Forbidden : public std::runtime_error {
 public:
  Forbidden(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

/// Thrown to answer 429 rate_limited with Retry-After.
class RateLimited : public std::runtime_error {
 public:
  RateLimited(long retryAfterSeconds, const std::string& message)
      : std::runtime_error(message), retryAfter_(retryAfterSeconds) {}
  long retryAfter() const noexcept { return retryAfter_; }

 private:
  long retryAfter_;
};

}  // namespace mp::http
