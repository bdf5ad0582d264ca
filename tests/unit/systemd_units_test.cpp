// The shipped systemd units: `systemd-analyze verify` finds nothing to complain about (their
// manual pages included), they run the packaged paths with commands mpctl accepts, their
// hardening is what docs/operations.md says, and a bad configuration stops metricpulsed.service
// instead of restarting it forever.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/env.hpp"

namespace mp::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDaemon = "/usr/sbin/metricpulsed";
constexpr const char* kMpctl = "/usr/bin/mpctl";
constexpr const char* kConfig = "/etc/metricpulse/metricpulse.toml";

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every value of `key=` lines in the unit text, in order.
std::vector<std::string> values(const std::string& unit, const std::string& key) {
  std::vector<std::string> out;
  std::istringstream in(unit);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + "=", 0) == 0) out.push_back(line.substr(key.size() + 1));
  }
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

// The path of the program `name` in /usr/bin or /bin, or "".
std::string tool(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin"}) {
    const fs::path path = fs::path(dir) / name;
    if (fs::exists(path)) return path.string();
  }
  return {};
}

// The shipped units, by file name.
std::vector<fs::path> units() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(sourcePath("systemd"))) {
    out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SystemdUnits, TheShippedSet) {
  std::set<std::string> names;
  for (const auto& unit : units()) names.insert(unit.filename().string());
  EXPECT_EQ(names,
            (std::set<std::string>{"metricpulsed.service", "metricpulse-aggregate.service",
                                   "metricpulse-aggregate.timer", "metricpulse-retention.service",
                                   "metricpulse-retention.timer", "metricpulse-report.service",
                                   "metricpulse-report.timer"}));
}

// The units name the installed paths, which `verify` checks are executable: they are verified as
// copies naming the built binaries instead. Their Documentation= pages are looked up by man(1)
// in a manual tree holding the pages of man/, so a page they name must be one that is shipped.
TEST(SystemdUnits, VerifyCleanWithTheBuiltBinariesAndTheShippedManPages) {
  const std::string analyze = tool("systemd-analyze");
  ASSERT_FALSE(analyze.empty())
      << "systemd-analyze not found: install Debian's systemd package (scripts/lib/deps.sh)";
  ASSERT_FALSE(tool("man").empty()) << "man not found: install man-db (scripts/lib/deps.sh)";
  TempDir dir;
  fs::create_directories(dir.path() / "units");
  for (const auto& page : fs::directory_iterator(sourcePath("man"))) {
    const std::string section = page.path().extension().string().substr(1);
    fs::create_directories(dir.path() / "man" / ("man" + section));
    fs::copy_file(page.path(), dir.path() / "man" / ("man" + section) / page.path().filename());
  }
  std::vector<std::string> argv = {analyze, "verify", "--man=yes"};
  for (const auto& unit : units()) {
    std::string text = readFile(unit);
    text = replaceAll(text, kDaemon, metricpulsedPath());
    text = replaceAll(text, kMpctl, mpctlPath());
    argv.push_back(dir.write("units/" + unit.filename().string(), text).string());
  }
  const auto result =
      runProcess(argv, "", {{"MANPATH", (dir.path() / "man").string()}, {"MANPAGER", "cat"}});
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, "");
}

TEST(SystemdUnits, RunThePackagedPathsAndTheirTimersStartTheirServices) {
  for (const auto& unit : units()) {
    SCOPED_TRACE(unit.filename().string());
    const std::string text = readFile(unit);
    if (unit.extension() == ".timer") {
      EXPECT_TRUE(fs::exists(fs::path(unit).replace_extension(".service")))
          << "a timer starts the service of its own name";
      EXPECT_EQ(values(text, "Persistent"), std::vector<std::string>{"true"});
      continue;
    }
    const auto exec = values(text, "ExecStart");
    ASSERT_FALSE(exec.empty());
    for (const auto& line : exec) {
      const auto argv = words(line);
      ASSERT_GE(argv.size(), 3u) << line;
      EXPECT_TRUE(argv[0] == kDaemon || argv[0] == kMpctl) << line;
      EXPECT_EQ(argv[1], "-c") << line;
      EXPECT_EQ(argv[2], kConfig) << line;
    }
    EXPECT_EQ(values(text, "User"), std::vector<std::string>{"metricpulse"});
    EXPECT_EQ(values(text, "Group"), std::vector<std::string>{"metricpulse"});
    // Hardened alike: what docs/operations.md describes.
    for (const char* key : {"NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                            "PrivateDevices", "RestrictAddressFamilies", "SystemCallFilter",
                            "MemoryDenyWriteExecute", "CapabilityBoundingSet"}) {
      EXPECT_FALSE(values(text, key).empty()) << key;
    }
  }
}

