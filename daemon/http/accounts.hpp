// Accounts (/auth/*) and websites (/websites*) routes.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addAccountRoutes(Router& router, std::shared_ptr<daemon::Services> services);
void addWebsiteRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
