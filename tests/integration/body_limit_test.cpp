// http.max_body_bytes holds on every route, answered with the API's JSON 413, however the body is
// sent; bodies at the limit still work.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/http.hpp"
#include "support/tracking.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr std::size_t kLimit = 16384;  // the default http.max_body_bytes

class BodyLimit : public TrackingFixture {
 protected:
  // `body` padded with spaces (still the same JSON) to exactly `size` bytes.
  static std::string padded(const json& body, std::size_t size) {
    std::string text = body.dump();
    EXPECT_LE(text.size(), size);
    text.append(size - text.size(), ' ');
    return text;
  }

  std::string token() {
    const json creds = {{"email", "limits@example.com"}, {"password", "password123"}};
    httpRequest("POST", url("/auth/signup"), creds.dump(), {"Content-Type: application/json"});
    auto r =
        httpRequest("POST", url("/auth/login"), creds.dump(), {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).value("accessToken", "");
  }

  void expectJson413(const HttpResponse& r, const std::string& what) {
    EXPECT_EQ(r.status, 413) << what << ": " << r.body << r.error;
    EXPECT_EQ(errorCode(r), "payload_too_large") << what << ": " << r.body;
    EXPECT_THAT(r.header("content-type"), HasSubstr("application/json")) << what;
  }
};

TEST_F(BodyLimit, EveryRouteAnswersTheJson413OverTheLimit) {
  const std::string auth = "Authorization: Bearer " + token();
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"POST", "/auth/signup"}, {"POST", "/auth/login"}, {"POST", "/websites"},
      {"POST", "/track"},       {"GET", "/healthz"},     {"POST", "/no/such/route"},
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> framings = {
      {"content-length", {"Content-Type: application/json", auth}},
      // No 100-continue: the whole body is on its way when the answer comes.
      {"content-length, no Expect", {"Content-Type: application/json", auth, "Expect:"}},
      {"chunked", {"Content-Type: application/json", auth, "Transfer-Encoding: chunked"}},
  };
  for (const std::size_t size : {kLimit + 1, std::size_t{40 * 1024}, std::size_t{1024 * 1024}}) {
    const std::string body =
        padded(json{{"websiteId", site_}, {"url", "https://example.com/"}}, size);
    for (const auto& [method, path] : routes) {
      for (const auto& [framing, headers] : framings) {
        const std::string what =
            method + " " + path + " " + std::to_string(size) + " bytes, " + framing;
        expectJson413(httpRequest(method, url(path), body, headers, 30000), what);
      }
    }
  }
  // The tracking snippet reads the answer cross-origin.
  const auto track =
      httpRequest("POST", url("/track"), std::string(40 * 1024, ' '), {"Content-Type: text/plain"});
  expectJson413(track, "track");
  EXPECT_EQ(track.header("access-control-allow-origin"), "*");
  EXPECT_EQ(httpRequest("GET", url("/healthz")).status, 200) << "the daemon keeps serving";
  EXPECT_EQ(rowCount(), 0) << "nothing of a refused body was stored";
}

TEST_F(BodyLimit, BodiesAtTheLimitStillWork) {
  const json event = {{"websiteId", site_}, {"url", "https://example.com/at-limit"}};
  auto r =
      httpRequest("POST", url("/track"), padded(event, kLimit), {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 202) << r.body;
  r = httpRequest("POST", url("/track"), padded(event, kLimit),
                  {"Content-Type: application/json", "Transfer-Encoding: chunked"});
  EXPECT_EQ(r.status, 202) << "chunked: " << r.body;

  const json creds = {{"email", "padded@example.com"}, {"password", "password123"}};
  r = httpRequest("POST", url("/auth/signup"), padded(creds, kLimit),
                  {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 201) << r.body;
  r = httpRequest("POST", url("/auth/login"), padded(creds, kLimit),
                  {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string token = json::parse(r.body).value("accessToken", "");
  r = httpRequest("POST", url("/websites"),
                  padded(json{{"name", "Padded"}, {"domain", "padded.example"}}, kLimit),
                  {"Content-Type: application/json", "Authorization: Bearer " + token});
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(waitForRows(2));
}

TEST_F(BodyLimit, HugeBodiesAndHeadsAreRefusedAndTheDaemonStaysHealthy) {
  // 10 MB announced and sent: answered from the head, the rest dropped, not buffered.
  const std::string huge(10 * 1024 * 1024, 'x');
  for (int i = 0; i < 3; ++i) {
    expectJson413(httpRequest("POST", url("/track"), huge,
                              {"Content-Type: application/json", "Expect:"}, 60000),
                  "10 MB");
  }
  expectJson413(
      httpRequest("POST", url("/auth/login"), huge,
                  {"Content-Type: application/json", "Transfer-Encoding: chunked"}, 60000),
      "10 MB chunked");
  // A head over 16 KiB.
  const auto head =
      httpRequest("GET", url("/healthz"), "", {"X-Padding: " + std::string(20000, 'p')});
  EXPECT_EQ(head.status, 431) << head.body;
  EXPECT_EQ(errorCode(head), "payload_too_large");

  EXPECT_EQ(httpRequest("GET", url("/healthz")).status, 200);
  EXPECT_EQ(track({{"websiteId", site_}, {"url", "https://example.com/after"}}).status, 202);
  EXPECT_TRUE(waitForRows(1));
}

}  // namespace
}  // namespace mp::test
