// POST /track and OPTIONS /track (public; CORS open to every origin).
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addTrackRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
