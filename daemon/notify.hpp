// What metricpulsed tells systemd through sd_notify(3): readiness, reloads, shutdown and the
// watchdog's keep-alive. Without NOTIFY_SOCKET in the environment every call does nothing.
#pragma once

#include <chrono>
#include <string>

namespace mp::daemon::notify {

/// Whether a service manager listens (NOTIFY_SOCKET is set and not empty).
bool enabled();

/// READY=1 with STATUS=`text`: every listener serves.
void ready(const std::string& text);
/// RELOADING=1 with MONOTONIC_USEC= now, before a reload (SIGHUP); ready() follows it.
void reloading();
/// STOPPING=1: shutdown has begun.
void stopping();
/// STATUS=`text` alone, shown by `systemctl status`.
void status(const std::string& text);
/// WATCHDOG=1: the keep-alive of WatchdogSec=.
void watchdog();

/// The watchdog timeout the service manager asks this process to keep (WATCHDOG_USEC, when
/// WATCHDOG_PID is unset or names this process, as sd_watchdog_enabled(3) reads them); zero
/// when there is none or when nothing listens (enabled() is false).
std::chrono::microseconds watchdogTimeout();

}  // namespace mp::daemon::notify
