// Route matching by method and path segments.
#include "http/router.hpp"

#include "http/response.hpp"

namespace mp::http {
namespace {

thread_local const std::string* tCurrentRoute = nullptr;
const std::string kUnmatched = "unmatched";

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    // Empty segments ("//", a trailing "/") are ignored, as common servers do.
    if (next > pos) out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

}  // namespace

std::string RouteParams::get(std::string_view name) const {
  for (const auto& [k, v] : values) {
    if (k == name) return v;
  }
  return {};
}

void Router::add(Pistache::Http::Method method, std::string pattern, RouteHandler handler) {
  Route route{method, {}, pattern, std::move(handler)};
  for (auto seg : splitPath(pattern)) route.segments.emplace_back(seg);
  routes_.push_back(std::move(route));
}

bool Router::match(const Route& route, const std::vector<std::string_view>& path,
                   RouteParams& params) {
  if (route.segments.size() != path.size()) return false;
  params.values.clear();
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto& seg = route.segments[i];
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      params.values.emplace_back(seg.substr(1, seg.size() - 2), std::string(path[i]));
    } else if (seg != path[i]) {
      return false;
    }
  }
  return true;
}

std::vector<Router::RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.push_back({route.method, route.pattern});
  return out;
}

const std::string& Router::currentRoute() {
  return tCurrentRoute ? *tCurrentRoute : kUnmatched;
}

const std::string& Router::dispatch(const Pistache::Http::Request& request,
                                    Pistache::Http::ResponseWriter& response) const {
  tCurrentRoute = nullptr;
  const auto path = splitPath(request.resource());
  RouteParams params;
  std::vector<Pistache::Http::Method> allowed;
  for (const auto& route : routes_) {
    if (!match(route, path, params)) continue;
    if (route.method == request.method()) {
      tCurrentRoute = &route.pattern;
      route.handler(request, params, response);
      return route.pattern;
    }
    allowed.push_back(route.method);
  }
  if (allowed.empty()) {
    sendError(response, Pistache::Http::Code::Not_Found, "not_found",
              "no such endpoint: " + request.resource());
    return kUnmatched;
  }
  std::string allow;
  for (auto m : allowed)
    allow += (allow.empty() ? "" : ", ") + std::string(Pistache::Http::methodString(m));
  response.headers().add<Pistache::Http::Header::Allow>(allowed);
  sendError(response, Pistache::Http::Code::Method_Not_Allowed, "method_not_allowed",
            std::string(Pistache::Http::methodString(request.method())) + " is not allowed on " +
                request.resource() + " (allowed: " + allow + ")");
  return kUnmatched;
}

}  // namespace mp::http
