// POST /api/v2/query: Plausible's Stats API v2 over the query engine (docs/api-v2.md).
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

/// Registers POST /api/v2/query (bearer token, the owner's websites only, answers from
/// core/stats/v2 cached per cache.ttl_seconds with an X-Cache: HIT or MISS header).
void addQueryRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
