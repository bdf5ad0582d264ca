// Accounts (/auth/*) and websites (/websites*) routes, and the bearer-token guard.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "auth/jwt.hpp"
#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

/// The claims of a valid bearer token (signature, issuer, expiry: no I/O); throws Unauthorized
/// (401) otherwise. Whether its account still holds it is requireLiveAccount()'s question.
auth::Claims requireToken(const Pistache::Http::Request& request, const daemon::Services& services);

/// Throws Unauthorized (401) when the token's account is gone or its password changed since the
/// token was issued. Answered by the account cache; on a miss it looks the account up, so call
/// it where blocking is allowed (offload()); throws DbError when the lookup fails.
void requireLiveAccount(daemon::Services& services, const auth::Claims& claims);

/// Runs `work` on the blocking pool and answers from there; exceptions map as in sendException.
/// Answers 503 at once when the pool's queue is full.
void offload(daemon::Services& services, Pistache::Http::ResponseWriter& response,
             std::string context, std::function<void(Pistache::Http::ResponseWriter&)> work);

void addAccountRoutes(Router& router, std::shared_ptr<daemon::Services> services);
void addWebsiteRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
