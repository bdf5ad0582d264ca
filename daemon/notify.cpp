// sd_notify(3) and sd_watchdog_enabled(3) from libsystemd, with failures logged once.
#include "notify.hpp"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "log/log.hpp"

namespace mp::daemon::notify {
namespace {

void send(const std::string& state) {
  if (!enabled()) return;
  const int rc = sd_notify(0, state.c_str());
  // A service manager that went away is no reason to stop serving; say it once.
  static std::atomic<bool> warned{false};
  if (rc < 0 && !warned.exchange(true)) {
    log::get("main")->warn("cannot notify the service manager (NOTIFY_SOCKET): {}",
                           std::strerror(-rc));
  }
}

// A STATUS= line is one line: a newline would start another assignment.
std::string oneLine(std::string text) {
  for (char& ch : text) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return text;
}

}  // namespace

bool enabled() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

void ready(const std::string& text) {
  send("READY=1\nSTATUS=" + oneLine(text));
}

void reloading() {
  // systemd compares MONOTONIC_USEC with the time it sent the reload, so that a late
  // READY=1 of an earlier reload is not taken for this one's.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000LL + now.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) +
       "\nSTATUS=Reloading the configuration");
}

void stopping() {
  send("STOPPING=1\nSTATUS=Shutting down");
}

void status(const std::string& text) {
  send("STATUS=" + oneLine(text));
}

void watchdog() {
  send("WATCHDOG=1");
}

std::chrono::microseconds watchdogTimeout() {
  if (!enabled()) return std::chrono::microseconds(0);
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(usec));
}

}  // namespace mp::daemon::notify
