// GET /healthz and GET /readyz.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

/// Registers the liveness and readiness routes.
void addHealthRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