TEST(SystemdUnits, TheDaemonTellsSystemdWhenItIsReadyAndFeedsTheWatchdog) {
  const std::string unit = readFile(sourcePath("systemd/metricpulsed.service"));
  EXPECT_EQ(values(unit, "Type"), std::vector<std::string>{"notify"});
  EXPECT_EQ(values(unit, "NotifyAccess"), std::vector<std::string>{"main"});
  EXPECT_EQ(values(unit, "WatchdogSec"), std::vector<std::string>{"30s"});
  EXPECT_EQ(values(unit, "ExecReload"), std::vector<std::string>{"/bin/kill -HUP $MAINPID"});
}

// Each mpctl command of the units, run as the unit would against a database that is not there:
// it gets past its arguments (a usage error would exit 2) to the connection (exit 5).
TEST(SystemdUnits, EveryMpctlCommandOfTheUnitsIsAcceptedByMpctl) {
  TempDir dir;
  const auto config =
      dir.write("metricpulse.toml",
                "[database]\nurl = \"postgresql://nobody@127.0.0.1:" + std::to_string(freePort()) +
                    "/none\"\nconnect_timeout = \"2s\"\n\n[retention]\ndays = 30\n\n"
                    "[email]\nurl = \"smtp://127.0.0.1:1\"\nfrom = \"reports@example.com\"\n");
  int commands = 0;
  for (const auto& unit : units()) {
    if (unit.extension() != ".service") continue;
    for (const auto& line : values(readFile(unit), "ExecStart")) {
      auto argv = words(line);
      if (argv.empty() || argv[0] != kMpctl) continue;
      ++commands;
      argv[0] = mpctlPath();
      for (auto& arg : argv) {
        if (arg == kConfig) arg = config.string();
      }
      const auto result = runProcess(argv, "", {}, std::chrono::seconds(30));
      EXPECT_EQ(result.exitCode, 5) << line << "\n" << result.out << result.err;
      EXPECT_THAT(result.err, ::testing::HasSubstr("database")) << line;
    }
  }
  EXPECT_EQ(commands, 4)
      << "aggregate run --recent, aggregate refresh, retention prune --yes, report send";
}

// The exposure `systemd-analyze security` gives each service (offline, from the file), and the
// figure docs/operations.md quotes for the daemon's.
TEST(SystemdUnits, SecurityExposureIsLowAndTheOperationsGuideQuotesIt) {
  const std::string analyze = tool("systemd-analyze");
  ASSERT_FALSE(analyze.empty());
  const std::regex overall(R"(Overall exposure level for (\S+): ([0-9]+\.[0-9]))");
  std::string daemonExposure;
  for (const auto& unit : units()) {
    if (unit.extension() != ".service") continue;
    const auto result =
        runProcess({analyze, "security", "--offline=true", "--no-pager", unit.string()}, "",
                   {{"SYSTEMD_COLORS", "0"}});
    EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(result.out, m, overall)) << result.out << result.err;
    EXPECT_LE(std::stod(m[2].str()), 2.0) << unit.filename() << ":\n" << result.out;
    if (unit.filename() == "metricpulsed.service") daemonExposure = m[2].str();
  }
  ASSERT_FALSE(daemonExposure.empty());
  const std::string guide = readFile(sourcePath("docs/operations.md"));
  EXPECT_THAT(guide,
              ::testing::HasSubstr("exposure level for metricpulsed.service: " + daemonExposure))
      << "docs/operations.md quotes another figure than systemd-analyze security gives";
}

TEST(SystemdUnits, BadConfigStopsTheDaemonUnitInsteadOfRestartLooping) {
  const std::string unit = readFile(sourcePath("systemd/metricpulsed.service"));
  // systemd restarts a unit whose ExecStartPre fails whatever RestartPreventExitStatus says.
  EXPECT_TRUE(values(unit, "ExecStartPre").empty())
      << "an ExecStartPre that fails would be restarted every RestartSec forever";
  ASSERT_EQ(values(unit, "Restart"), std::vector<std::string>{"on-failure"});
  std::set<std::string> prevent;
  for (const auto& line : values(unit, "RestartPreventExitStatus")) {
    for (const auto& w : words(line)) prevent.insert(w);
  }

  // What the unit's ExecStart does with an invalid file: exit with a status the unit does not
  // restart, having listed the problem.
  TempDir dir;
  const auto bad = dir.write("bad.toml", "[http]\nlisten = \"nowhere\"\nno_such_key = 1\n");
  const auto result = runProcess({metricpulsedPath(), "-c", bad.string()});
  EXPECT_EQ(result.exitCode, 3) << result.err;
  EXPECT_TRUE(prevent.count(std::to_string(result.exitCode)))
      << "exit " << result.exitCode << " is restarted by the unit";
  EXPECT_NE(result.err.find("no_such_key"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace mp::test
