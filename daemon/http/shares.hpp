// Share links: POST/GET /websites/{id}/shares, DELETE /websites/{id}/shares/{shareId} (owner),
// and GET /shares/{token} (public: the website a link shows).
#pragma once

#include <memory>

#include "http/router.hpp"

namespace mp::daemon {
struct Services;
}

namespace mp::http {

void addShareRoutes(Router& router, std::shared_ptr<daemon::Services> services);

}  // namespace mp::http
