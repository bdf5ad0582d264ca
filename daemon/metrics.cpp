// Metric rendering in the Prometheus text format (version 0.0.4).
#include "metrics.hpp"

#include <fmt/format.h>

#include <chrono>

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

  out +=
      "# HELP mp_stats_cache_requests_total Stats answers by endpoint and how the Redis cache "
      "answered (error: Redis unavailable, answered from PostgreSQL).\n";
  out += "# TYPE mp_stats_cache_requests_total counter\n";
  static constexpr const char* kResults[] = {"hit", "miss", "error"};
  std::lock_guard lock(mutex_);
  for (const auto& [key, count] : cache_) {
    out += fmt::format("mp_stats_cache_requests_total{{endpoint=\"{}\",result=\"{}\"}} {}\n",
                       key.first, kResults[static_cast<std::size_t>(key.second)], count);
  }
}

void HttpMetrics::recordCache(const std::string& endpoint, CacheResult result) {
  std::lock_guard lock(mutex_);
  ++cache_[{endpoint, result}];
}

JobMetrics::Job& JobMetrics::job(const std::string& name) {
  auto& j = jobs_[name];
  // From a fold of a few milliseconds to a prune of many minutes.
  if (!j.duration) {
    j.duration = std::make_unique<util::Histogram<10>>(
        std::array<double, 10>{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300});
  }
  return j;
}

void JobMetrics::declare(const std::string& name) {
  std::lock_guard lock(mutex_);
  job(name);
}

void JobMetrics::record(const std::string& name, Outcome outcome, double seconds) {
  std::lock_guard lock(mutex_);
  auto& j = job(name);
  ++j.runs[static_cast<std::size_t>(outcome)];
  j.duration->observe(seconds);
  if (outcome == Outcome::kOk) {
    j.lastSuccess =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
}

void JobMetrics::render(std::string& out) const {
  static constexpr const char* kResults[] = {"ok", "skipped", "failed"};
  std::lock_guard lock(mutex_);
  out +=
      "# HELP mp_job_runs_total Background job runs by job and result (skipped: another "
      "daemon or run held its lock).\n";
  out += "# TYPE mp_job_runs_total counter\n";
  for (const auto& [name, j] : jobs_) {
    for (std::size_t r = 0; r < j.runs.size(); ++r) {
      out += fmt::format("mp_job_runs_total{{job=\"{}\",result=\"{}\"}} {}\n", name, kResults[r],
                         j.runs[r]);
    }
  }
  out += "# HELP mp_job_duration_seconds Time taken by background job runs.\n";
  out += "# TYPE mp_job_duration_seconds histogram\n";
  for (const auto& [name, j] : jobs_) {
    util::renderHistogram(out, "mp_job_duration_seconds", fmt::format("job=\"{}\"", name),
                          *j.duration);
  }
  out +=
      "# HELP mp_job_last_success_timestamp_seconds Unix time of the job's last successful "
      "run (0: none yet).\n";
  out += "# TYPE mp_job_last_success_timestamp_seconds gauge\n";
  for (const auto& [name, j] : jobs_) {
    out += fmt::format("mp_job_last_success_timestamp_seconds{{job=\"{}\"}} {:.3f}\n", name,
                       j.lastSuccess);
  }
}

void WsMetrics::render(std::string& out) const {
  out += "# HELP mp_ws_clients WebSocket live-feed clients connected now.\n";
  out += "# TYPE mp_ws_clients gauge\n";
  out += fmt::format("mp_ws_clients {}\n", clients.load());
  out += "# HELP mp_ws_messages_sent_total Frames queued to live-feed clients.\n";
  out += "# TYPE mp_ws_messages_sent_total counter\n";
  out += fmt::format("mp_ws_messages_sent_total {}\n", framesSent.load());
  out += "# HELP mp_ws_messages_dropped_total Frames discarded because a client read too slowly.\n";
  out += "# TYPE mp_ws_messages_dropped_total counter\n";
  out += fmt::format("mp_ws_messages_dropped_total {}\n", framesDropped.load());
  out += "# HELP mp_ws_clients_dropped_total Clients disconnected, by reason.\n";
  out += "# TYPE mp_ws_clients_dropped_total counter\n";
  out += fmt::format("mp_ws_clients_dropped_total{{reason=\"slow\"}} {}\n", slowClients.load());
  out += fmt::format("mp_ws_clients_dropped_total{{reason=\"handshake_timeout\"}} {}\n",
                     handshakeTimeouts.load());
  out += "# HELP mp_ws_handshakes_refused_total Upgrade requests answered with an HTTP error.\n";
  out += "# TYPE mp_ws_handshakes_refused_total counter\n";
  out += fmt::format("mp_ws_handshakes_refused_total {}\n", refused.load());
  out +=
      "# HELP mp_ws_connections_limited_total Connections refused before their request was "
      "read, by the limit they met.\n";
  out += "# TYPE mp_ws_connections_limited_total counter\n";
  out += fmt::format("mp_ws_connections_limited_total{{limit=\"max_handshakes\"}} {}\n",
                     refusedHandshakes.load());
  out += fmt::format("mp_ws_connections_limited_total{{limit=\"max_clients_per_address\"}} {}\n",
                     refusedPerAddress.load());
}

}  // namespace mp::daemon
