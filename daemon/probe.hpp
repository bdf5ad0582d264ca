// A bounded HTTP request to one of the daemon's own listeners: the liveness behind the
// readiness notification and the watchdog's keep-alive.
#pragma once

#include <chrono>
#include <string>

namespace mp::daemon {

/// Whether an HTTP server at `host`:`port` answers `GET path` with a status line within
/// `timeout` (any status counts: the point is that a thread accepted, read and answered). A
/// wildcard host ("", "0.0.0.0", "::") is reached on the loopback address of its family.
/// Never throws.
bool answersHttp(const std::string& host, int port, const std::string& path,
                 std::chrono::milliseconds timeout) noexcept;

}  // namespace mp::daemon
