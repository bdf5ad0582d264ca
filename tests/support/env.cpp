// Test environment helpers: throwaway databases, private redis-server, child processes.
#include "support/env.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "db/connection.hpp"
#include "redis/client.hpp"

extern char** environ;

namespace mp::test {
namespace {

std::string requiredEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    // Integration tests must never pass silently without their services.
    throw std::runtime_error(std::string(name) +
                             " is not set: run integration tests through scripts/test");
  }
  return value;
}

std::string randomSuffix() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  return std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(rd() % 100000);
}

void adminExec(const std::string& sql) {
  db::Connection conn(pgAdminUrl(), std::chrono::seconds(10));
  conn.exec(sql);
}

bool tcpConnects(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string pgAdminUrl() {
  return requiredEnv("MP_TEST_PG_URL");
}
std::string redisUrl() {
  return requiredEnv("MP_TEST_REDIS_URL");
}

std::string metricpulsedPath() {
  return MP_METRICPULSED_PATH;
}
std::string mpctlPath() {
  return MP_MPCTL_PATH;
}
std::filesystem::path sourcePath(const std::string& relative) {
  return std::filesystem::path(MP_SOURCE_DIR) / relative;
}
// The test data lives in the checkout (tests/data), so a clone tests itself with nothing beside it.
std::filesystem::path testdataPath(const std::string& relative) {
  const std::filesystem::path dir = MP_TESTDATA_DIR;
  const auto path = dir / relative;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("test data " + path.string() + " is missing from the checkout");
  }
  return path;
}

namespace {

int unboundPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

int freePort() {
  // The kernel may hand the same ephemeral port to two binds in a row once
  // the first socket is closed, so a daemon given three "free" ports could
  // get one twice. Never hand out a port twice in one test process.
  static std::mutex mutex;
  static std::set<int> given;
  std::lock_guard lock(mutex);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = unboundPort();
    if (given.insert(port).second) return port;
  }
  throw std::runtime_error("no unused loopback port found");
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mptest-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  auto file = path_ / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + file.string());
  return file;
}

TempDatabase::TempDatabase() : name_("mp_test_" + randomSuffix()) {
  adminExec("CREATE DATABASE " + name_);
  // Replace the database name in the admin URL (the path after the last '/').
  std::string admin = pgAdminUrl();
  auto query = admin.find('?');
  std::string params = query == std::string::npos ? "" : admin.substr(query);
  std::string base = admin.substr(0, query);
  auto slash = base.rfind('/');
  if (slash == std::string::npos || slash < base.find("//") + 2) {
    url_ = base + "/" + name_ + params;
  } else {
    url_ = base.substr(0, slash + 1) + name_ + params;
  }
}

TempDatabase::~TempDatabase() {
  try {
    adminExec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: %s\n", e.what());
  }
}

RedisProcess::RedisProcess() : port_(freePort()) {
  start();
}

RedisProcess::RedisProcess(std::vector<std::string> extraArgs)
    : port_(freePort()), extraArgs_(std::move(extraArgs)) {
  start();
}

void RedisProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

RedisProcess::~RedisProcess() {
  stop();
}

std::string RedisProcess::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_);
}

