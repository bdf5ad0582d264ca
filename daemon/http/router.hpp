// A small method + path router that answers unknown routes and wrong methods in the API's JSON
// shape.
#pragma once

#include <pistache/http.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::http {

/// Path parameters of a matched route ({id} segments), in order.
struct RouteParams {
  std::vector<std::pair<std::string, std::string>> values;
  /// The value of parameter `name`, or "" when absent.
  std::string get(std::string_view name) const;
};

using RouteHandler = std::function<void(const Pistache::Http::Request&, const RouteParams&,
                                        Pistache::Http::ResponseWriter&)>;

class Router {
 public:
  /// One entry of the route table.
  struct RouteInfo {
    Pistache::Http::Method method;
    std::string pattern;
  };

  /// Adds a route; `pattern` is "/fixed/{param}/fixed" and labels the route in metrics.
  void add(Pistache::Http::Method method, std::string pattern, RouteHandler handler);

  /// Dispatches a request; 404 not_found or 405 (with Allow) when nothing matches. Returns the
  /// matched route's pattern, or "unmatched" (the label metrics use).
  const std::string& dispatch(const Pistache::Http::Request& request,
                              Pistache::Http::ResponseWriter& response) const;

  /// Every route, in the order added (the spec test compares it with docs/openapi.yaml).
  std::vector<RouteInfo> routes() const;

  /// The pattern of the route last dispatched on this thread, or "unmatched" (set before the
  /// handler runs, so it is right even when the handler throws or defers its answer).
  static const std::string& currentRoute();

 private:
  struct Route {
    Pistache::Http::Method method;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    std::string pattern;
    RouteHandler handler;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& path,
                    RouteParams& params);
  std::vector<Route> routes_;
};

}  // namespace mp::http
