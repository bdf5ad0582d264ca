// Two daemons behind Debian's nginx with the shipped example (packaging/nginx/metricpulse.conf):
// the client's address reaches the daemons through the proxy, the live feed works through it,
// and killing one daemon in the middle of a burst loses no event answered 202.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "support/burst.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "support/ws_client.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kNginx = "/usr/sbin/nginx";

// `text` with `from` replaced by `to`, which must occur exactly once.
std::string replaceOnce(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "the nginx example no longer holds: " << from;
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "more than one: " << from;
  return text.replace(at, from.size(), to);
}

// The shipped example, made to run here: the upstream servers are the two daemons, the HTTPS
// server listens in plain HTTP on `port`, and the port-80 redirect is left out. Nothing else
// is changed.
std::string siteConfig(const DaemonProcess& a, const DaemonProcess& b, int port) {
  std::ifstream in(sourcePath("packaging/nginx/metricpulse.conf"));
  std::stringstream text;
  text << in.rdbuf();
  std::string conf = text.str();
  const auto server = [](int p) { return "server 127.0.0.1:" + std::to_string(p) + " "; };
  conf = replaceOnce(conf, "server 127.0.0.1:8080 ", server(a.httpPort()));
  conf = replaceOnce(conf, "server 127.0.0.1:8090 ", server(b.httpPort()));
  conf = replaceOnce(conf, "server 127.0.0.1:8081 ", server(a.wsPort()));
  conf = replaceOnce(conf, "server 127.0.0.1:8091 ", server(b.wsPort()));
  const auto redirect = conf.find("server {\n    listen 80;");
  EXPECT_NE(redirect, std::string::npos);
  if (redirect != std::string::npos)
    conf.erase(redirect, conf.find("\n}\n", redirect) + 3 - redirect);
  conf = replaceOnce(conf, "    listen 443 ssl http2;\n",
                     "    listen 127.0.0.1:" + std::to_string(port) + ";\n");
  conf = replaceOnce(conf, "    listen [::]:443 ssl http2;\n", "");
  for (const auto* key : {"ssl_certificate ", "ssl_certificate_key "}) {
    const auto at = conf.find("    " + std::string(key));
    EXPECT_NE(at, std::string::npos) << key;
    if (at != std::string::npos) conf.erase(at, conf.find('\n', at) + 1 - at);
  }
  return conf;
}

// nginx in the foreground with the example as its only site.
class NginxProcess {
 public:
  explicit NginxProcess(const std::string& site) {
    const auto dir = dir_.path().string();
    const auto sitePath = dir_.write("metricpulse.conf", site);
    std::string conf =
        "worker_processes 1;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log warn;\n";
    if (geteuid() == 0) conf += "user root;\n";  // its workers reach the temporary folder
    conf += "events { worker_connections 1024; }\nhttp {\n  access_log off;\n";
    for (const auto* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      conf += "  " + std::string(temp) + "_temp_path " + dir + "/" + temp + ";\n";
    }
    conf += "  include " + sitePath.string() + ";\n}\n";
    const auto confPath = dir_.write("nginx.conf", conf);
    errorLog_ = dir + "/error.log";
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, STDIN_FILENO);
      execl(kNginx, "nginx", "-e", errorLog_.c_str(), "-c", confPath.c_str(), "-g", "daemon off;",
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~NginxProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  std::string errors() const {
    std::ifstream in(errorLog_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  TempDir dir_;
  std::string errorLog_;
  pid_t pid_ = -1;
};

class FleetBehindNginx : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kNginx, X_OK) != 0) GTEST_FAIL() << "nginx is missing: scripts/test installs it";
    migrateDatabase(db_.url());
    db::Connection conn(db_.url(), 5s);
    owner_ = seed::owner(conn);
    site_ = seed::website(conn, owner_, "Example", "example.com");
    for (int i = 0; i < 2; ++i) {
      DaemonOptions options(db_.url());
      options.redisUrl = redis_.url();
      // nginx connects from 127.0.0.1: its X-Forwarded-For is believed, nobody else's.
      options.httpToml = "trusted_proxies = [\"127.0.0.1\"]\n";
      options.extraToml =
          "[ingest]\nrate_limit_per_minute = 0\nflush_interval_ms = 50\nclaim_idle = \"2s\"\n\n"
          "[privacy]\nip_storage = \"full\"\n";
      daemons_.push_back(std::make_unique<DaemonProcess>(options));
      ASSERT_TRUE(daemons_.back()->start()) << daemons_.back()->output();
    }
    port_ = freePort();
    nginx_ = std::make_unique<NginxProcess>(siteConfig(*daemons_[0], *daemons_[1], port_));
    ASSERT_FALSE(HasFailure());
    for (int i = 0; i < 100; ++i) {
      if (httpRequest("GET", base() + "/healthz", "", {}, 1000).status == 200) break;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(httpRequest("GET", base() + "/healthz").status, 200) << nginx_->errors();
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& d : daemons_) {
      std::fprintf(stderr, "--- daemon ---\n%s\n", d->output().c_str());
    }
    if (nginx_) std::fprintf(stderr, "--- nginx ---\n%s\n", nginx_->errors().c_str());
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  HttpResponse trackFrom(const std::string& address, const std::string& page,
                         std::vector<std::string> headers = {}) {
    headers.push_back("Content-Type: application/json");
    headers.push_back(std::string("User-Agent: ") + kChromeWindows);
    return httpRequestFrom(address, "POST", base() + "/track",
                           json{{"websiteId", site_}, {"url", "https://example.com" + page}}.dump(),
                           headers);
  }

