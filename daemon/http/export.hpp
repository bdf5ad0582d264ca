// GET /websites/{id}/export: the owner's ZIP of CSV files (core/export).
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addExportRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
