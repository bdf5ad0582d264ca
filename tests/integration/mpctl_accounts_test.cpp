// mpctl user / website / token end to end, with --format json and csv parsed back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <nlohmann/json.hpp>

#include "db/connection.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/pty.hpp"
#include "users/users.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class Mpctl : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ =
        dir_.write("mp.toml", "[auth]\nbcrypt_cost = 4\njwt_secret_file = \"" +
                                  dir_.write("jwt.secret", std::string(40, 's')).string() + "\"\n");
    auto r = mpctl({"db", "migrate"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  ProcessResult mpctl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {mpctlPath(), "-c", config_.string()});
    return runProcess(args, input, {{"MP_DATABASE_URL", db_.url()}});
  }

  json listJson(std::vector<std::string> args) {
    args.push_back("--format");
    args.push_back("json");
    auto r = mpctl(args);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return json::parse(r.out);
  }

  TempDatabase db_;
  TempDir dir_;
  std::filesystem::path config_;
};

TEST_F(Mpctl, UserAddListPasswdDel) {
  auto add = mpctl({"user", "add", "ann@example.com", "--password-stdin"}, "password123\n");
  ASSERT_EQ(add.exitCode, 0) << add.err;
  EXPECT_THAT(add.out, HasSubstr("created user ann@example.com"));

  auto users = listJson({"user", "list"});
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0]["email"], "ann@example.com");
  EXPECT_EQ(users[0]["id"].get<std::string>().size(), 36u);
  EXPECT_TRUE(users[0]["createdAt"].is_string());

  auto csv = mpctl({"user", "list", "--format", "csv"});
  EXPECT_EQ(users[0]["report"], "off");
  EXPECT_EQ(csv.out, "id,email,createdAt,report\n" + users[0]["id"].get<std::string>() +
                         ",ann@example.com," + users[0]["createdAt"].get<std::string>() + ",off\n");
  auto table = mpctl({"user", "list"});
  EXPECT_THAT(table.out, HasSubstr("EMAIL"));
  EXPECT_THAT(table.out, HasSubstr("ann@example.com"));

  auto passwd = mpctl({"user", "passwd", "ANN@example.com", "--password-stdin"}, "new-password\n");
  EXPECT_EQ(passwd.exitCode, 0) << passwd.err;
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  EXPECT_TRUE(users::authenticate(conn, "ann@example.com", "new-password", 4));
  EXPECT_FALSE(users::authenticate(conn, "ann@example.com", "password123", 4));

  auto del = mpctl({"user", "del", "ann@example.com", "--yes"});
  EXPECT_EQ(del.exitCode, 0) << del.err;
  EXPECT_EQ(listJson({"user", "list"}).size(), 0u);
}

TEST_F(Mpctl, UserErrorsHaveDocumentedExitCodes) {
  ASSERT_EQ(mpctl({"user", "add", "ann@example.com", "--password-stdin"}, "password123\n").exitCode,
            0);
  auto dup = mpctl({"user", "add", "Ann@Example.com", "--password-stdin"}, "password123\n");
  EXPECT_EQ(dup.exitCode, 7);
  EXPECT_THAT(dup.err, HasSubstr("already exists"));
  auto bad = mpctl({"user", "add", "not-an-email", "--password-stdin"}, "password123\n");
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_THAT(bad.err, HasSubstr("email"));
  auto shortPw = mpctl({"user", "add", "bob@example.com", "--password-stdin"}, "short\n");
  EXPECT_EQ(shortPw.exitCode, 2);
  EXPECT_THAT(shortPw.err, HasSubstr("8 to 72 bytes"));
  // No terminal and no --password-stdin: refuse rather than hang or read a script's input.
  auto noTty = mpctl({"user", "add", "bob@example.com"});
  EXPECT_EQ(noTty.exitCode, 2);
  EXPECT_THAT(noTty.err, HasSubstr("--password-stdin"));
  EXPECT_EQ(
      mpctl({"user", "passwd", "nobody@example.com", "--password-stdin"}, "password123\n").exitCode,
      6);
  EXPECT_EQ(mpctl({"user", "del", "nobody@example.com", "--yes"}).exitCode, 6);
  auto noYes = mpctl({"user", "del", "ann@example.com"});
  EXPECT_EQ(noYes.exitCode, 2);
  EXPECT_THAT(noYes.err, HasSubstr("--yes"));
  EXPECT_EQ(listJson({"user", "list"}).size(), 1u) << "nothing was deleted";
  EXPECT_EQ(mpctl({"user"}).exitCode, 2);
  EXPECT_EQ(mpctl({"user", "add", "--help"}).exitCode, 0);
}

