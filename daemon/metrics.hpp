// Prometheus text exposition of what the daemon counts (GET /metrics).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "util/histogram.hpp"

namespace mp::daemon {

/// Requests by route and status, and their latency; and the stats answer cache's lookups.
class HttpMetrics {
 public:
  /// How a stats answer was found: in the Redis cache, not there, or Redis could not be asked
  /// (answered from the database all the same).
  enum class CacheResult { kHit, kMiss, kError };

  void record(const std::string& route, int status, double seconds);
  /// Counts one stats cache lookup of `endpoint` ("overview", "top-pages"…).
  void recordCache(const std::string& endpoint, CacheResult result);
  void render(std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> counts_;
  std::map<std::pair<std::string, CacheResult>, std::uint64_t> cache_;
  util::Histogram<10> latency_{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0}};
};

/// Runs of the scheduler's background jobs (aggregation, partitions, retention, salts) by outcome,
/// their duration and the time of each job's last success.
class JobMetrics {
 public:
  enum class Outcome { kOk, kSkipped, kFailed };

  /// Makes the job's series appear (at zero) before its first run.
  void declare(const std::string& job);
  void record(const std::string& job, Outcome outcome, double seconds);
  void render(std::string& out) const;

 private:
  struct Job {
    std::array<std::uint64_t, 3> runs{};  // by Outcome
    double lastSuccess = 0;               // Unix seconds, 0 = never
    std::unique_ptr<util::Histogram<10>> duration;
  };
  Job& job(const std::string& name);  // with mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, Job> jobs_;
};

/// The WebSocket live feed: clients connected now, frames queued to clients, and what was
/// dropped for clients that did not read their output in time.
struct WsMetrics {
  std::atomic<std::int64_t> clients{0};         ///< connections past the handshake, now
  std::atomic<std::uint64_t> framesSent{0};     ///< frames queued to a client's socket
  std::atomic<std::uint64_t> framesDropped{0};  ///< frames discarded with a slow client
  std::atomic<std::uint64_t> slowClients{0};    ///< clients dropped over websocket.max_output_bytes
  std::atomic<std::uint64_t> refused{0};        ///< handshakes answered with an HTTP error
  std::atomic<std::uint64_t> refusedHandshakes{0};  ///< of those: over websocket.max_handshakes
  std::atomic<std::uint64_t> refusedPerAddress{0};  ///< of those: over max_clients_per_address
  std::atomic<std::uint64_t> handshakeTimeouts{0};  ///< closed before finishing the upgrade

  /// Appends the mp_ws_* series. Never throws but std::bad_alloc.
  void render(std::string& out) const;
};

}  // namespace mp::daemon
