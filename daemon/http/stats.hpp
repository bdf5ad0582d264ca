// GET /stats/{id}/overview, top-pages, realtime, timeseries and breakdown, cached in Redis.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

/// Registers the five stats routes (owner only, answers from core/stats, cached per
/// cache.ttl_seconds with an X-Cache: HIT or MISS header).
void addStatsRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