TEST_F(Mpctl, WebsiteAddListDelShareTheApiRules) {
  ASSERT_EQ(mpctl({"user", "add", "ann@example.com", "--password-stdin"}, "password123\n").exitCode,
            0);
  ASSERT_EQ(mpctl({"user", "add", "bob@example.com", "--password-stdin"}, "password123\n").exitCode,
            0);
  auto add = mpctl({"website", "add", "--owner", "ann@example.com", "--name", "Ann's \"blog\"; é",
                    "--domain", "https://WWW.Ann.Example:443/x"});
  ASSERT_EQ(add.exitCode, 0) << add.err;
  ASSERT_EQ(mpctl({"website", "add", "--owner", "bob@example.com", "--name", "Bob", "--domain",
                   "bob.example"})
                .exitCode,
            0);

  auto all = listJson({"website", "list"});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["domain"], "ann.example");
  EXPECT_EQ(all[0]["name"], "Ann's \"blog\"; é");
  EXPECT_EQ(all[0]["owner"], "ann@example.com");
  auto annOnly = listJson({"website", "list", "--owner", "ann@example.com"});
  ASSERT_EQ(annOnly.size(), 1u);
  EXPECT_EQ(annOnly[0]["id"], all[0]["id"]);

  auto csv = mpctl({"website", "list", "--owner", "ann@example.com", "--format", "csv"});
  EXPECT_THAT(csv.out, HasSubstr("\"Ann's \"\"blog\"\"; é\""));

  EXPECT_EQ(mpctl({"website", "add", "--owner", "bob@example.com", "--name", "Dup", "--domain",
                   "ann.example"})
                .exitCode,
            7);
  EXPECT_EQ(mpctl({"website", "add", "--owner", "bob@example.com", "--name", "Bad", "--domain",
                   "not a domain"})
                .exitCode,
            2);
  EXPECT_EQ(mpctl({"website", "add", "--owner", "nobody@example.com", "--name", "X", "--domain",
                   "x.example"})
                .exitCode,
            6);
  EXPECT_EQ(mpctl({"website", "list", "--owner", "nobody@example.com"}).exitCode, 6);

  const std::string id = all[0]["id"];
  EXPECT_EQ(mpctl({"website", "del", id}).exitCode, 2) << "no terminal, no --yes";
  auto del = mpctl({"website", "del", id, "--yes"});
  EXPECT_EQ(del.exitCode, 0) << del.err;
  EXPECT_EQ(mpctl({"website", "del", id, "--yes"}).exitCode, 6);
  EXPECT_EQ(mpctl({"website", "del", "not-a-uuid", "--yes"}).exitCode, 6);
  EXPECT_EQ(listJson({"website", "list"}).size(), 1u);

  // Deleting a user takes its websites along.
  ASSERT_EQ(mpctl({"user", "del", "bob@example.com", "--yes"}).exitCode, 0);
  EXPECT_EQ(listJson({"website", "list"}).size(), 0u);
}

