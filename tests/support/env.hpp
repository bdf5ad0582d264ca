// Test environment: service addresses from scripts/test, throwaway databases, child processes.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mp::test {

/// Admin URL of the test PostgreSQL cluster (MP_TEST_PG_URL); fails the test when unset.
std::string pgAdminUrl();
/// URL of the shared test Redis (MP_TEST_REDIS_URL); fails the test when unset.
std::string redisUrl();

/// Path of the built metricpulsed and mpctl binaries.
std::string metricpulsedPath();
std::string mpctlPath();
/// Path of a file in the source tree, e.g. sourcePath("etc/metricpulse.toml").
std::filesystem::path sourcePath(const std::string& relative);
/// Path of a file in tests/data of the checkout, e.g. testdataPath("geoip/README.md").
std::filesystem::path testdataPath(const std::string& relative);

/// A TCP port on 127.0.0.1 that was free a moment ago.
int freePort();

/// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

/// An empty PostgreSQL database on the test cluster, dropped on destruction.
class TempDatabase {
 public:
  TempDatabase();
  ~TempDatabase();
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;
  const std::string& name() const { return name_; }
  /// Connection URL of this database.
  const std::string& url() const { return url_; }

 private:
  std::string name_;
  std::string url_;
};

/// A private redis-server on a free loopback port, which a test may stop and start again.
class RedisProcess {
 public:
  RedisProcess();  ///< starts it
  /// Starts it with more command-line arguments (e.g. "--replicaof", "127.0.0.1", "6379").
  explicit RedisProcess(std::vector<std::string> extraArgs);
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;
  void start();
  void stop();
  /// SIGSTOP: the port still accepts connections but nothing answers (an unreachable server).
  void pause();
  /// SIGCONT after pause().
  void resume();
  /// SIGKILL: the server dies at once, as a crashed host's would.
  void kill9();
  int port() const { return port_; }
  std::string url() const;

 private:
  TempDir dir_;
  int port_;
  int pid_ = -1;
  std::vector<std::string> extraArgs_;
};

/// A private PostgreSQL 15 cluster on a free loopback port (initdb'd once per object), which a
/// test may stop and start again; for outage tests the shared cluster cannot serve.
class PostgresProcess {
 public:
  PostgresProcess();  ///< initdb + start
  /// A streaming replica of `primary` (pg_basebackup -R), started.
  struct StandbyOf {
    const PostgresProcess& primary;
  };
  explicit PostgresProcess(StandbyOf standby);
  ~PostgresProcess();
  PostgresProcess(const PostgresProcess&) = delete;
  PostgresProcess& operator=(const PostgresProcess&) = delete;
  void start();
  /// Fast shutdown (pg_ctl -m fast), as an outage.
  void stop();
  /// Promotes a standby to a primary (pg_ctl promote, waiting until it is done).
  void promote();
  int port() const { return port_; }
  /// URL of database `name` (created by createDatabase()) on this cluster.
  std::string url(const std::string& name = "postgres") const;
  /// Creates a database and returns its URL.
  std::string createDatabase(const std::string& name);

 private:
  void pgCtl(const std::string& action);
  TempDir dir_;
  int port_;
  bool running_ = false;
};

/// What a finished child process left behind.
struct ProcessResult {
  int exitCode = -1;  ///< exit status, or 128 + signal number
  std::string out;
  std::string err;
};

/// Runs argv[0] with arguments, feeding `input` on stdin; kills it after `timeout`.
ProcessResult runProcess(const std::vector<std::string>& argv, const std::string& input = "",
                         const std::map<std::string, std::string>& extraEnv = {},
                         std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace mp::test
