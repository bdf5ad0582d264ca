// Websites' time zones and PATCH /websites/{id} over real HTTP against the daemon, real PostgreSQL
// and Redis: the zone on creation, the changes an owner may make, and what a zone change deletes
// (the website's rollups and aggregation runs, its cached stats answers) and keeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aggregation/aggregator.hpp"
#include "db/connection.hpp"
#include "redis/client.hpp"
#include "redis/keys.hpp"
#include "support/daemon.hpp"
#include "support/env.hpp"
#include "support/http.hpp"
#include "support/seed.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using std::chrono::sys_days;

constexpr const char* kMissingId = "0190d7a0-0000-7000-8000-000000000000";

// Every table the aggregation job fills for a website.
const char* const kRollupTables[] = {"visits", "event_summary", "breakdown_daily", "hourly_summary",
                                     "aggregation_runs"};

std::string errorCode(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<no error body: " + r.body + ">";
  EXPECT_TRUE(body["error"]["message"].is_string());
  return body["error"]["code"].get<std::string>();
}

std::string errorMessage(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<no error body: " + r.body + ">";
  return body["error"]["message"].get<std::string>();
}

class Websites : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = runProcess({mpctlPath(), "-c", "/dev/null", "db", "migrate"}, "",
                        {{"MP_DATABASE_URL", db_.url()}});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    DaemonOptions o(db_.url());
    o.redisUrl = redis_.url();
    daemon_ = std::make_unique<DaemonProcess>(o);
    ASSERT_TRUE(daemon_->start()) << daemon_->output();
    seed::owner(conn_);
    token_ = login(seed::kOwnerEmail);
  }

  std::string url(const std::string& path) const { return daemon_->baseUrl() + path; }

  std::string login(const std::string& email) {
    auto r = httpRequest("POST", url("/auth/login"),
                         json({{"email", email}, {"password", seed::kOwnerPassword}}).dump(),
                         {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false).value("accessToken", "");
  }

  std::vector<std::string> headers(const std::string& token = "") const {
    return {"Content-Type: application/json",
            "Authorization: Bearer " + (token.empty() ? token_ : token)};
  }

  HttpResponse create(const json& body) {
    return httpRequest("POST", url("/websites"), body.dump(), headers());
  }

  json createOk(const json& body) {
    auto r = create(body);
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  HttpResponse patch(const std::string& id, const std::string& body,
                     const std::string& token = "") {
    return httpRequest("PATCH", url("/websites/" + id), body, headers(token));
  }

  HttpResponse get(const std::string& path) { return httpRequest("GET", url(path), "", headers()); }

  long rows(const char* table, const std::string& website) {
    return conn_
        .execArgs(std::string("SELECT count(*) FROM ") + table + " WHERE website_id = $1", website)
        .getInt(0, 0);
  }

  // Events on three past days for `website`, folded into every rollup table.
  void eventsFolded(const std::string& website) {
    std::vector<seed::Event> events;
    for (const char* ts : {"2025-10-27 10:00:00+00", "2025-10-28 23:30:00+00",
                           "2025-10-29 00:15:00+00", "2025-10-29 12:00:00+00"}) {
      events.push_back(
          {.website = website, .ts = ts, .page = "/", .visitor = 1, .browser = "Firefox"});
    }
    ASSERT_EQ(seed::insertEvents(conn_, events), events.size());
    aggregation::foldRange(conn_, sys_days{std::chrono::year{2025} / 10 / 27},
                           sys_days{std::chrono::year{2025} / 10 / 29}, website);
    for (const char* table : kRollupTables) ASSERT_GT(rows(table, website), 0) << table;
  }

  TempDatabase db_;
  RedisProcess redis_;
  std::unique_ptr<DaemonProcess> daemon_;
  db::Connection conn_{db_.url(), std::chrono::seconds(5)};
  std::string token_;
};

TEST_F(Websites, TheTimeZoneIsUtcUnlessOneIsChosen) {
  auto plain = createOk({{"name", "Plain"}, {"domain", "plain.example"}});
  EXPECT_EQ(plain["timeZone"], "UTC");
  auto berlin =
      createOk({{"name", "Berlin"}, {"domain", "berlin.example"}, {"timeZone", "Europe/Berlin"}});
  EXPECT_EQ(berlin["timeZone"], "Europe/Berlin");
  // null counts as absent, as for every field.
  EXPECT_EQ(
      createOk({{"name", "N"}, {"domain", "null.example"}, {"timeZone", nullptr}})["timeZone"],
      "UTC");
  // Legacy names PostgreSQL lists in pg_timezone_names are names too.
  int n = 0;
  for (const char* zone : {"Etc/GMT+3", "EST5EDT", "America/Argentina/ComodRivadavia"}) {
    const std::string domain = "legacy" + std::to_string(++n) + ".example";
    EXPECT_EQ(createOk({{"name", zone}, {"domain", domain}, {"timeZone", zone}})["timeZone"], zone);
  }

  // Every answer carries it: the list, one website, and the stored row.
  auto list = json::parse(get("/websites").body);
  ASSERT_EQ(list.size(), 6u);
  EXPECT_EQ(list[0], plain);
  EXPECT_EQ(list[1], berlin);
  EXPECT_EQ(json::parse(get("/websites/" + berlin["id"].get<std::string>()).body), berlin);
  EXPECT_EQ(
      conn_
          .execArgs("SELECT time_zone FROM websites WHERE id = $1", berlin["id"].get<std::string>())
          .get(0, 0),
      "Europe/Berlin");
}

TEST_F(Websites, ATimeZoneThatIsNotAZoneNameIs400NamingTimeZone) {
  const std::string site = createOk({{"name", "Site"}, {"domain", "site.example"}})["id"];
  const std::vector<json> bad = {
      "Mars/Olympus",
      "europe/berlin",   // names are compared exactly
      "Europe/Berlin ",  // and not trimmed
      "CEST",            // an abbreviation, not a zone
      "PST",
      "+02:00",
      "UTC+2",
      "",
      std::string(65, 'A'),
      std::string("UTC\0x", 5),  // \u0000: a text parameter would stop at the NUL
      "Europe/Berl\xc3\xadn",
      "Europe/Berlin'; DROP TABLE websites; --",
      5,
      true,
      json::array({"UTC"}),
  };
  for (const json& zone : bad) {
    auto created = create({{"name", "X"}, {"domain", "x.example"}, {"timeZone", zone}});
    EXPECT_EQ(created.status, 400) << zone.dump();
    EXPECT_EQ(errorCode(created), "invalid_request") << zone.dump();
    EXPECT_THAT(errorMessage(created), HasSubstr("timeZone")) << zone.dump();

    auto changed = patch(site, json({{"timeZone", zone}}).dump());
    EXPECT_EQ(changed.status, 400) << zone.dump();
    EXPECT_EQ(errorCode(changed), "invalid_request") << zone.dump();
    EXPECT_THAT(errorMessage(changed), HasSubstr("timeZone")) << zone.dump();
  }
  EXPECT_THAT(
      errorMessage(create({{"name", "X"}, {"domain", "x.example"}, {"timeZone", "Mars/X"}})),
      HasSubstr("IANA"));
  // Nothing was created or changed.
  auto list = json::parse(get("/websites").body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["timeZone"], "UTC");
}

TEST_F(Websites, PatchChangesTheNameTheTimeZoneOrBoth) {
  auto site = createOk({{"name", "Shop"}, {"domain", "shop.example"}});
  const std::string id = site["id"];

  auto named = patch(id, R"({"name":"  Shop (EU)  "})");
  ASSERT_EQ(named.status, 200) << named.body;
  auto body = json::parse(named.body);
  EXPECT_EQ(body["name"], "Shop (EU)") << "trimmed as on creation";
  EXPECT_EQ(body["timeZone"], "UTC");
  EXPECT_EQ(body["id"], id);
  EXPECT_EQ(body["domain"], "shop.example");
  EXPECT_EQ(body["createdAt"], site["createdAt"]);

  auto zoned = patch(id, R"({"timeZone":"Europe/Berlin"})");
  ASSERT_EQ(zoned.status, 200) << zoned.body;
  EXPECT_EQ(json::parse(zoned.body)["name"], "Shop (EU)");
  EXPECT_EQ(json::parse(zoned.body)["timeZone"], "Europe/Berlin");

  // Unknown fields are ignored, as by POST /websites: the domain stays.
  auto both = patch(id, R"({"name":"Shop","timeZone":"Asia/Tokyo","domain":"other.example"})");
  ASSERT_EQ(both.status, 200) << both.body;
  body = json::parse(both.body);
  EXPECT_EQ(body["name"], "Shop");
  EXPECT_EQ(body["timeZone"], "Asia/Tokyo");
  EXPECT_EQ(body["domain"], "shop.example");
  EXPECT_EQ(json::parse(get("/websites/" + id).body), body);
  // The id in any letter case is the same website.
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto viaUpper = patch(upper, R"({"timeZone":"UTC"})");
  EXPECT_EQ(viaUpper.status, 200) << viaUpper.body;
  EXPECT_EQ(json::parse(viaUpper.body)["id"], id);
}

TEST_F(Websites, PatchErrorsFollowTheOtherRoutes) {
  const std::string id = createOk({{"name", "Mine"}, {"domain", "mine.example"}})["id"];
  struct Case {
    std::string body;
    std::string field;
  } cases[] = {
      {"{}", "name"},  // nothing to change: the message names what can be
      {R"({"domain":"other.example"})", "timeZone"},
      {R"({"name":null,"timeZone":null})", "name"},
      {R"({"name":5})", "name"},
      {R"({"name":""})", "name"},
      {R"({"name":"   "})", "name"},
      {R"({"name":"ok","timeZone":7})", "timeZone"},
      {R"({"timeZone":"UTC","name":["x"]})", "name"},
      {R"({"name":)", "JSON"},
      {R"(["name"])", "object"},
      {"", "JSON"},
  };
  for (const auto& c : cases) {
    auto r = patch(id, c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(errorCode(r), "invalid_request") << c.body;
    EXPECT_THAT(errorMessage(r), HasSubstr(c.field)) << c.body;
  }
  auto form = httpRequest(
      "PATCH", url("/websites/" + id), "name=x",
      {"Content-Type: application/x-www-form-urlencoded", "Authorization: Bearer " + token_});
  EXPECT_EQ(form.status, 415);
  EXPECT_EQ(errorCode(form), "unsupported_media_type");
  auto anonymous = httpRequest("PATCH", url("/websites/" + id), R"({"name":"x"})",
                               {"Content-Type: application/json"});
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(errorCode(anonymous), "unauthorized");

  // Another owner's website answers exactly like one that does not exist, and stays as it was.
  seed::owner(conn_, "other@example.com");
  const std::string other = login("other@example.com");
  auto theirs = patch(id, R"({"name":"Taken over","timeZone":"Asia/Tokyo"})", other);
  auto missing = patch(kMissingId, R"({"name":"Taken over","timeZone":"Asia/Tokyo"})", other);
  EXPECT_EQ(theirs.status, 404);
  EXPECT_EQ(errorCode(theirs), "not_found");
  EXPECT_EQ(theirs.body, missing.body);
  EXPECT_EQ(patch(kMissingId, R"({"name":"x"})").status, 404);
  EXPECT_EQ(patch("not-a-uuid", R"({"name":"x"})").status, 404);
  auto mine = json::parse(get("/websites/" + id).body);
  EXPECT_EQ(mine["name"], "Mine");
  EXPECT_EQ(mine["timeZone"], "UTC");
  // A bad value is 400 whoever owns the id: it tells nothing about other people's websites.
  EXPECT_EQ(patch(id, R"({"timeZone":"Mars/Olympus"})", other).status, 400);

  // PATCH is now one of the methods of the path.
  auto put = httpRequest("PUT", url("/websites/" + id), R"({"name":"x"})", headers());
  EXPECT_EQ(put.status, 405);
  EXPECT_THAT(put.header("allow"), HasSubstr("PATCH"));
}

TEST_F(Websites, AZoneChangeDeletesTheWebsitesRollupsAndNothingElse) {
  const std::string id = createOk({{"name", "Moving"}, {"domain", "moving.example"}})["id"];
  const std::string keep = createOk({{"name", "Staying"}, {"domain", "staying.example"}})["id"];
  eventsFolded(id);
  eventsFolded(keep);
  std::map<std::string, long> before;
  for (const char* table : kRollupTables) before[table] = rows(table, id);

  // A name, or the zone it already has, changes no day: the rollups stay.
  ASSERT_EQ(patch(id, R"({"name":"Moving soon"})").status, 200);
  ASSERT_EQ(patch(id, R"({"timeZone":"UTC","name":"Moving soon"})").status, 200);
  for (const char* table : kRollupTables) EXPECT_EQ(rows(table, id), before[table]) << table;

  auto moved = patch(id, R"({"timeZone":"America/New_York"})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  for (const char* table : kRollupTables) {
    EXPECT_GT(rows(table, keep), 0) << table << ": another website's rollups stay";
    if (std::string_view(table) == "aggregation_runs") continue;
    EXPECT_EQ(rows(table, id), 0) << table << ": its days were counted in the old zone";
  }
  // Its days are still known, marked dirty: the scheduled fold finds them all, older ones too.
  EXPECT_EQ(conn_
                .execArgs("SELECT count(*) FILTER (WHERE NOT dirty) FROM aggregation_runs"
                          " WHERE website_id = $1",
                          id)
                .getInt(0, 0),
            0);
  EXPECT_EQ(rows("events", id), 4) << "the raw events stay: the stats are recounted from them";
  // The stats read those days from the raw events now, with the same numbers.
  auto overview = get("/stats/" + id + "/overview");
  ASSERT_EQ(overview.status, 200) << overview.body;
  EXPECT_EQ(json::parse(overview.body)["totalViews"], 4) << overview.body;

  // The next fold makes them again (the scheduler's does so for the recent days).
  aggregation::foldRange(conn_, sys_days{std::chrono::year{2025} / 10 / 27},
                         sys_days{std::chrono::year{2025} / 10 / 29}, id);
  for (const char* table : kRollupTables) EXPECT_GT(rows(table, id), 0) << table;
}

TEST_F(Websites, AZoneChangeDropsTheCachedStatsAnswers) {
  const std::string id = createOk({{"name", "Cached"}, {"domain", "cached.example"}})["id"];
  const std::string keep = createOk({{"name", "Other"}, {"domain", "other.example"}})["id"];
  const std::string stats = "/stats/" + id + "/overview";
  const std::string otherStats = "/stats/" + keep + "/overview";
  ASSERT_EQ(get(stats).status, 200);
  ASSERT_EQ(get(otherStats).status, 200);
  ASSERT_EQ(get(stats).header("x-cache"), "HIT");

  // A new name changes no number: the answers stay cached.
  ASSERT_EQ(patch(id, R"({"name":"Renamed"})").status, 200);
  EXPECT_EQ(get(stats).header("x-cache"), "HIT");

  ASSERT_EQ(patch(id, R"({"timeZone":"Pacific/Auckland"})").status, 200);
  redis::Client redis(redis::Url::parse(redis_.url()), std::chrono::seconds(2));
  EXPECT_TRUE(redis.command({"KEYS", redis::statsCachePattern(id)}).elements().empty());
  EXPECT_FALSE(redis.command({"KEYS", redis::statsCachePattern(keep)}).elements().empty());
  EXPECT_EQ(get(stats).header("x-cache"), "MISS");
  EXPECT_EQ(get(otherStats).header("x-cache"), "HIT");
}

}  // namespace
}  // namespace mp::test
