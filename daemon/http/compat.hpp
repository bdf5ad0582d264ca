// Tracking routes of other analytics tools' snippets and clients: POST /api/event (Plausible),
// POST /api/send and /api/batch (Umami), each with its CORS preflight.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addCompatRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
