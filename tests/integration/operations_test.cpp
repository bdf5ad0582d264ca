// What operators read from a running daemon: the contract at /openapi.json, and Prometheus
// metrics on their own listener, valid for Prometheus's own parser.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/http.hpp"
#include "support/tracking.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

class Operations : public TrackingFixture {};

TEST_F(Operations, OpenApiJsonServesTheContract) {
  auto r = httpRequest("GET", url("/openapi.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.header("content-type"), HasSubstr("application/json"));
  const auto served = json::parse(r.body);
  EXPECT_EQ(served["openapi"], "3.0.3");
  // The same paths, with the same methods, as docs/openapi.yaml, from which it is built.
  std::map<std::string, std::set<std::string>> paths, documented;
  for (const auto& [path, item] : served["paths"].items()) {
    for (const auto& [key, value] : item.items()) paths[path].insert(key);
  }
  const YAML::Node doc = YAML::LoadFile(sourcePath("docs/openapi.yaml").string());
  for (const auto& path : doc["paths"]) {
    for (const auto& key : path.second) {
      documented[path.first.as<std::string>()].insert(key.first.as<std::string>());
    }
  }
  EXPECT_EQ(paths, documented);
  EXPECT_TRUE(paths.count("/openapi.json"));
  EXPECT_TRUE(served["paths"]["/track"].contains("post"));
}

TEST_F(Operations, MetricsAreOnTheirOwnListenerOnly) {
  auto publicMetrics = httpRequest("GET", url("/metrics"));
  EXPECT_EQ(publicMetrics.status, 404);
  EXPECT_EQ(errorCode(publicMetrics), "not_found");
  auto metrics = httpRequest("GET", daemon_->metricsUrl());
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE mp_http_requests_total counter"));
  // The metrics listener serves nothing else.
  const auto base = daemon_->metricsUrl().substr(0, daemon_->metricsUrl().size() - 8);
  EXPECT_EQ(httpRequest("GET", base + "/healthz").status, 404);
}

TEST_F(Operations, MetricsPassPromtoolCheck) {
  const std::string promtool = "/usr/bin/promtool";
  ASSERT_TRUE(std::filesystem::exists(promtool))
      << "promtool not found: install Debian's prometheus package (scripts/lib/deps.sh)";
  // Some traffic first, so that every family has series: events, refusals, a 404, readiness.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        track({{"websiteId", site_}, {"url", "https://example.com/p" + std::to_string(i)}}).status,
        202);
  }
  EXPECT_EQ(track({{"websiteId", "nope"}}).status, 400);
  httpRequest("GET", url("/no/such/thing"));
  httpRequest("GET", url("/readyz"));
  ASSERT_TRUE(waitForRows(5));
  auto metrics = httpRequest("GET", daemon_->metricsUrl());
  ASSERT_EQ(metrics.status, 200);
  const auto result = runProcess({promtool, "check", "metrics"}, metrics.body);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err << "\n--- metrics ---\n"
                                << metrics.body;
  EXPECT_EQ(result.out + result.err, "") << metrics.body;
  // Base units: durations in seconds.
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE mp_writer_batch_duration_seconds histogram"));
  EXPECT_THAT(metrics.body, ::testing::Not(HasSubstr("_duration_ms")));
}

}  // namespace
}  // namespace mp::test
