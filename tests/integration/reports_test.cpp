// Email reports end to end: `mpctl report send` against a real SMTP server (Debian's aiosmtpd,
// tests/support/smtp_server.py): the message arrives for the right recipient with its subject,
// both parts and the stats engine's numbers; a repeated run sends nothing new; an unreachable
// server or a refused login is a clear error that records nothing; STARTTLS with AUTH; the dry
// run; and the opt-in through PATCH /auth/me and mpctl user set.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "db/connection.hpp"
#include "goals/goals.hpp"
#include "reports/period.hpp"
#include "stats/engine.hpp"
#include "stats/query.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"
#include "support/tracking.hpp"
#include "util/time.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPython = "/usr/bin/python3";

// The SMTP server of tests/support/smtp_server.py, on a free port.
class SmtpServer {
 public:
  struct Tls {
    std::string cert, key;
  };
  explicit SmtpServer(std::optional<Tls> tls = std::nullopt, std::string user = "",
                      std::string password = "")
      : port_(freePort()), out_(dir_.path() / "mail.jsonl") {
    std::vector<std::string> argv = {kPython,  sourcePath("tests/support/smtp_server.py").string(),
                                     "--port", std::to_string(port_),
                                     "--out",  out_.string()};
    if (tls) argv.insert(argv.end(), {"--cert", tls->cert, "--key", tls->key});
    if (!user.empty()) argv.insert(argv.end(), {"--user", user, "--password", password});
    const auto log = (dir_.path() / "server.log").string();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(kPython, args.data());
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      std::ifstream in(log);
      std::stringstream text;
      text << in.rdbuf();
      if (text.str().find("ready") != std::string::npos) return;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("the SMTP server exited: " + text.str());
      }
      std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("the SMTP server did not start");
  }
  ~SmtpServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  int port() const { return port_; }
  /// Every message received so far, as smtp_server.py records them.
  std::vector<json> messages() const {
    std::vector<json> out;
    std::ifstream in(out_);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(json::parse(line));
    }
    return out;
  }

 private:
  TempDir dir_;
  int port_;
  std::filesystem::path out_;
  pid_t pid_ = -1;
};

class Reports : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPython, X_OK) != 0) GTEST_FAIL() << kPython << " is missing";
    migrateDatabase(db_.url());
    db::Connection conn(db_.url(), 5s);
    owner_ = seed::owner(conn);
    site_ = seed::website(conn, owner_, "Example shop", "example.com");
    quietSite_ = seed::website(conn, owner_, "Quiet blog", "quiet.example.org");
    other_ = seed::owner(conn, "other@example.com");
    otherSite_ = seed::website(conn, other_, "Other", "other.example.net");
    goals::addGoal(conn, site_,
                   goals::GoalSpec{std::nullopt, std::string("/c"), std::string("Reached C")});
    today_ = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    week_ = reports::lastComplete(reports::Period::kWeek, today_);
    // Last week: three visitors, six page views, one of three visits a bounce. The week
    // before: one visitor, two page views.
    const auto at = [](std::chrono::sys_days d, const char* time) {
      return util::formatDate(d) + " " + time + "+00";
    };
    const auto monday = week_.range.from;
    const auto before = week_.previous.from;
    seed::insertEvents(
        conn,
        {
            {site_, at(monday, "10:00:00"), "pageview", "/a", "s1", 1, {}},
            {site_, at(monday, "10:01:00"), "pageview", "/b", "s1", 1, {}},
            {site_,
             at(monday + std::chrono::days{2}, "09:00:00"),
             "pageview",
             "/a",
             "s2",
             2,
             "www.google.com",
             {},
             {},
             {},
             {},
             "Google"},
            {site_,
             at(monday + std::chrono::days{6}, "20:00:00"),
             "pageview",
             "/a",
             "s3",
             3,
             "twitter.com",
             {},
             {},
             {},
             {},
             "Twitter"},
            {site_,
             at(monday + std::chrono::days{6}, "20:01:00"),
             "pageview",
             "/c",
             "s3",
             3,
             "twitter.com",
             {},
             {},
             {},
             {},
             "Twitter"},
            {site_,
             at(monday + std::chrono::days{6}, "20:03:00"),
             "pageview",
             "/a",
             "s3",
             3,
             "twitter.com",
             {},
             {},
             {},
             {},
             "Twitter"},
            {site_, at(before, "12:00:00"), "pageview", "/a", "s0", 9, {}},
            {site_, at(before, "12:02:00"), "pageview", "/b", "s0", 9, {}},
            // Outside the week: not counted.
            {site_, at(monday - std::chrono::days{8}, "12:00:00"), "pageview", "/old", "s9", 8, {}},
            {otherSite_, at(monday, "10:00:00"), "pageview", "/", "o1", 5, {}},
        });
  }

  // A configuration for mpctl whose [email] is `email`.
  std::string config(const std::string& email) {
    return dir_
        .write("metricpulse.toml", "[database]\nurl = \"" + db_.url() + "\"\n\n[redis]\nurl = \"" +
                                       redisUrl() + "\"\n\n[email]\n" + email)
        .string();
  }
  std::string plainEmail(int port) {
    return "url = \"smtp://127.0.0.1:" + std::to_string(port) +
           "\"\nfrom = \"MetricPulse <reports@metricpulse.example>\"\nstarttls = \"never\"\n"
           "dashboard_url = \"https://stats.example.com\"\n";
  }

  ProcessResult mpctl(const std::string& configPath, std::vector<std::string> args) {
    std::vector<std::string> argv = {mpctlPath(), "-c", configPath};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, "", {{"TZ", "UTC"}}, 60s);
  }

  long deliveries() {
    db::Connection conn(db_.url(), 5s);
    return conn.exec("SELECT count(*) FROM report_deliveries").getInt(0, 0);
  }

  void optIn(const std::string& email, const std::string& frequency) {
    const auto r = mpctl(config(""), {"user", "set", email, "--report", frequency});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(frequency));
  }

  // The stats engine's totals of `site` over `range`, which the report must repeat.
  stats::Totals engineTotals(const std::string& site, const stats::DateRange& range) {
    db::Connection conn(db_.url(), 5s);
    stats::Query q;
    q.websiteId = site;
    q.range = range;
    q.metrics = {stats::Metric::kVisitors, stats::Metric::kVisits, stats::Metric::kPageviews,
                 stats::Metric::kBounceRate, stats::Metric::kVisitDuration};
    auto answer = stats::run(conn, q);
    return answer.rows.empty() ? stats::Totals{} : answer.rows.front().totals;
  }

  TempDir dir_;
  TempDatabase db_;
  std::string owner_, site_, quietSite_, other_, otherSite_;
  std::chrono::sys_days today_;
  reports::PeriodRange week_;
};

