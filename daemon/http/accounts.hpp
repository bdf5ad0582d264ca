// Accounts (/auth/*) and websites (/websites*) routes, and the bearer-token guard.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

/// The user id of a valid bearer token; throws Unauthorized (401) otherwise.
std::string requireUser(const Pistache::Http::Request& request, const daemon::Services& services);

/// Runs `work` on the blocking pool and answers from there; exceptions map as in sendException.
/// Answers 503 at once when the pool's queue is full.
void offload(daemon::Services& services, Pistache::Http::ResponseWriter& response,
             std::string context, std::function<void(Pistache::Http::ResponseWriter&)> work);

void addAccountRoutes(Router& router, std::shared_ptr<daemon::Services> services);
void addWebsiteRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
