// GET /metrics: Prometheus text exposition.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addMetricsRoute(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