TEST_F(Reports, TheWeeklyReportArrivesWithBothPartsAndTheNumbersOfTheStats) {
  SmtpServer smtp;
  optIn("owner@example.com", "weekly");
  const auto r = mpctl(config(plainEmail(smtp.port())), {"report", "send"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 sent, 0 already sent before, 0 failed"));

  const auto mail = smtp.messages();
  ASSERT_EQ(mail.size(), 2U) << "one per website of the owner; the other account is off";
  const json* shop = nullptr;
  for (const auto& m : mail) {
    EXPECT_EQ(m["rcptTos"], json::array({"owner@example.com"}));
    EXPECT_EQ(m["mailFrom"], "reports@metricpulse.example");
    EXPECT_EQ(m["to"], "owner@example.com");
    EXPECT_EQ(m["from"], "MetricPulse <reports@metricpulse.example>");
    EXPECT_EQ(m["contentType"], "multipart/alternative");
    EXPECT_EQ(m["mimeVersion"], "1.0");
    EXPECT_EQ(m["autoSubmitted"], "auto-generated");
    EXPECT_EQ(m["textCharset"], "utf-8");
    EXPECT_EQ(m["htmlEncoding"], "quoted-printable");
    EXPECT_LE(m["longestLine"].get<int>(), 78) << "RFC 5322 line length";
    if (m["subject"].get<std::string>().rfind("example.com:", 0) == 0) shop = &m;
  }
  ASSERT_NE(shop, nullptr);
  const auto& m = *shop;
  EXPECT_EQ(m["subject"], "example.com: Weekly report, " + reports::describe(week_));
  // (Python hands the parts over with the CRLF line ends of the wire.)
  const auto lf = [](std::string body) {
    std::erase(body, '\r');
    return body;
  };
  const std::string text = lf(m["text"]);
  const std::string html = lf(m["html"]);

  // The numbers are the engine's for the week, and its changes against the week before.
  const auto now = engineTotals(site_, week_.range);
  const auto before = engineTotals(site_, week_.previous);
  ASSERT_EQ(now.visitors, 3);
  ASSERT_EQ(now.pageviews, 6);
  ASSERT_EQ(before.pageviews, 2);
  const auto line = [](const std::string& body, const std::string& label) {
    const auto at = body.find(label);
    return at == std::string::npos ? std::string() : body.substr(at, body.find('\n', at) - at);
  };
  EXPECT_THAT(line(text, "Visitors"), HasSubstr(" 3 "));
  EXPECT_THAT(line(text, "Visitors"), HasSubstr("+200%"));
  EXPECT_THAT(line(text, "Visits"), HasSubstr(" 3 "));
  EXPECT_THAT(line(text, "Page views"), HasSubstr(" 6 "));
  EXPECT_THAT(line(text, "Page views"), HasSubstr("+200%"));
  EXPECT_THAT(
      line(text, "Bounce rate"),
      HasSubstr(std::to_string(static_cast<int>(stats::value(stats::Metric::kBounceRate, now))) +
                "%"));
  EXPECT_THAT(
      line(text, "Visit duration"),
      HasSubstr(
          std::to_string(static_cast<int>(stats::value(stats::Metric::kVisitDuration, now)) / 60) +
          "m "));
  // Top pages: /a 4 views first; sources by visitors; the goal's one conversion of 3 visitors.
  EXPECT_THAT(text, HasSubstr("Top pages\n  /a "));
  EXPECT_THAT(line(text, "  /a "), HasSubstr("4 views"));
  EXPECT_THAT(text, HasSubstr("Twitter"));
  EXPECT_THAT(text, HasSubstr("Google"));
  EXPECT_THAT(text, HasSubstr("Direct / None"));
  EXPECT_THAT(line(text, "  Reached C"), HasSubstr("1  (33.33%)"));
  EXPECT_THAT(text, Not(HasSubstr("/old")));
  EXPECT_THAT(text, HasSubstr("https://stats.example.com/?site=" + site_));
  // The HTML part says the same.
  for (const auto* s : {"Visitors", "+200%", "Reached C", "33.33%", "Twitter", "Example shop"}) {
    EXPECT_THAT(html, HasSubstr(s));
  }
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_EQ(deliveries(), 2);
}

TEST_F(Reports, ARepeatedRunSendsNothingNewAndEachAccountGetsItsOwnPeriod) {
  SmtpServer smtp;
  optIn("owner@example.com", "weekly");
  optIn("other@example.com", "daily");
  const auto cfg = config(plainEmail(smtp.port()));
  auto r = mpctl(cfg, {"report", "send"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 sent"));
  auto mail = smtp.messages();
  ASSERT_EQ(mail.size(), 3U);
  int daily = 0;
  for (const auto& m : mail) {
    if (m["rcptTos"][0] == "other@example.com") {
      ++daily;
      EXPECT_THAT(m["subject"].get<std::string>(), HasSubstr("Daily report"));
    }
  }
  EXPECT_EQ(daily, 1);

  // Again: nothing new, and it says so.
  r = mpctl(cfg, {"report", "send"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 sent, 3 already sent before, 0 failed"));
  EXPECT_EQ(smtp.messages().size(), 3U);
  EXPECT_EQ(deliveries(), 3);

  // --period limits the run to the accounts that chose it; --user to one account.
  r = mpctl(cfg, {"report", "send", "--period", "month"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 sent, 0 already sent before"));
  r = mpctl(cfg, {"report", "send", "--period", "month", "--user", "owner@example.com"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 sent"));
  EXPECT_EQ(smtp.messages().size(), 5U);
}

TEST_F(Reports, AnUnreachableServerIsAClearErrorAndRecordsNothing) {
  optIn("owner@example.com", "weekly");
  const int closed = freePort();
  auto r = mpctl(config(plainEmail(closed)), {"report", "send"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("to owner@example.com: FAILED"));
  EXPECT_THAT(r.err, HasSubstr("smtp://127.0.0.1:" + std::to_string(closed)));
  EXPECT_THAT(r.err,
              HasSubstr("onnect"));  // curl: "Couldn't connect to server", "Failed to connect"
  EXPECT_THAT(r.out, HasSubstr("0 sent, 0 already sent before, 2 failed"));
  EXPECT_EQ(deliveries(), 0) << "a failed send must be tried again by the next run";

  // Once the server is there, the next run sends them.
  SmtpServer smtp;
  r = mpctl(config(plainEmail(smtp.port())), {"report", "send"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(smtp.messages().size(), 2U);
}

TEST_F(Reports, StartTlsWithAuthAndARefusedLogin) {
  const auto cert = (dir_.path() / "cert.pem").string();
  const auto key = (dir_.path() / "key.pem").string();
  const auto made = runProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", cert, "-days", "2", "-subj",
                                "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  SmtpServer smtp(SmtpServer::Tls{cert, key}, "mailer", "s3cret pass");
  optIn("owner@example.com", "weekly");
  const auto password = dir_.write("smtp.password", "s3cret pass\n").string();
  const std::string base = "url = \"smtp://127.0.0.1:" + std::to_string(smtp.port()) +
                           "\"\nfrom = \"reports@metricpulse.example\"\nca_file = \"" + cert +
                           "\"\nusername = \"mailer\"\n";

  // A wrong password: the server's refusal is in the error, nothing is recorded.
  const auto wrong = dir_.write("wrong.password", "guess\n").string();
  auto r = mpctl(config(base + "password_file = \"" + wrong + "\"\n"), {"report", "send"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("FAILED"));
  EXPECT_THAT(r.err, HasSubstr("535"));
  EXPECT_EQ(deliveries(), 0);

  r = mpctl(config(base + "password_file = \"" + password + "\"\n"), {"report", "send"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const auto mail = smtp.messages();
  ASSERT_EQ(mail.size(), 2U);
  EXPECT_TRUE(mail[0]["tls"].get<bool>()) << "sent after STARTTLS";
  EXPECT_TRUE(mail[0]["auth"].get<bool>());

  // A certificate the CA file does not vouch for is refused (the default: the system's CAs).
  r = mpctl(config("url = \"smtp://127.0.0.1:" + std::to_string(smtp.port()) +
                   "\"\nfrom = \"reports@metricpulse.example\"\nusername = \"mailer\"\n"
                   "password_file = \"" +
                   password + "\"\n"),
            {"report", "send", "--period", "month", "--user", "owner@example.com"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("certificate"));
}

TEST_F(Reports, TheDryRunPrintsAndNeitherSendsNorRecords) {
  optIn("owner@example.com", "monthly");
  // No [email] at all: a dry run needs none.
  auto r = mpctl(config(""), {"report", "send", "--dry-run", "--period", "week"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no report to print"));
  r = mpctl(config(""),
            {"report", "send", "--dry-run", "--user", "owner@example.com", "--period", "week"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("To: owner@example.com\nSubject: example.com: Weekly report"));
  EXPECT_THAT(r.out, HasSubstr("Subject: quiet.example.org: Weekly report"));
  EXPECT_THAT(r.out, HasSubstr("Page views"));
  r = mpctl(config(""), {"report", "send", "--dry-run", "--html", "--user", "owner@example.com"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(r.out, HasSubstr("Monthly report"));
  EXPECT_EQ(deliveries(), 0);
  // Without --dry-run and without [email]: a configuration error that says what to set.
  r = mpctl(config(""), {"report", "send"});
  EXPECT_EQ(r.exitCode, 3) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("email.url"));
  // An account with reports off is named, not silently skipped.
  r = mpctl(config(plainEmail(freePort())), {"report", "send", "--user", "other@example.com"});
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("other@example.com has email reports off"));
  r = mpctl(config(""), {"user", "set", "owner@example.com", "--report", "hourly"});
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
}

TEST_F(Reports, OwnersOptInThroughPatchAuthMe) {
  RedisProcess redis;
  DaemonOptions options(db_.url());
  options.redisUrl = redis.url();
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  const std::string auth = bearerFor(daemon.baseUrl(), "owner@example.com");
  ASSERT_FALSE(auth.empty());
  auto me = httpRequest("GET", daemon.baseUrl() + "/auth/me", "", {auth});
  EXPECT_EQ(json::parse(me.body)["report"], "off");
  auto patched = httpRequest("PATCH", daemon.baseUrl() + "/auth/me", R"({"report":"weekly"})",
                             {auth, "Content-Type: application/json"});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body)["report"], "weekly");
  EXPECT_EQ(
      json::parse(httpRequest("GET", daemon.baseUrl() + "/auth/me", "", {auth}).body)["report"],
      "weekly");
  // Bad input: the API's error shape, nothing changed.
  for (const auto* body :
       {R"({"report":"hourly"})", R"({"report":7})", R"({"theme":"dark"})", "{}", "[]"}) {
    auto bad = httpRequest("PATCH", daemon.baseUrl() + "/auth/me", body,
                           {auth, "Content-Type: application/json"});
    EXPECT_EQ(bad.status, 400) << body << " " << bad.body;
    EXPECT_EQ(errorCode(bad), "invalid_request") << body;
  }
  EXPECT_EQ(httpRequest("PATCH", daemon.baseUrl() + "/auth/me", R"({"report":"daily"})",
                        {"Content-Type: application/json"})
                .status,
            401);
  db::Connection conn(db_.url(), 5s);
  EXPECT_EQ(
      conn.exec("SELECT report_frequency FROM users WHERE email = 'owner@example.com'").get(0, 0),
      std::string("weekly"));
}

}  // namespace
}  // namespace mp::test
