// Accounts and websites over real HTTP against the daemon, real PostgreSQL and Redis.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "auth/jwt.hpp"
#include "db/connection.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "util/base64.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const std::vector<std::string> kJson = {"Content-Type: application/json"};

std::vector<std::string> withToken(const std::string& token) {
  return {"Content-Type: application/json", "Authorization: Bearer " + token};
}

std::string errorCode(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<no error body: " + r.body + ">";
  EXPECT_TRUE(body["error"]["message"].is_string());
  return body["error"]["code"].get<std::string>();
}

std::int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Accounts : public ::testing::Test {
 protected:
  static void migrate(const TempDatabase& db) {
    auto r = runProcess({mpctlPath(), "-c", "/dev/null", "db", "migrate"}, "",
                        {{"MP_DATABASE_URL", db.url()}});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  void SetUp() override {
    migrate(db_);
    daemon_ = std::make_unique<DaemonProcess>(options());
    ASSERT_TRUE(daemon_->start()) << daemon_->output();
  }

  // Each test has its own Redis: login counters per address must not leak between tests.
  virtual DaemonOptions options() {
    DaemonOptions o(db_.url());
    o.redisUrl = redis_.url();
    return o;
  }

  std::string url(const std::string& path) const { return daemon_->baseUrl() + path; }

  HttpResponse post(const std::string& path, const json& body,
                    const std::vector<std::string>& headers = kJson) {
    return httpRequest("POST", url(path), body.dump(), headers);
  }

  json signup(const std::string& email, const std::string& password = "password123") {
    auto r = post("/auth/signup", {{"email", email}, {"password", password}});
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body);
  }

  std::string login(const std::string& email, const std::string& password = "password123") {
    auto r = post("/auth/login", {{"email", email}, {"password", password}});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["accessToken"].get<std::string>();
  }

  std::string userToken(const std::string& email) {
    signup(email);
    return login(email);
  }

  json addSite(const std::string& token, const std::string& name, const std::string& domain) {
    auto r = post("/websites", {{"name", name}, {"domain", domain}}, withToken(token));
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  TempDatabase db_;
  RedisProcess redis_;
  std::unique_ptr<DaemonProcess> daemon_;
  const std::string secret_ = DaemonOptions("").jwtSecret;
};

TEST_F(Accounts, SignupAnswers201WithTheAccount) {
  auto r = post("/auth/signup", {{"email", "ann@example.com"}, {"password", "password123"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["email"], "ann@example.com");
  EXPECT_EQ(body["id"].get<std::string>().size(), 36u);
  EXPECT_THAT(body["createdAt"].get<std::string>(),
              ::testing::MatchesRegex(
                  R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"));
  EXPECT_FALSE(body.contains("password"));
  EXPECT_FALSE(body.contains("passwordHash"));
  // Stored as bcrypt $2b$ with the configured cost, never as the password.
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  auto row = conn.exec("SELECT password_hash FROM users");
  EXPECT_EQ(std::string(row.get(0, 0)).rfind("$2b$04$", 0), 0u);
}

TEST_F(Accounts, SignupRejectsBadInputWith400NamingTheField) {
  struct Case {
    std::string body;
    std::string field;
  } cases[] = {
      {R"({"email":"not-an-address","password":"password123"})", "email"},
      {R"({"email":"ann@example.com","password":"short"})", "password"},
      {R"({"email":"ann@example.com","password":")" + std::string(73, 'x') + R"("})", "password"},
      {R"({"password":"password123"})", "email"},
      {R"({"email":"ann@example.com"})", "password"},
      {R"({"email":42,"password":"password123"})", "email"},
      {R"({"email":"ann@example.com",)", "JSON"},
      {R"(["ann@example.com"])", "object"},
  };
  for (const auto& c : cases) {
    auto r = httpRequest("POST", url("/auth/signup"), c.body, kJson);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(errorCode(r), "invalid_request") << c.body;
    EXPECT_THAT(r.body, HasSubstr(c.field)) << c.body;
  }
  auto r = httpRequest("POST", url("/auth/signup"), "email=a",
                       {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(errorCode(r), "unsupported_media_type");
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  EXPECT_EQ(conn.exec("SELECT count(*) FROM users").getInt(0, 0), 0) << "nothing may be stored";
}

TEST_F(Accounts, PasswordOf72BytesIsAcceptedAndChecked) {
  const std::string pw(72, 'p');
  signup("long@example.com", pw);
  EXPECT_FALSE(login("long@example.com", pw).empty());
}

TEST_F(Accounts, EmailIsUniqueIgnoringCase) {
  signup("Ann@Example.com");
  auto r = post("/auth/signup", {{"email", "ann@example.COM"}, {"password", "password123"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(errorCode(r), "email_taken");
  // Login is case-insensitive as well.
  EXPECT_FALSE(login("ANN@example.com").empty());
}

TEST_F(Accounts, TwentyConcurrentSignupsWithOneEmailGiveExactlyOne201) {
  std::atomic<int> created{0}, taken{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto r = httpRequest("POST", url("/auth/signup"),
                           R"({"email":"race@example.com","password":"password123"})", kJson);
      if (r.status == 201) {
        ++created;
      } else if (r.status == 409) {
        ++taken;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(taken, 19);
  EXPECT_EQ(other, 0);
}

TEST_F(Accounts, LoginAnswersATokenForMe) {
  auto account = signup("bob@example.com");
  auto r = post("/auth/login", {{"email", "bob@example.com"}, {"password", "password123"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["tokenType"], "Bearer");
  EXPECT_EQ(body["expiresIn"], 86400);
  auto me = httpRequest("GET", url("/auth/me"), "", withToken(body["accessToken"]));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body), account);
}

TEST_F(Accounts, WrongPasswordAndUnknownEmailAnswerAlike) {
  signup("carol@example.com");
  auto wrong = post("/auth/login", {{"email", "carol@example.com"}, {"password", "password124"}});
  auto unknown =
      post("/auth/login", {{"email", "nobody@example.com"}, {"password", "password123"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(errorCode(wrong), "invalid_credentials");
}

TEST_F(Accounts, RepeatedFailuresForOneEmailAre429WithRetryAfter) {
  signup("dave@example.com");
  // Default: 10 failures per 15 minutes.
  for (int i = 0; i < 10; ++i) {
    auto r = post("/auth/login", {{"email", "dave@example.com"}, {"password", "wrong-password"}});
    ASSERT_EQ(r.status, 401) << i;
  }
  auto limited = post("/auth/login", {{"email", "dave@example.com"}, {"password", "password123"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(errorCode(limited), "rate_limited");
  const long retry = std::stol(limited.header("retry-after"));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 900);
}

TEST_F(Accounts, SuccessClearsTheEmailCounter) {
  signup("erin@example.com");
  for (int i = 0; i < 9; ++i) {
    post("/auth/login", {{"email", "erin@example.com"}, {"password", "wrong-password"}});
  }
  EXPECT_FALSE(login("erin@example.com").empty());
  // Nine more failures would be over the limit had the counter not been cleared.
  for (int i = 0; i < 5; ++i) {
    auto r = post("/auth/login", {{"email", "erin@example.com"}, {"password", "wrong-password"}});
    EXPECT_EQ(r.status, 401) << i;
  }
}

TEST_F(Accounts, RepeatedFailuresFromOneAddressAre429ForAnyEmail) {
  signup("olga@example.com");
  // Default: 50 failures per address per window, whichever emails they name.
  for (int i = 0; i < 50; ++i) {
    auto r = post("/auth/login", {{"email", "guess" + std::to_string(i) + "@example.com"},
                                  {"password", "wrong-password"}});
    ASSERT_EQ(r.status, 401) << i;
  }
  auto limited = post("/auth/login", {{"email", "olga@example.com"}, {"password", "password123"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.header("retry-after").empty());
}

// Sent all at once, wrong passwords for one email must not all reach a password check: each is
// counted before its check, so at most the limit (10) are checked and the rest are 429.
TEST_F(Accounts, ConcurrentWrongPasswordsAreCheckedAtMostTheLimit) {
  signup("target@example.com");
  constexpr int kAttempts = 30;
  std::vector<long> statuses(kAttempts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAttempts; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = post("/auth/login", {{"email", "target@example.com"},
                                         {"password", "wrong-password-" + std::to_string(i)}})
                        .status;
    });
  }
  for (auto& t : threads) t.join();
  const auto count = [&](long status) {
    return std::count(statuses.begin(), statuses.end(), status);
  };
  EXPECT_LE(count(401), 10);
  EXPECT_GE(count(401), 1);
  EXPECT_EQ(count(401) + count(429), kAttempts);
  // The account is locked, even for its own password.
  auto locked = post("/auth/login", {{"email", "target@example.com"}, {"password", "password123"}});
  EXPECT_EQ(locked.status, 429) << locked.body;
}

// The throttle and the lookup see the same email: a spelling the lookup accepts (spaces, letter
// case) must not bring a fresh budget, nor log in while the account is locked.
TEST_F(Accounts, EverySpellingOfAnEmailSharesOneBudget) {
  signup("victim@example.org");
  const std::vector<std::string> spellings = {" victim@example.org ", "VICTIM@example.org",
                                              "Victim@Example.ORG", "\tvictim@example.org"};
  for (int i = 0; i < 10; ++i) {
    auto r = post("/auth/login",
                  {{"email", spellings[i % spellings.size()]}, {"password", "wrong-password"}});
    ASSERT_EQ(r.status, 401) << i << " " << r.body;
  }
  for (const auto& email : spellings) {
    auto r = post("/auth/login", {{"email", email}, {"password", "password123"}});
    EXPECT_EQ(r.status, 429) << "'" << email << "': " << r.body;
  }
  auto plain = post("/auth/login", {{"email", "victim@example.org"}, {"password", "password123"}});
  EXPECT_EQ(plain.status, 429);
}

// Failed logins are logged in one fixed format, for fail2ban and the like, and never with the
// password.
TEST_F(Accounts, FailedLoginsAreLoggedWithAddressAndEmailButNoPassword) {
  signup("logged@example.com");
  const std::string secret = "not-my-Passw0rd-7f3a";
  auto r = post("/auth/login", {{"email", "  Logged@Example.com "}, {"password", secret}});
  ASSERT_EQ(r.status, 401);
  auto spaced =
      post("/auth/login", {{"email", "bad guy\n@x.org reason=forged"}, {"password", secret}});
  ASSERT_EQ(spaced.status, 401);
  const std::string expected =
      "login failed ip=127.0.0.1 email=logged@example.com reason=invalid_credentials";
  const std::string injected =
      "login failed ip=127.0.0.1 email=bad?guy?@x.org?reason=forged reason=invalid_credentials";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         daemon_->output().find(injected) == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = daemon_->output();
  EXPECT_THAT(log, HasSubstr(expected));
  EXPECT_THAT(log, HasSubstr(injected)) << "one line, one token per field, whatever was sent";
  EXPECT_EQ(log.find(secret), std::string::npos) << "the password must never be logged";
  EXPECT_EQ(log.find("login failed ip=127.0.0.1 email=bad guy"), std::string::npos);
}

TEST_F(Accounts, BadTokensAre401WithWwwAuthenticate) {
  auto account = signup("frank@example.com");
  const std::string id = account["id"];
  const std::string payload = util::base64UrlEncode(
      json({{"sub", id}, {"iat", now()}, {"exp", now() + 3600}, {"iss", "metricpulse"}}).dump());
  const std::string noneToken =
      util::base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
  const std::string good = auth::signToken({id, now(), now() + 3600}, secret_);
  const std::string wrongSignature = good.substr(0, good.rfind('.') + 1) +
                                     util::base64UrlEncode("forged-signature-bytes-32-long!!");
  const std::string otherSecret = auth::signToken({id, now(), now() + 3600}, secret_ + "x");
  const std::string expired = auth::signToken({id, now() - 7200, now() - 3600}, secret_);
  // Another issuer, correctly signed.
  const std::string header = util::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  const std::string otherIssuerPayload = util::base64UrlEncode(
      json({{"sub", id}, {"iat", now()}, {"exp", now() + 3600}, {"iss", "someone-else"}}).dump());
  const std::string otherIssuerInput = header + "." + otherIssuerPayload;
  const std::string otherIssuer =
      otherIssuerInput + "." + auth::hs256Signature(otherIssuerInput, secret_);

  EXPECT_EQ(httpRequest("GET", url("/auth/me"), "", withToken(good)).status, 200);
  for (const std::string& token :
       {noneToken, wrongSignature, otherSecret, expired, otherIssuer, std::string("garbage")}) {
    auto r = httpRequest("GET", url("/auth/me"), "", withToken(token));
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_EQ(errorCode(r), "unauthorized");
    EXPECT_THAT(r.header("www-authenticate"), HasSubstr("Bearer"));
  }
  auto none = httpRequest("GET", url("/auth/me"));
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.header("www-authenticate"), HasSubstr("Bearer"));
  auto basic = httpRequest("GET", url("/auth/me"), "", {"Authorization: Basic YTpi"});
  EXPECT_EQ(basic.status, 401);
}

TEST_F(Accounts, WebsitesAreCreatedNormalisedListedAndFetched) {
  const std::string token = userToken("gina@example.com");
  auto site = addSite(token, "Gina's blog", "https://WWW.Example.com:443/x");
  EXPECT_EQ(site["domain"], "example.com");
  EXPECT_EQ(site["name"], "Gina's blog");
  EXPECT_EQ(site["id"].get<std::string>().size(), 36u);
  auto second = addSite(token, "Shop", "shop.example.org");

  auto list = httpRequest("GET", url("/websites"), "", withToken(token));
  ASSERT_EQ(list.status, 200);
  auto sites = json::parse(list.body);
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0], site) << "oldest first";
  EXPECT_EQ(sites[1], second);

  auto one =
      httpRequest("GET", url("/websites/" + site["id"].get<std::string>()), "", withToken(token));
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(json::parse(one.body), site);
}

TEST_F(Accounts, WebsiteErrors) {
  const std::string token = userToken("hank@example.com");
  addSite(token, "Site", "taken.example");
  auto dup = post("/websites", {{"name", "Again"}, {"domain", "https://www.TAKEN.example/"}},
                  withToken(token));
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(errorCode(dup), "domain_taken");
  for (const json& body : {json{{"name", "X"}, {"domain", "not a domain"}}, json{{"name", "X"}},
                           json{{"domain", "x.example"}}, json{{"name", "", "domain", "x.example"}},
                           json{{"name", 5}, {"domain", "x.example"}}}) {
    auto r = post("/websites", body, withToken(token));
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_EQ(errorCode(r), "invalid_request");
  }
  EXPECT_EQ(post("/websites", {{"name", "X"}, {"domain", "y.example"}}).status, 401);
  EXPECT_EQ(httpRequest("GET", url("/websites")).status, 401);
  auto missing = httpRequest("GET", url("/websites/0190d7a0-0000-7000-8000-000000000000"), "",
                             withToken(token));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(errorCode(missing), "not_found");
  EXPECT_EQ(httpRequest("GET", url("/websites/not-a-uuid"), "", withToken(token)).status, 404);
  EXPECT_EQ(httpRequest("DELETE", url("/websites/not-a-uuid"), "", withToken(token)).status, 404);
}

TEST_F(Accounts, AnotherUsersWebsiteIsIndistinguishableFromAMissingOne) {
  const std::string owner = userToken("ivy@example.com");
  const std::string other = userToken("jack@example.com");
  const std::string id = addSite(owner, "Ivy", "ivy.example")["id"];
  const std::string missingId = "0190d7a0-0000-7000-8000-000000000000";
  auto get = httpRequest("GET", url("/websites/" + id), "", withToken(other));
  auto getMissing = httpRequest("GET", url("/websites/" + missingId), "", withToken(other));
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(get.body, getMissing.body);
  auto del = httpRequest("DELETE", url("/websites/" + id), "", withToken(other));
  EXPECT_EQ(del.status, 404);
  EXPECT_EQ(json::parse(httpRequest("GET", url("/websites"), "", withToken(other)).body).size(),
            0u);
  // Still there for its owner.
  EXPECT_EQ(httpRequest("GET", url("/websites/" + id), "", withToken(owner)).status, 200);
}

TEST_F(Accounts, DeletingAWebsiteDeletesItsEventsAndSummaries) {
  const std::string token = userToken("kim@example.com");
  const std::string id = addSite(token, "Kim", "kim.example")["id"];
  const std::string keep = addSite(token, "Keep", "keep.example")["id"];
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  for (const auto& site : {id, keep}) {
    conn.execArgs(
        "INSERT INTO events (website_id, ts, id, event_type, page) "
        "VALUES ($1, now(), gen_random_uuid(), 'pageview', '/')",
        site);
    conn.execArgs(
        "INSERT INTO event_summary (website_id, date, page_views, unique_sessions, "
        "unique_visitors) VALUES ($1, current_date, 1, 1, 1)",
        site);
  }
  auto r = httpRequest("DELETE", url("/websites/" + id), "", withToken(token));
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(conn.execArgs("SELECT count(*) FROM events WHERE website_id = $1", id).getInt(0, 0), 0);
  EXPECT_EQ(
      conn.execArgs("SELECT count(*) FROM event_summary WHERE website_id = $1", id).getInt(0, 0),
      0);
  EXPECT_EQ(conn.execArgs("SELECT count(*) FROM events WHERE website_id = $1", keep).getInt(0, 0),
            1);
  EXPECT_EQ(httpRequest("GET", url("/websites/" + id), "", withToken(token)).status, 404);
}

TEST_F(Accounts, NamesAreStoredVerbatimAndHostileDomainsRejected) {
  const std::string token = userToken("lee@example.com");
  const std::string name = "Lee's \"shop\"; DROP TABLE websites; -- caf\xc3\xa9 \xf0\x9f\x9b\x92";
  auto site = addSite(token, name, "lee.example");
  EXPECT_EQ(site["name"], name);
  auto fetched =
      httpRequest("GET", url("/websites/" + site["id"].get<std::string>()), "", withToken(token));
  EXPECT_EQ(json::parse(fetched.body)["name"], name);
  for (const char* domain : {"lee'.example", "a;b.example",
                             "b\xc3\xbc"
                             "cher.example",
                             "x\".example"}) {
    auto r = post("/websites", {{"name", "x"}, {"domain", domain}}, withToken(token));
    EXPECT_EQ(r.status, 400) << domain;
  }
}

class ClosedSignup : public Accounts {
 protected:
  DaemonOptions options() override {
    DaemonOptions o = Accounts::options();
    o.allowSignup = false;
    return o;
  }
};

TEST_F(ClosedSignup, SignupIs403WhileMpctlCanStillAddAccounts) {
  auto r = post("/auth/signup", {{"email", "max@example.com"}, {"password", "password123"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(errorCode(r), "signup_disabled");
  auto add = runProcess({mpctlPath(), "-c", daemon_->configPath().string(), "user", "add",
                         "max@example.com", "--password-stdin"},
                        "password123\n");
  ASSERT_EQ(add.exitCode, 0) << add.err;
  EXPECT_FALSE(login("max@example.com").empty());
}

class SlowHashing : public Accounts {
 protected:
  DaemonOptions options() override {
    DaemonOptions o = Accounts::options();
    o.httpThreads = 1;  // one worker: anything blocking it would stall every other request
    o.bcryptCost = 14;
    return o;
  }
};

TEST_F(SlowHashing, PasswordHashingDoesNotHoldUpOtherRequests) {
  std::atomic<bool> signupDone{false};
  std::thread signup([&] {
    auto r = httpRequest("POST", url("/auth/signup"),
                         R"({"email":"slow@example.com","password":"password123"})", kJson, 60000);
    EXPECT_EQ(r.status, 201) << r.body;
    signupDone = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The hash takes about a second at cost 14; health checks must be answered meanwhile.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(httpRequest("GET", url("/healthz")).status, 200);
  }
  const bool healthAnsweredFirst = !signupDone;
  signup.join();
  EXPECT_TRUE(healthAnsweredFirst) << "GET /healthz waited for the bcrypt hash of another request";
}

class AccountsBehindProxy : public Accounts {
 protected:
  DaemonOptions options() override {
    DaemonOptions o = Accounts::options();
    o.httpToml += "trusted_proxies = [\"127.0.0.1\"]\n";
    return o;
  }
  HttpResponse loginFrom(const std::string& address, const std::string& email,
                         const std::string& password) {
    return post("/auth/login", {{"email", email}, {"password", password}},
                {"Content-Type: application/json", "X-Forwarded-For: " + address});
  }
};

// The per-address login budget holds for a whole IPv6 /64, which one subscriber holds.
TEST_F(AccountsBehindProxy, AddressesOfOneIpv6Slash64ShareTheLoginBudget) {
  signup("pat@example.com");
  // Default: 50 failures per address per window, each from another address of the /64.
  for (int i = 1; i <= 50; ++i) {
    auto r = loginFrom("2001:db8:7:8::" + std::to_string(i), "guess" + std::to_string(i) + "@x.org",
                       "wrong-password");
    ASSERT_EQ(r.status, 401) << i;
  }
  EXPECT_EQ(loginFrom("2001:db8:7:8:ffff:1:2:3", "pat@example.com", "password123").status, 429);
  EXPECT_EQ(loginFrom("2001:db8:7:9::1", "pat@example.com", "password123").status, 200)
      << "the neighbouring /64 has its own budget";
  EXPECT_EQ(loginFrom("198.51.100.7", "pat@example.com", "password123").status, 200);
}

// The address throttled and logged is the forwarded client, found from the right: a forged
// left-most entry neither escapes the budget nor blames someone else.
TEST_F(AccountsBehindProxy, AForgedLeftMostForwardedEntryDoesNotEscapeTheBudget) {
  signup("quinn@example.com");
  for (int i = 1; i <= 50; ++i) {
    auto r = loginFrom("192.0.2." + std::to_string(i) + ", 203.0.113.9",
                       "guess" + std::to_string(i) + "@x.org", "wrong-password");
    ASSERT_EQ(r.status, 401) << i;
  }
  auto r = loginFrom("192.0.2.200, 203.0.113.9", "quinn@example.com", "password123");
  EXPECT_EQ(r.status, 429) << r.body;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string line =
      "login failed ip=203.0.113.9 email=quinn@example.com reason=rate_limited";
  while (std::chrono::steady_clock::now() < deadline &&
         daemon_->output().find(line) == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(daemon_->output(), HasSubstr(line));
  EXPECT_EQ(daemon_->output().find("ip=192.0.2."), std::string::npos);
}

}  // namespace
}  // namespace mp::test
