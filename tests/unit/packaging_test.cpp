// The packaging files agree with the code and with each other: the Debian package's version and
// build dependencies, the paths the units and the container use, the container's user, health
// check and secret, compose's services and variables, and the nginx example's upstream ports.
// (tests/package/deb_test.sh builds and installs the package; FleetBehindNginx runs the nginx
// example; docker cannot run here, so the container files are checked by reading them.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "support/env.hpp"

namespace mp::test {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

std::string readFile(const std::string& relative) {
  std::ifstream in(sourcePath(relative));
  EXPECT_TRUE(in) << "cannot open " << relative;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string firstMatch(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return "";
  return m[1].str();
}

// The packages of one deb822 relationship field (Build-Depends), without versions or
// alternatives after the first.
std::set<std::string> controlField(const std::string& control, const std::string& field) {
  std::set<std::string> out;
  bool inField = false;
  std::string value;
  for (const auto& line : lines(control)) {
    if (line.rfind(field + ":", 0) == 0) {
      inField = true;
      value += line.substr(field.size() + 1);
    } else if (inField && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      value += line;
    } else {
      inField = false;
    }
  }
  std::istringstream in(value);
  for (std::string item; std::getline(in, item, ',');) {
    item = item.substr(0, item.find('|'));
    item = item.substr(0, item.find('('));
    item.erase(std::remove_if(item.begin(), item.end(), ::isspace), item.end());
    if (!item.empty()) out.insert(item);
  }
  return out;
}

// MP_PACKAGES of scripts/lib/deps.sh: what the scripts install to build and run.
std::set<std::string> scriptPackages() {
  const auto text = readFile("scripts/lib/deps.sh");
  const auto begin = text.find("MP_PACKAGES=(");
  const auto end = text.find("\n)", begin);
  EXPECT_NE(begin, std::string::npos);
  std::set<std::string> out;
  for (const auto& line : lines(text.substr(begin, end - begin))) {
    const auto code = line.substr(0, line.find('#'));
    std::istringstream in(code);
    for (std::string word; in >> word;) {
      if (word.find('=') == std::string::npos) out.insert(word);
    }
  }
  return out;
}

TEST(Packaging, ChangelogVersionIsTheProjectVersion) {
  const auto project =
      firstMatch(readFile("CMakeLists.txt"), R"(project\(metricpulse VERSION ([0-9.]+))");
  const auto changelog =
      firstMatch(readFile("packaging/debian/changelog"), R"(^metricpulse \(([^)]+)\))");
  ASSERT_FALSE(project.empty());
  EXPECT_EQ(changelog, project) << "add a packaging/debian/changelog entry for " << project;
}

TEST(Packaging, BuildDependsAreWhatTheScriptsInstallToBuild) {
  const auto buildDepends = controlField(readFile("packaging/debian/control"), "Build-Depends");
  const auto installed = scriptPackages();
  ASSERT_FALSE(buildDepends.empty());
  ASSERT_GT(installed.size(), 20U);
  // Every library and data package the build uses is a build dependency of the package...
  const std::set<std::string> testOnly = {"libgtest-dev", "libgmock-dev", "libclang-rt-dev"};
  for (const auto& name : installed) {
    const bool buildInput = name.ends_with("-dev") || name == "uap-core" ||
                            name == "ruby-referer-parser" || name == "cmake" ||
                            name == "ninja-build" || name == "pkg-config";
    if (buildInput && !testOnly.contains(name)) {
      EXPECT_THAT(buildDepends, Contains(name)) << name << " is missing from Build-Depends";
    }
  }
  // ... and every build dependency is installed by the scripts, so scripts/package finds them.
  for (const auto& name : buildDepends) {
    if (name == "debhelper-compat") continue;
    EXPECT_THAT(installed, Contains(name)) << name << " is not in scripts/lib/deps.sh";
  }
}

TEST(Packaging, TheRuntimeDataPackageIsADependency) {
  // The user-agent rules are read at run time from /usr/share/uap-core (not linked: no shlibs).
  const auto depends = controlField(readFile("packaging/debian/control"), "Depends");
  EXPECT_THAT(depends, Contains("uap-core"));
  EXPECT_THAT(depends, Contains("${shlibs:Depends}"));
  EXPECT_THAT(depends, Contains("${misc:Depends}"));
}

TEST(Packaging, SystemUserIsTheOneTheUnitsAndTheContainerRunAs) {
  const auto sysusers = readFile("packaging/debian/metricpulse.sysusers");
  const auto user = firstMatch(sysusers, R"((?:^|\n)u\s+(\S+))");
  ASSERT_EQ(user, "metricpulse");
  EXPECT_THAT(sysusers, HasSubstr("/var/lib/metricpulse"));
  EXPECT_THAT(readFile("systemd/metricpulsed.service"), HasSubstr("\nUser=" + user + "\n"));
  EXPECT_THAT(readFile("packaging/debian/metricpulse.tmpfiles"),
              HasSubstr("/var/lib/metricpulse 0750 " + user + " " + user));
  EXPECT_THAT(readFile("packaging/debian/metricpulse.postinst"), HasSubstr("root:" + user));

  const auto dockerfile = readFile("packaging/Dockerfile");
  std::string lastUser;
  for (const auto& line : lines(dockerfile)) {
    if (line.rfind("USER ", 0) == 0) lastUser = line.substr(5);
  }
  EXPECT_EQ(lastUser, user) << "the container must not run as root";
}

TEST(Packaging, TheDebianRulesInstallWhereTheUnitsLook) {
  const auto rules = readFile("packaging/debian/rules");
  EXPECT_THAT(rules, HasSubstr("-DMP_SYSCONFDIR=/etc/metricpulse"));
  EXPECT_THAT(rules, HasSubstr("-DMP_BUILD_TESTS=OFF"));
  // The daemon is not enabled or started by the package: it needs a migrated database first.
  EXPECT_THAT(rules, HasSubstr("dh_installsystemd --no-enable --no-start"));
  const auto unit = readFile("systemd/metricpulsed.service");
  EXPECT_THAT(unit,
              HasSubstr("ExecStart=/usr/sbin/metricpulsed -c /etc/metricpulse/metricpulse.toml"));
  const auto cmake = readFile("CMakeLists.txt");
  // Debian 12 keeps units in /lib/systemd/system (the /usr-merge moratorium).
  EXPECT_THAT(cmake, HasSubstr("DESTINATION ${MP_SYSTEMD_UNIT_DIR}"));
  EXPECT_THAT(rules, HasSubstr("-DMP_SYSTEMD_UNIT_DIR=/lib/systemd/system"));
  EXPECT_THAT(readFile("daemon/CMakeLists.txt"), HasSubstr("DESTINATION ${CMAKE_INSTALL_SBINDIR}"));
  EXPECT_THAT(readFile("cli/CMakeLists.txt"), HasSubstr("DESTINATION ${CMAKE_INSTALL_BINDIR}"));
}

TEST(Packaging, PurgeRemovesWhatPostinstMade) {
  const auto postinst = readFile("packaging/debian/metricpulse.postinst");
  const auto postrm = readFile("packaging/debian/metricpulse.postrm");
  const auto secret = firstMatch(postinst, R"(secret=(\S+))");
  ASSERT_EQ(secret, "/etc/metricpulse/jwt.secret");
  // The secret is the default the configuration reads.
  EXPECT_THAT(readFile("etc/metricpulse.toml"), HasSubstr("jwt_secret_file = \"" + secret + "\""));
  EXPECT_THAT(postinst, HasSubstr("chmod 0640"));
  EXPECT_THAT(postinst, HasSubstr("#DEBHELPER#"));
  EXPECT_THAT(postrm, HasSubstr("\"$1\" = \"purge\""));
  EXPECT_THAT(postrm, HasSubstr("rm -f " + secret));
  EXPECT_THAT(postrm, HasSubstr("rm -rf /var/lib/metricpulse"));
}

TEST(Packaging, DockerfileBuildsThePackageOnBookwormAndChecksHealth) {
  const auto dockerfile = readFile("packaging/Dockerfile");
  int stages = 0;
  for (const auto& line : lines(dockerfile)) {
    if (line.rfind("FROM ", 0) != 0) continue;
    ++stages;
    EXPECT_THAT(line, ::testing::StartsWith("FROM debian:bookworm")) << line;
  }
  EXPECT_EQ(stages, 2) << "a build stage and a runtime stage";
  EXPECT_THAT(dockerfile, HasSubstr("cp -a packaging/debian debian"));
  EXPECT_THAT(dockerfile, HasSubstr("dpkg-buildpackage -b"));
  EXPECT_THAT(dockerfile, HasSubstr("/tmp/deb/metricpulse_*.deb"));
  const auto health = firstMatch(dockerfile, R"(HEALTHCHECK[^\n]*\\\n\s*CMD ([^\n]+))");
  EXPECT_THAT(health, HasSubstr("http://127.0.0.1:8080/healthz"));
  EXPECT_THAT(dockerfile, HasSubstr("ENTRYPOINT [\"/usr/sbin/metricpulsed\"]"));
  EXPECT_THAT(dockerfile, HasSubstr("MP_HTTP_LISTEN=0.0.0.0:8080"));
  // .dockerignore keeps local build output and services out of the build context.
  const auto ignore = readFile(".dockerignore");
  for (const auto* path : {"build", "var", ".git", "tests/e2e/node_modules"}) {
    EXPECT_THAT(lines(ignore), Contains(path));
  }
}

TEST(Packaging, EveryVariableTheContainerFilesSetIsAConfigKeysVariable) {
  std::set<std::string> known;
  for (const auto& key : config::schema()) {
    if (!key.env.empty()) known.insert(std::string(key.env));
  }
  std::set<std::string> used;
  const std::regex var(R"(\b(MP_[A-Z_]+)[=:])");
  for (const auto* file : {"packaging/Dockerfile", "packaging/compose.yaml"}) {
    const auto text = readFile(file);
    for (std::sregex_iterator it(text.begin(), text.end(), var), end; it != end; ++it) {
      used.insert((*it)[1].str());
    }
  }
  ASSERT_GE(used.size(), 5U);
  for (const auto& name : used) EXPECT_THAT(known, Contains(name)) << name << " is not read";
}

TEST(Packaging, ComposeRunsPostgresRedisAMigrationAndTheDaemon) {
  const YAML::Node compose = YAML::LoadFile(sourcePath("packaging/compose.yaml").string());
  const auto services = compose["services"];
  ASSERT_TRUE(services.IsMap());
  for (const auto* name : {"postgres", "redis", "migrate", "metricpulsed"}) {
    ASSERT_TRUE(services[name]) << "no service " << name;
  }
  // Redis keeps the ingest queue across restarts.
  const auto redisCommand = services["redis"]["command"].as<std::vector<std::string>>();
  const auto appendonly = std::find(redisCommand.begin(), redisCommand.end(), "--appendonly");
  ASSERT_NE(appendonly, redisCommand.end());
  EXPECT_EQ(*(appendonly + 1), "yes");

  const auto migrate = services["migrate"];
  EXPECT_EQ(migrate["entrypoint"].as<std::vector<std::string>>(),
            std::vector<std::string>{"/usr/bin/mpctl"});
  EXPECT_EQ(migrate["command"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"db", "migrate"}));
  EXPECT_EQ(migrate["restart"].as<std::string>(), "no");
  EXPECT_EQ(migrate["build"]["dockerfile"].as<std::string>(), "packaging/Dockerfile");
  EXPECT_EQ(migrate["depends_on"]["postgres"]["condition"].as<std::string>(), "service_healthy");

  const auto daemon = services["metricpulsed"];
  EXPECT_EQ(daemon["image"].as<std::string>(), migrate["image"].as<std::string>());
  EXPECT_EQ(daemon["depends_on"]["migrate"]["condition"].as<std::string>(),
            "service_completed_successfully");
  const auto env = daemon["environment"];
  EXPECT_THAT(env["MP_DATABASE_URL"].as<std::string>(), HasSubstr("@postgres:5432/"));
  EXPECT_EQ(env["MP_REDIS_URL"].as<std::string>(), "redis://redis:6379");
  const auto pg = services["postgres"]["environment"];
  EXPECT_THAT(env["MP_DATABASE_URL"].as<std::string>(),
              HasSubstr(pg["POSTGRES_USER"].as<std::string>() + ":" +
                        pg["POSTGRES_PASSWORD"].as<std::string>() + "@"));
  // The secret lands where the image's MP_JWT_SECRET_FILE points.
  EXPECT_EQ(daemon["secrets"][0].as<std::string>(), "jwt_secret");
  EXPECT_TRUE(compose["secrets"]["jwt_secret"]["file"]);
  EXPECT_THAT(readFile("packaging/Dockerfile"),
              HasSubstr("MP_JWT_SECRET_FILE=/run/secrets/jwt_secret"));
}

TEST(Packaging, NginxExampleProxiesToTheDefaultPortsWithKeepAlive) {
  const auto conf = readFile("packaging/nginx/metricpulse.conf");
  std::string httpListen, wsListen;
  for (const auto& key : config::schema()) {
    if (key.fullName() == "http.listen") httpListen = std::string(key.defaultValue.text);
    if (key.fullName() == "websocket.listen") wsListen = std::string(key.defaultValue.text);
  }
  EXPECT_THAT(conf, HasSubstr("server " + httpListen + " "));
  EXPECT_THAT(conf, HasSubstr("server " + wsListen + " "));
  // Pistache closes connections that do not ask for keep-alive (docs/operations.md).
  EXPECT_THAT(conf, HasSubstr("proxy_http_version 1.1;"));
  EXPECT_THAT(conf, HasSubstr("proxy_set_header Connection \"\";"));
  EXPECT_THAT(conf, HasSubstr("keepalive "));
  EXPECT_THAT(conf, HasSubstr("proxy_set_header Upgrade $http_upgrade;"));
  EXPECT_THAT(conf, HasSubstr("proxy_set_header X-Forwarded-For $remote_addr;"));
}

// `cmake --install` over an installation keeps the administrator's configuration.
TEST(Packaging, CmakeInstallKeepsAnExistingConfiguration) {
  TempDir dest;
  const auto install = "DESTDIR='" + dest.path().string() + "' cmake --install '" +
                       std::string(MP_BINARY_DIR) + "' --prefix /usr >/dev/null 2>&1";
  ASSERT_EQ(std::system(install.c_str()), 0) << install;
  const auto etc = dest.path() / "etc/metricpulse";
  ASSERT_TRUE(std::filesystem::exists(etc / "metricpulse.toml"));
  EXPECT_FALSE(std::filesystem::exists(etc / "metricpulse.toml.dist"));
  EXPECT_TRUE(std::filesystem::exists(dest.path() / "usr/sbin/metricpulsed"));
  {
    std::ofstream edited(etc / "metricpulse.toml");
    edited << "# the administrator's own\n";
  }
  ASSERT_EQ(std::system(install.c_str()), 0) << install;
  std::ifstream kept(etc / "metricpulse.toml");
  std::string first;
  std::getline(kept, first);
  EXPECT_EQ(first, "# the administrator's own");
  EXPECT_TRUE(std::filesystem::exists(etc / "metricpulse.toml.dist"));
}

}  // namespace
}  // namespace mp::test
