// Goals and funnels of a website (/websites/{id}/goals, /websites/{id}/funnels), owner only.
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addGoalRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