TEST_F(Mpctl, WebsiteTimeZonesOnAddAndSet) {
  ASSERT_EQ(mpctl({"user", "add", "ann@example.com", "--password-stdin"}, "password123\n").exitCode,
            0);
  auto berlin = mpctl({"website", "add", "--owner", "ann@example.com", "--name", "Berlin",
                       "--domain", "berlin.example", "--time-zone", "Europe/Berlin"});
  ASSERT_EQ(berlin.exitCode, 0) << berlin.err;
  EXPECT_THAT(berlin.out, HasSubstr("time zone Europe/Berlin"));
  ASSERT_EQ(mpctl({"website", "add", "--owner", "ann@example.com", "--name", "Plain", "--domain",
                   "plain.example"})
                .exitCode,
            0);
  for (const char* zone : {"Mars/Olympus", "CEST", "europe/berlin", "+02:00", ""}) {
    auto bad = mpctl({"website", "add", "--owner", "ann@example.com", "--name", "Bad", "--domain",
                      "bad.example", "--time-zone", zone});
    EXPECT_EQ(bad.exitCode, 2) << zone;
    EXPECT_THAT(bad.err, HasSubstr("--time-zone")) << zone;
  }
  auto sites = listJson({"website", "list"});
  ASSERT_EQ(sites.size(), 2u) << "nothing was created by the refused commands";
  EXPECT_EQ(sites[0]["timeZone"], "Europe/Berlin");
  EXPECT_EQ(sites[1]["timeZone"], "UTC");
  auto csv = mpctl({"website", "list", "--format", "csv"});
  EXPECT_THAT(csv.out, ::testing::StartsWith("id,name,domain,timeZone,owner,createdAt\n"));
  EXPECT_THAT(mpctl({"website", "list"}).out, HasSubstr("Europe/Berlin"));

  // Folded rollups and a cached answer of the website that will move, in the test Redis.
  const std::string id = sites[1]["id"];
  db::Connection conn(db_.url(), std::chrono::seconds(5));
  conn.execArgs(
      "INSERT INTO events (website_id, ts, event_type, page, visitor_id)"
      " VALUES ($1, '2025-10-28 12:00:00+00', 'pageview', '/', 1)",
      id);
  const std::map<std::string, std::string> withRedis = {{"MP_DATABASE_URL", db_.url()},
                                                        {"MP_REDIS_URL", redisUrl()}};
  const auto mpctlWithRedis = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {mpctlPath(), "-c", config_.string()});
    return runProcess(args, "", withRedis);
  };
  ASSERT_EQ(
      mpctl({"aggregate", "run", "--website", id, "--from", "2025-10-28", "--to", "2025-10-28"})
          .exitCode,
      0);
  const auto runs = [&] {
    return conn
        .execArgs("SELECT count(*) FROM aggregation_runs WHERE website_id = $1 AND NOT dirty", id)
        .getInt(0, 0);
  };
  ASSERT_EQ(runs(), 1);
  redis::Client redis(redis::Url::parse(redisUrl()), std::chrono::seconds(2));
  const std::string cached = redis::statsCacheKey(id, "overview", "");
  redis.command({"SET", cached, "{}", "EX", "60"});

  auto renamed = mpctlWithRedis({"website", "set", id, "--name", "Plain and simple"});
  ASSERT_EQ(renamed.exitCode, 0) << renamed.err;
  EXPECT_THAT(renamed.out, HasSubstr("name \"Plain and simple\", time zone UTC"));
  EXPECT_EQ(runs(), 1) << "a name changes no day";
  EXPECT_EQ(redis.command({"EXISTS", cached}).integer(), 1);

  auto moved = mpctlWithRedis({"website", "set", id, "--time-zone", "Asia/Tokyo"});
  ASSERT_EQ(moved.exitCode, 0) << moved.err;
  EXPECT_THAT(moved.out, HasSubstr("time zone Asia/Tokyo"));
  EXPECT_THAT(moved.out, HasSubstr("rollups were deleted"));
  EXPECT_EQ(runs(), 0) << "its days were counted in the old zone: all are to be folded again";
  EXPECT_EQ(redis.command({"EXISTS", cached}).integer(), 0) << "its cached answers go too";
  sites = listJson({"website", "list"});
  EXPECT_EQ(sites[1]["name"], "Plain and simple");
  EXPECT_EQ(sites[1]["timeZone"], "Asia/Tokyo");

  auto both = mpctl({"website", "set", id, "--name", "Plain", "--time-zone", "UTC"});
  EXPECT_EQ(both.exitCode, 0) << both.err;
  EXPECT_THAT(both.out, HasSubstr("name \"Plain\", time zone UTC"));

  // Errors: nothing to change and bad values are usage errors (2), an unknown id is 6.
  auto nothing = mpctl({"website", "set", id});
  EXPECT_EQ(nothing.exitCode, 2);
  EXPECT_THAT(nothing.err, HasSubstr("--name and/or --time-zone"));
  auto badZone = mpctl({"website", "set", id, "--time-zone", "Mars/Olympus"});
  EXPECT_EQ(badZone.exitCode, 2);
  EXPECT_THAT(badZone.err, HasSubstr("--time-zone must be an IANA time zone name"));
  EXPECT_EQ(mpctl({"website", "set", id, "--name", " "}).exitCode, 2);
  auto unknown = mpctl({"website", "set", "0190d7a0-0000-7000-8000-000000000000", "--name", "X"});
  EXPECT_EQ(unknown.exitCode, 6);
  EXPECT_THAT(unknown.err, HasSubstr("no website with id"));
  EXPECT_EQ(mpctl({"website", "set", "not-a-uuid", "--name", "X"}).exitCode, 6);
  EXPECT_EQ(mpctl({"website", "set", "--name", "X"}).exitCode, 2) << "the id is required";
  sites = listJson({"website", "list"});
  EXPECT_EQ(sites[1]["name"], "Plain");
  EXPECT_EQ(sites[1]["timeZone"], "UTC");
}