  // The address stored with the events of `page` (one per row, in order), after waiting for
  // `n` of them.
  std::vector<std::string> storedAddresses(const std::string& page, std::size_t n) {
    std::vector<std::string> out;
    for (int i = 0; i < 100; ++i) {
      out.clear();
      db::Connection conn(db_.url(), 5s);
      auto rows = conn.exec("SELECT host(ip) FROM events WHERE page = $1 ORDER BY ts", {page});
      for (int r = 0; r < rows.rows(); ++r) out.emplace_back(rows.get(r, 0));
      if (out.size() >= n) break;
      std::this_thread::sleep_for(100ms);
    }
    return out;
  }

  // A live-feed client through nginx, subscribed to the website.
  std::unique_ptr<WsClient> openFeed() {
    const std::int64_t now = util::nowMillis() / 1000;
    const auto token =
        auth::signToken(auth::Claims{owner_, now, now + 3600}, DaemonOptions("").jwtSecret);
    auto client = std::make_unique<WsClient>();
    const int status = client->connect(port_, "/ws?token=" + token);
    EXPECT_EQ(status, 101) << client->responseHead() << client->responseBody();
    if (status != 101) return nullptr;
    client->sendText(json({{"type", "subscribe"}, {"websiteId", site_}}).dump());
    EXPECT_TRUE(client->nextOfType("subscribed", 10s).has_value());
    return client;
  }

  static bool receives(WsClient& client, const std::string& page, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto event = client.nextOfType("event", left);
      if (!event) return false;
      if (event->value("page", "") == page) return true;
    }
    return false;
  }

  TempDatabase db_;
  RedisProcess redis_;
  std::string owner_;
  std::string site_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
  std::unique_ptr<NginxProcess> nginx_;
  int port_ = 0;
};

TEST_F(FleetBehindNginx, TheClientsAddressReachesTheDaemonsThroughTheProxy) {
  // Four requests per client: nginx alternates, so both daemons see each client.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(trackFrom("127.0.0.2", "/from-2").status, 202);
    // A header the client forges is replaced by the proxy.
    ASSERT_EQ(trackFrom("127.0.0.3", "/from-3", {"X-Forwarded-For: 203.0.113.9"}).status, 202);
  }
  EXPECT_EQ(storedAddresses("/from-2", 4), std::vector<std::string>(4, "127.0.0.2"));
  EXPECT_EQ(storedAddresses("/from-3", 4), std::vector<std::string>(4, "127.0.0.3"));
  // Straight to a daemon, the header of an untrusted peer is not believed either.
  ASSERT_EQ(
      httpRequestFrom("127.0.0.4", "POST", daemons_[0]->baseUrl() + "/track",
                      json{{"websiteId", site_}, {"url", "https://example.com/direct"}}.dump(),
                      {"Content-Type: application/json", "X-Forwarded-For: 203.0.113.9",
                       std::string("User-Agent: ") + kChromeWindows})
          .status,
      202);
  EXPECT_EQ(storedAddresses("/direct", 1), std::vector<std::string>{"127.0.0.4"});
  // Two addresses with one browser are two visitors, wherever their requests went.
  db::Connection conn(db_.url(), 5s);
  EXPECT_EQ(conn.exec("SELECT count(DISTINCT visitor_id) FROM events WHERE page IN "
                      "('/from-2', '/from-3')")
                .getInt(0, 0),
            2);
}

TEST_F(FleetBehindNginx, TheLiveFeedWorksThroughTheProxyAndSurvivesADaemonKilledMidBurst) {
  // Two dashboards: nginx puts one on each daemon; both see events tracked through either.
  auto first = openFeed();
  auto second = openFeed();
  ASSERT_TRUE(first && second);
  ASSERT_EQ(trackFrom("127.0.0.2", "/live").status, 202);
  EXPECT_TRUE(receives(*first, "/live", 10s));
  EXPECT_TRUE(receives(*second, "/live", 10s));

  // One daemon is killed (no shutdown at all) while four clients track through nginx.
  const auto status = trackBurst({base()}, site_, 1200, [&] { daemons_[0]->stop(SIGKILL); });
  int accepted = 0;
  for (long s : status) {
    accepted += s == 202;
    // A request the killed daemon had taken gets 502 from nginx: never a 202 for a lost event.
    EXPECT_TRUE(s == 202 || s == 502) << "status " << s;
  }
  std::fprintf(stderr, "%d of %zu events answered 202 with one daemon killed\n", accepted,
               status.size());
  EXPECT_GE(accepted, static_cast<int>(status.size()) - 8)
      << "only requests in flight at the kill may fail";
  // The survivor claims what the killed daemon had read but not written (ingest.claim_idle).
  expectStoredOnce(db_.url(), status, 30s);

  // The dashboard that lost its daemon reconnects through nginx to the other; both get events.
  int reconnected = 0;
  for (auto* client : {&first, &second}) {
    if ((*client)->waitEnd(500ms)) {
      *client = openFeed();
      ++reconnected;
    }
  }
  EXPECT_EQ(reconnected, 1) << "nginx should have put one dashboard on each daemon";
  ASSERT_TRUE(first && second);
  ASSERT_EQ(trackFrom("127.0.0.2", "/after").status, 202);
  EXPECT_TRUE(receives(*first, "/after", 10s));
  EXPECT_TRUE(receives(*second, "/after", 10s));
}

}  // namespace
}  // namespace mp::test
