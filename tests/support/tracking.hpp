// A fixture for tracking tests: a migrated database, a private Redis, an owner, a website on
// example.com and a daemon serving them.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"

namespace mp::test {

inline constexpr const char* kChromeWindows =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";

/// The error code of an API error answer, or a description of what came instead.
std::string errorCode(const HttpResponse& response);

/// "Authorization: Bearer <token>" of POST /auth/login at `baseUrl` (password123, the seeded
/// owners'); fails the test and answers "" when the login is refused.
std::string bearerFor(const std::string& baseUrl, const std::string& email,
                      const std::string& password = "password123");

/// Applies every migration to a database, as `mpctl db migrate` does.
void migrateDatabase(const std::string& url);

class TrackingFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Extra TOML sections for the daemon (not [http], [auth], [database], [redis], [log]).
  virtual std::string extraToml() { return ""; }
  /// Extra lines for the daemon's [http] section.
  virtual void amendHttp(std::string& http) { (void)http; }

  std::string url(const std::string& path) const { return daemon_->baseUrl() + path; }
  /// POSTs an event as JSON with extra header lines.
  HttpResponse track(const nlohmann::json& body, std::vector<std::string> headers = {});
  /// Waits until the events table holds at least `n` rows; false when it did not in time.
  bool waitForRows(long n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Number of rows in the events table now.
  long rowCount();
  /// Waits until the daemon's website cache knows `websiteId`.
  void waitForSite(const std::string& websiteId);
  /// Starts a daemon with this fixture's settings.
  std::unique_ptr<DaemonProcess> makeDaemon(const std::string& redisUrl);

  TempDatabase db_;
  RedisProcess redis_;
  std::string owner_;
  std::string site_;
  std::string secret_ = DaemonOptions("").jwtSecret;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace mp::test