TEST_F(Mpctl, TokenIssueGivesATokenTheDaemonAccepts) {
  ASSERT_EQ(mpctl({"user", "add", "ann@example.com", "--password-stdin"}, "password123\n").exitCode,
            0);
  DaemonOptions options(db_.url());
  RedisProcess redis;
  options.redisUrl = redis.url();
  DaemonProcess daemon(options);
  ASSERT_TRUE(daemon.start()) << daemon.output();
  // The daemon's own config names its secret; mpctl signs with the same one.
  auto token = runProcess({mpctlPath(), "-c", daemon.configPath().string(), "token", "issue",
                           "ann@example.com", "--ttl", "1h"});
  ASSERT_EQ(token.exitCode, 0) << token.err;
  std::string jwt = token.out.substr(0, token.out.find('\n'));
  auto me = httpRequest("GET", daemon.baseUrl() + "/auth/me", "", {"Authorization: Bearer " + jwt});
  EXPECT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body)["email"], "ann@example.com");
  EXPECT_EQ(runProcess({mpctlPath(), "-c", daemon.configPath().string(), "token", "issue",
                        "nobody@example.com"})
                .exitCode,
            6);
  EXPECT_EQ(runProcess({mpctlPath(), "-c", daemon.configPath().string(), "token", "issue",
                        "ann@example.com", "--ttl", "soon"})
                .exitCode,
            2);
}

TEST_F(Mpctl, TokenIssueRefusesAShortSecret) {
  ASSERT_EQ(mpctl({"user", "add", "ann@example.com", "--password-stdin"}, "password123\n").exitCode,
            0);
  auto cfg = dir_.write("short.toml", "[auth]\njwt_secret_file = \"" +
                                          dir_.write("short.secret", "tooshort").string() + "\"\n");
  auto r = runProcess({mpctlPath(), "-c", cfg.string(), "token", "issue", "ann@example.com"}, "",
                      {{"MP_DATABASE_URL", db_.url()}});
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_THAT(r.err, HasSubstr("at least 32"));
}

TEST_F(Mpctl, CtrlCAtThePasswordPromptGivesTheTerminalBackEchoing) {
  const auto config =
      dir_.write("pty.toml", "[database]\nurl = \"" + db_.url() + "\"\n[auth]\nbcrypt_cost = 4\n");
  PtyProcess add({mpctlPath(), "-c", config.string(), "user", "add", "ann@example.com"});
  ASSERT_TRUE(add.waitFor("Password: ", std::chrono::seconds(20))) << add.output();
  add.write("secret-so-far");
  add.write("\x03");  // Ctrl-C, turned into SIGINT by the terminal
  EXPECT_EQ(add.wait(std::chrono::seconds(20)), 128 + SIGINT) << add.output();
  EXPECT_TRUE(add.echoing()) << "the terminal was left without echo";
  EXPECT_THAT(add.output(), ::testing::Not(HasSubstr("secret-so-far")));
  EXPECT_EQ(listJson({"user", "list"}).size(), 0u);
}

TEST(DaemonSecret, RefusesToStartWithoutAUsableSecret) {
  TempDatabase db;
  ASSERT_EQ(runProcess({mpctlPath(), "-c", "/dev/null", "db", "migrate"}, "",
                       {{"MP_DATABASE_URL", db.url()}})
                .exitCode,
            0);
  DaemonOptions options(db.url());
  options.jwtSecret = "short";
  DaemonProcess daemon(options);
  EXPECT_FALSE(daemon.start());
  EXPECT_EQ(daemon.exitCode(), 3);
  EXPECT_THAT(daemon.output(), HasSubstr("at least 32 are needed"));
}

}  // namespace
}  // namespace mp::test
