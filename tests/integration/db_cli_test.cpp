// mpctl db migrate/status/partitions as a sysadmin runs them: output, formats and exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "db/connection.hpp"
#include "support/env.hpp"
#include "util/exit_codes.hpp"

namespace mp::db {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class DbCliTest : public ::testing::Test {
 protected:
  test::ProcessResult mpctl(std::vector<std::string> args, const std::string& url = "") {
    const std::string target = url.empty() ? db_.url() : url;
    const auto config = dir_.write("mp.toml", "[database]\nurl = \"" + target + "\"\n");
    args.insert(args.begin(), {test::mpctlPath(), "-c", config.string()});
    return test::runProcess(args, "", {{"MP_DATABASE_URL", target}});
  }

  test::TempDatabase db_;
  test::TempDir dir_;
};

TEST_F(DbCliTest, MigrateThenStatusTellTheWholeStory) {
  auto status = mpctl({"db", "status"});
  EXPECT_EQ(status.exitCode, exit_code::kFailure) << status.err;
  EXPECT_THAT(status.out, HasSubstr("VERSION"));
  EXPECT_THAT(status.out, HasSubstr("0001"));
  EXPECT_THAT(status.out, HasSubstr("pending"));
  EXPECT_THAT(status.err, HasSubstr("run mpctl db migrate"));

  auto migrate = mpctl({"db", "migrate"});
  EXPECT_EQ(migrate.exitCode, exit_code::kOk) << migrate.err;
  EXPECT_THAT(migrate.out, HasSubstr("applied 0001_initial\n"));

  auto again = mpctl({"db", "migrate"});
  EXPECT_EQ(again.exitCode, exit_code::kOk) << again.err;
  EXPECT_EQ(again.out, "database is up to date\n");

  status = mpctl({"db", "status"});
  EXPECT_EQ(status.exitCode, exit_code::kOk) << status.err;
  EXPECT_THAT(status.out, HasSubstr("applied"));
  EXPECT_EQ(status.err, "");
}

TEST_F(DbCliTest, StatusSpeaksJsonAndCsv) {
  ASSERT_EQ(mpctl({"db", "migrate"}).exitCode, 0);
  auto json = mpctl({"db", "status", "--format", "json"});
  ASSERT_EQ(json.exitCode, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_FALSE(doc.empty());
  EXPECT_EQ(doc[0]["version"], 1);
  EXPECT_EQ(doc[0]["name"], "initial");
  EXPECT_EQ(doc[0]["state"], "applied");
  EXPECT_TRUE(std::regex_match(doc[0]["appliedAt"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));

  auto csv = mpctl({"db", "status", "--format", "csv"});
  ASSERT_EQ(csv.exitCode, 0) << csv.err;
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), "version,name,state,appliedAt");
  EXPECT_THAT(csv.out, HasSubstr("\n1,initial,applied,"));
}

TEST_F(DbCliTest, ChangedMigrationExitsWithSchemaCode) {
  ASSERT_EQ(mpctl({"db", "migrate"}).exitCode, 0);
  Connection(db_.url(), std::chrono::seconds(10))
      .exec("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");

  auto status = mpctl({"db", "status"});
  EXPECT_EQ(status.exitCode, exit_code::kSchema);
  EXPECT_THAT(status.out, HasSubstr("CHANGED"));

  auto migrate = mpctl({"db", "migrate"});
  EXPECT_EQ(migrate.exitCode, exit_code::kSchema);
  EXPECT_THAT(migrate.err, HasSubstr("0001_initial"));
  EXPECT_EQ(migrate.out, "");
}

TEST_F(DbCliTest, UnknownMigrationExitsWithSchemaCode) {
  ASSERT_EQ(mpctl({"db", "migrate"}).exitCode, 0);
  Connection(db_.url(), std::chrono::seconds(10))
      .exec("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')");
  auto status = mpctl({"db", "status", "--format", "csv"});
  EXPECT_EQ(status.exitCode, exit_code::kSchema);
  EXPECT_THAT(status.out, HasSubstr("9999,future,unknown,"));
}

TEST_F(DbCliTest, PartitionsNeedAMigratedDatabase) {
  auto r = mpctl({"db", "partitions"});
  EXPECT_EQ(r.exitCode, exit_code::kSchema);
  EXPECT_THAT(r.err, HasSubstr("run mpctl db migrate"));
}

TEST_F(DbCliTest, UnreachableDatabaseExitsWithUnavailableCode) {
  const std::string url =
      "postgresql://mp:hunter2secret@127.0.0.1:" + std::to_string(test::freePort()) +
      "/metricpulse";
  for (const char* command : {"migrate", "status"}) {
    auto r = mpctl({"db", command}, url);
    EXPECT_EQ(r.exitCode, exit_code::kUnavailable) << command << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("127.0.0.1"));
    EXPECT_THAT(r.err, Not(HasSubstr("hunter2secret")));
  }
}

}  // namespace
}  // namespace mp::db