void RedisProcess::start() {
  if (pid_ > 0) return;
  const std::string port = std::to_string(port_);
  const std::string dir = dir_.path().string();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    std::vector<std::string> args = {
        "redis-server", "--port", port,           "--bind", "127.0.0.1",   "--dir", dir,
        "--save",       "",       "--appendonly", "yes",    "--daemonize", "no"};
    args.insert(args.end(), extraArgs_.begin(), extraArgs_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  pid_ = pid;
  // Ready means PONG: right after the port opens Redis may still answer -LOADING (AOF replay).
  redis::Client probe(redis::Url::parse(url()), std::chrono::milliseconds(500));
  for (int i = 0; i < 200; ++i) {
    if (tcpConnects(port_) && probe.ping()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("redis-server did not start on port " + port);
}

void RedisProcess::pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void RedisProcess::resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

void RedisProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);  // a paused server handles SIGTERM only once continued
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin/";

// initdb and the server refuse to run as root: run them as postgres then.
std::vector<std::string> asPostgres(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

}  // namespace

PostgresProcess::PostgresProcess() : port_(freePort()) {
  const auto data = dir_.path() / "data";
  if (geteuid() == 0) {
    std::filesystem::permissions(dir_.path(), std::filesystem::perms::all);
    runProcess({"/bin/chown", "postgres:postgres", dir_.path().string()});
  }
  auto r =
      runProcess(asPostgres({std::string(kPgBin) + "initdb", "-D", data.string(), "-A", "trust",
                             "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}));
  if (r.exitCode != 0) throw std::runtime_error("initdb failed: " + r.err);
  start();
}

PostgresProcess::PostgresProcess(StandbyOf standby) : port_(freePort()) {
  const auto data = dir_.path() / "data";
  if (geteuid() == 0) {
    std::filesystem::permissions(dir_.path(), std::filesystem::perms::all);
    runProcess({"/bin/chown", "postgres:postgres", dir_.path().string()});
  }
  auto r = runProcess(asPostgres({std::string(kPgBin) + "pg_basebackup", "-h", "127.0.0.1", "-p",
                                  std::to_string(standby.primary.port()), "-U", "postgres", "-D",
                                  data.string(), "-R", "-X", "stream", "-c", "fast", "--no-sync"}));
  if (r.exitCode != 0) throw std::runtime_error("pg_basebackup failed: " + r.err);
  start();
}

void PostgresProcess::promote() {
  auto r = runProcess(asPostgres(
      {std::string(kPgBin) + "pg_ctl", "-D", (dir_.path() / "data").string(), "-w", "promote"}));
  if (r.exitCode != 0) throw std::runtime_error("pg_ctl promote failed: " + r.err + r.out);
}

PostgresProcess::~PostgresProcess() {
  try {
    stop();
  } catch (...) {
    // Nothing useful to do in a destructor; the temp dir goes anyway.
  }
}

void PostgresProcess::pgCtl(const std::string& action) {
  const auto data = (dir_.path() / "data").string();
  const std::string opts =
      "-p " + std::to_string(port_) +
      " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir_.path().string() +
      " -c fsync=off -c max_connections=50";
  std::vector<std::string> argv = {std::string(kPgBin) + "pg_ctl", "-D", data, "-w", "-l",
                                   (dir_.path() / "log").string()};
  if (action == "start") {
    argv.insert(argv.end(), {"-o", opts, "start"});
  } else {
    argv.insert(argv.end(), {"-m", "fast", "stop"});
  }
  auto r = runProcess(asPostgres(argv));
  if (r.exitCode != 0) throw std::runtime_error("pg_ctl " + action + " failed: " + r.err + r.out);
}

void PostgresProcess::start() {
  if (running_) return;
  pgCtl("start");
  running_ = true;
}

void PostgresProcess::stop() {
  if (!running_) return;
  pgCtl("stop");
  running_ = false;
}

std::string PostgresProcess::url(const std::string& name) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

std::string PostgresProcess::createDatabase(const std::string& name) {
  db::Connection conn(url(), std::chrono::seconds(10));
  conn.exec("CREATE DATABASE " + name);
  return url(name);
}

ProcessResult runProcess(const std::vector<std::string>& argv, const std::string& input,
                         const std::map<std::string, std::string>& extraEnv,
                         std::chrono::seconds timeout) {
  int inPipe[2], outPipe[2], errPipe[2];
  if (pipe2(inPipe, O_CLOEXEC) != 0 || pipe2(outPipe, O_CLOEXEC) != 0 ||
      pipe2(errPipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos && extraEnv.count(entry.substr(0, eq)) != 0) continue;
    envStrings.push_back(entry);
  }
  for (const auto& [k, v] : extraEnv) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(inPipe[0], STDIN_FILENO);
    dup2(outPipe[1], STDOUT_FILENO);
    dup2(errPipe[1], STDERR_FILENO);
    execve(cargv[0], cargv.data(), envp.data());
    _exit(127);
  }
  close(inPipe[0]);
  close(outPipe[1]);
  close(errPipe[1]);
  signal(SIGPIPE, SIG_IGN);

  ProcessResult result;
  std::size_t written = 0;
  if (input.empty()) {
    close(inPipe[1]);
    inPipe[1] = -1;
  }
  fcntl(outPipe[0], F_SETFL, O_NONBLOCK);
  fcntl(errPipe[0], F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool outOpen = true, errOpen = true;
  std::array<char, 8192> buf{};
  while (outOpen || errOpen) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
    std::vector<pollfd> fds;
    if (outOpen) fds.push_back({outPipe[0], POLLIN, 0});
    if (errOpen) fds.push_back({errPipe[0], POLLIN, 0});
    if (inPipe[1] >= 0) fds.push_back({inPipe[1], POLLOUT, 0});
    poll(fds.data(), fds.size(), 100);
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == inPipe[1]) {
        ssize_t n = write(inPipe[1], input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 || written == input.size()) {
          close(inPipe[1]);
          inPipe[1] = -1;
        }
        continue;
      }
      ssize_t n = read(p.fd, buf.data(), buf.size());
      if (n > 0) {
        (p.fd == outPipe[0] ? result.out : result.err)
            .append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        (p.fd == outPipe[0] ? outOpen : errOpen) = false;
      }
    }
  }
  if (inPipe[1] >= 0) close(inPipe[1]);
  close(outPipe[0]);
  close(errPipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace mp::test
