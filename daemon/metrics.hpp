// Prometheus text exposition of what the daemon counts (GET /metrics).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "util/histogram.hpp"

namespace mp::daemon {

/// Requests by route and status, and their latency.
class HttpMetrics {
 public:
  void record(const std::string& route, int status, double seconds);
  void render(std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> counts_;
  util::Histogram<10> latency_{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0}};
};

}  // namespace mp::daemon
