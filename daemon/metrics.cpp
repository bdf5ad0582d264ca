// Metric rendering in the Prometheus text format (version 0.0.4).
#include "metrics.hpp"

#include <fmt/format.h>

namespace mp::daemon {

void HttpMetrics::record(const std::string& route, int status, double seconds) {
  latency_.observe(seconds);
  std::lock_guard lock(mutex_);
  ++counts_[{route, status}];
}

void HttpMetrics::render(std::string& out) const {
  out += "# HELP mp_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE mp_http_requests_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, count] : counts_) {
      out += fmt::format("mp_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                         key.second, count);
    }
  }
  out += "# HELP mp_http_request_duration_seconds Time to answer HTTP requests.\n";
  out += "# TYPE mp_http_request_duration_seconds histogram\n";
  util::renderHistogram(out, "mp_http_request_duration_seconds", "", latency_);
}

}  // namespace mp::daemon
