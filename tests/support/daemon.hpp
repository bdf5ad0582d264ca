// Runs metricpulsed as a child process with a generated configuration.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "support/env.hpp"

namespace mp::test {

/// Settings for a test daemon; anything not set takes a test-friendly value.
struct DaemonOptions {
  DaemonOptions(std::string url) : databaseUrl(std::move(url)) {}  // NOLINT: implicit on purpose
  std::string databaseUrl;
  std::string redisUrl;  ///< defaults to redisUrl()
  int redisTimeoutMs = 1000;
  std::string redisToml;  ///< extra lines inside [redis]
  int httpThreads = 2;
  std::string httpToml;  ///< extra lines inside [http]
  std::string wsToml;    ///< extra lines inside [websocket]
  bool allowSignup = true;
  int bcryptCost = 4;  ///< cheap hashing keeps tests fast
  std::string jwtSecret = "test-secret-test-secret-test-secret-0123456789";
  std::string extraToml;  ///< appended to the generated file (whole sections other than [auth])
  std::map<std::string, std::string> env;
};

class DaemonProcess {
 public:
  explicit DaemonProcess(DaemonOptions options);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  /// Starts it and waits until /healthz answers; false when it exited instead (see exitCode()).
  bool start(std::chrono::seconds timeout = std::chrono::seconds(20));
  /// Sends `signal` and waits for the exit; returns the exit code (128 + signal when killed).
  int stop(int signal = 15, std::chrono::seconds timeout = std::chrono::seconds(15));
  /// Sends a signal without waiting.
  void sendSignal(int signal) const;
  /// Waits for the process to exit on its own; returns the exit code or -1 on timeout.
  int waitExit(std::chrono::seconds timeout);
  bool running() const { return pid_ > 0; }
  int exitCode() const { return exitCode_; }

  /// Base URL of the HTTP API, e.g. http://127.0.0.1:40123
  std::string baseUrl() const;
  int httpPort() const { return httpPort_; }
  int wsPort() const { return wsPort_; }
  /// URL of GET /metrics on the metrics listener (metrics.listen).
  std::string metricsUrl() const;
  /// Process id while running, -1 otherwise.
  int pid() const { return pid_; }
  const std::filesystem::path& configPath() const { return configPath_; }
  /// What the daemon wrote to stdout and stderr so far.
  std::string output() const;

 private:
  DaemonOptions options_;
  TempDir dir_;
  std::filesystem::path configPath_;
  std::filesystem::path logPath_;
  int httpPort_;
  int wsPort_;
  int metricsPort_;
  int pid_ = -1;
  int exitCode_ = -1;
};

}  // namespace mp::test
