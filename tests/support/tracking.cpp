// TrackingFixture: real daemon, real PostgreSQL and a private Redis per test.
#include "support/tracking.hpp"

#include <thread>

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "support/seed.hpp"

namespace mp::test {

std::string bearerFor(const std::string& baseUrl, const std::string& email,
                      const std::string& password) {
  auto r = httpRequest("POST", baseUrl + "/auth/login",
                       nlohmann::json{{"email", email}, {"password", password}}.dump(),
                       {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 200) << "login of " << email << ": " << r.body;
  if (r.status != 200) return "";
  return "Authorization: Bearer " + nlohmann::json::parse(r.body)["accessToken"].get<std::string>();
}

std::string errorCode(const HttpResponse& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].contains("code")) {
    return "<no error body: " + response.body.substr(0, 200) + ">";
  }
  return body["error"]["code"].get<std::string>();
}

void migrateDatabase(const std::string& url) {
  db::Connection conn(url, std::chrono::seconds(10));
  db::Migrator(conn).migrate();
}

void TrackingFixture::SetUp() {
  migrateDatabase(db_.url());
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  owner_ = seed::owner(conn);
  site_ = seed::website(conn, owner_, "Example", "example.com");
  daemon_ = makeDaemon(redis_.url());
  ASSERT_TRUE(daemon_->start()) << daemon_->output();
}

void TrackingFixture::TearDown() {
  if (HasFailure() && daemon_)
    std::fprintf(stderr, "--- daemon output ---\n%s\n", daemon_->output().c_str());
}

std::unique_ptr<DaemonProcess> TrackingFixture::makeDaemon(const std::string& redisUrl) {
  DaemonOptions options(db_.url());
  options.redisUrl = redisUrl;
  options.extraToml = extraToml();
  amendHttp(options.httpToml);
  // Tests send many events from one address; the limit has its own test.
  if (options.extraToml.find("rate_limit_per_minute") == std::string::npos) {
    options.extraToml += "\n[ingest]\nrate_limit_per_minute = 0\nflush_interval_ms = 50\n";
  }
  return std::make_unique<DaemonProcess>(options);
}

HttpResponse TrackingFixture::track(const nlohmann::json& body, std::vector<std::string> headers) {
  headers.emplace_back("Content-Type: application/json");
  return httpRequest("POST", url("/track"), body.dump(), headers);
}

long TrackingFixture::rowCount() {
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  return static_cast<long>(conn.exec("SELECT count(*) FROM events").getInt(0, 0));
}

bool TrackingFixture::waitForRows(long n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    if (rowCount() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  return rowCount() >= n;
}

void TrackingFixture::waitForSite(const std::string& websiteId) {
  // An event for an unknown website is refused before anything is stored, so probing is harmless.
  for (int i = 0; i < 100; ++i) {
    auto r = httpRequest(
        "POST", url("/track"),
        nlohmann::json({{"websiteId", websiteId}, {"url", "https://probe.invalid/"}}).dump(),
        {"Content-Type: application/json"});
    if (errorCode(r) != "unknown_website") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "the daemon never learned of website " << websiteId;
}

}  // namespace mp::test
