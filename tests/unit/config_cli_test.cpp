// metricpulsed --check-config / --print-defaults and mpctl config check share one validator.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "support/env.hpp"

namespace mp::test {
namespace {

using ::testing::HasSubstr;

TEST(ConfigCli, PrintDefaultsPrintsTheDefaultFile) {
  auto r = runProcess({metricpulsedPath(), "--print-defaults"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, config::defaultsToml());
  auto m = runProcess({mpctlPath(), "config", "defaults"});
  EXPECT_EQ(m.exitCode, 0) << m.err;
  EXPECT_EQ(m.out, r.out);
}

TEST(ConfigCli, CheckConfigAcceptsAValidFile) {
  TempDir dir;
  auto path = dir.write("ok.toml", "[http]\nthreads = 3\n");
  auto r = runProcess({metricpulsedPath(), "--check-config", "-c", path.string()});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("configuration is valid"));
  auto m = runProcess({mpctlPath(), "-c", path.string(), "config", "check"});
  EXPECT_EQ(m.exitCode, 0) << m.err;
}

TEST(ConfigCli, BothProgramsReportTheSameProblemsWithExitCode3) {
  TempDir dir;
  auto path = dir.write("bad.toml", "[http]\nthreads = 0\nlisten = \"x\"\n[cache]\nttl = 5\n");
  auto d = runProcess({metricpulsedPath(), "--check-config", "-c", path.string()});
  auto m = runProcess({mpctlPath(), "-c", path.string(), "config", "check"});
  EXPECT_EQ(d.exitCode, 3);
  EXPECT_EQ(m.exitCode, 3);
  for (const auto* text : {&d.err, &m.err}) {
    EXPECT_THAT(*text, HasSubstr(path.string() + ":2:11: http.threads: 0 is out of range"));
    EXPECT_THAT(*text, HasSubstr("http.listen: \"x\" is not host:port"));
    EXPECT_THAT(*text, HasSubstr(path.string() + ":5:1: cache.ttl: unknown key"));
    EXPECT_THAT(*text, HasSubstr("3 problems"));
  }
}

TEST(ConfigCli, DaemonRefusesToStartOnABadConfig) {
  TempDir dir;
  auto path = dir.write("bad.toml", "[log]\nlevel = \"loud\"\n");
  auto r = runProcess({metricpulsedPath(), "-c", path.string()}, "", {}, std::chrono::seconds(20));
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_THAT(r.err, HasSubstr("log.level"));
  EXPECT_THAT(r.err, HasSubstr("nothing was started"));
}

TEST(ConfigCli, EnvironmentOverrideIsValidatedToo) {
  TempDir dir;
  auto path = dir.write("ok.toml", "");
  auto r = runProcess({metricpulsedPath(), "--check-config", "-c", path.string()}, "",
                      {{"MP_HTTP_LISTEN", "nowhere"}});
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_THAT(r.err, HasSubstr("MP_HTTP_LISTEN: http.listen"));
}

TEST(ConfigCli, UsageErrorsExitWith2) {
  EXPECT_EQ(runProcess({metricpulsedPath(), "--no-such-flag"}).exitCode, 2);
  EXPECT_EQ(runProcess({mpctlPath(), "no-such-command"}).exitCode, 2);
}

}  // namespace
}  // namespace mp::test
