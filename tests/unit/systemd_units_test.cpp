// The shipped systemd units: `systemd-analyze verify` finds nothing to complain about, and a bad
// configuration stops metricpulsed.service instead of restarting it forever.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/env.hpp"

namespace mp::test {
namespace {

namespace fs = std::filesystem;

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

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

std::string systemdAnalyze() {
  for (const char* dir : {"/usr/bin", "/bin"}) {
    const fs::path path = fs::path(dir) / "systemd-analyze";
    if (fs::exists(path)) return path.string();
  }
  return {};
}

TEST(SystemdUnits, VerifyCleanWithTheBuiltBinaries) {
  const std::string analyze = systemdAnalyze();
  ASSERT_FALSE(analyze.empty())
      << "systemd-analyze not found: install Debian's systemd package (scripts/lib/deps.sh)";
  TempDir dir;
  std::vector<std::string> argv = {analyze, "verify", "--man=no"};
  for (const auto& entry : fs::directory_iterator(sourcePath("systemd"))) {
    // The units name the installed paths; verify checks that those are executable.
    std::string text = readFile(entry.path());
    text = replaceAll(text, "/usr/sbin/metricpulsed", metricpulsedPath());
    text = replaceAll(text, "/usr/bin/mpctl", mpctlPath());
    argv.push_back(dir.write(entry.path().filename().string(), text).string());
  }
  ASSERT_GE(argv.size(), 6u) << "expected the daemon, aggregate service and timer units";
  const auto result = runProcess(argv);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, "");
}

TEST(SystemdUnits, BadConfigStopsTheDaemonUnitInsteadOfRestartLooping) {
  const std::string unit = readFile(sourcePath("systemd/metricpulsed.service"));
  // systemd restarts a unit whose ExecStartPre fails whatever RestartPreventExitStatus says.
  EXPECT_TRUE(values(unit, "ExecStartPre").empty())
      << "an ExecStartPre that fails would be restarted every RestartSec forever";
  ASSERT_EQ(values(unit, "Restart"), std::vector<std::string>{"on-failure"});
  std::set<std::string> prevent;
  for (const auto& line : values(unit, "RestartPreventExitStatus")) {
    std::istringstream words(line);
    for (std::string w; words >> w;) prevent.insert(w);
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
