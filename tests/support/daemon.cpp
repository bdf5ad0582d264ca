// Child-process control of metricpulsed for integration tests.
#include "support/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/http.hpp"

namespace mp::test {

DaemonProcess::DaemonProcess(DaemonOptions options)
    : options_(std::move(options)),
      httpPort_(freePort()),
      wsPort_(freePort()),
      metricsPort_(freePort()) {
  if (options_.redisUrl.empty()) options_.redisUrl = redisUrl();
  const auto secretPath = dir_.write("jwt.secret", options_.jwtSecret + "\n");
  std::ostringstream toml;
  toml << "[http]\nlisten = \"127.0.0.1:" << httpPort_ << "\"\nthreads = " << options_.httpThreads
       << "\n"
       << options_.httpToml << "\n"
       << "[websocket]\nlisten = \"127.0.0.1:" << wsPort_ << "\"\n"
       << options_.wsToml << "\n\n"
       << "[database]\nurl = \"" << options_.databaseUrl << "\"\npool_size = 4\n\n"
       << "[redis]\nurl = \"" << options_.redisUrl << "\"\ntimeout_ms = " << options_.redisTimeoutMs
       << "\n"
       << options_.redisToml << "\n"
       << "[auth]\njwt_secret_file = \"" << secretPath.string()
       << "\"\nallow_signup = " << (options_.allowSignup ? "true" : "false")
       << "\nbcrypt_cost = " << options_.bcryptCost << "\n\n"
       << "[log]\nlevel = \"debug\"\nformat = \"text\"\n\n"
       << options_.extraToml << "\n\n"
       << "[metrics]\nlisten = \"127.0.0.1:" << metricsPort_ << "\"\n";
  configPath_ = dir_.write("metricpulse.toml", toml.str());
  logPath_ = dir_.path() / "daemon.log";
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) stop(SIGKILL);
}

std::string DaemonProcess::metricsUrl() const {
  return "http://127.0.0.1:" + std::to_string(metricsPort_) + "/metrics";
}

std::string DaemonProcess::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(httpPort_);
}

std::string DaemonProcess::output() const {
  std::ifstream in(logPath_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool DaemonProcess::start(std::chrono::seconds timeout) {
  const std::string binary = metricpulsedPath();
  const std::string config = configPath_.string();
  const std::string log = logPath_.string();
  std::vector<std::string> envStrings;
  for (const auto& [k, v] : options_.env) envStrings.push_back(k + "=" + v);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    for (auto& e : envStrings) putenv(e.data());
    // The test runner may block signals; the daemon must start with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execl(binary.c_str(), binary.c_str(), "-c", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return false;
    }
    if (httpRequest("GET", baseUrl() + "/healthz", "", {}, 500).status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void DaemonProcess::sendSignal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

int DaemonProcess::waitExit(std::chrono::seconds timeout) {
  if (pid_ <= 0) return exitCode_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return exitCode_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

int DaemonProcess::stop(int signal, std::chrono::seconds timeout) {
  if (pid_ <= 0) return exitCode_;
  kill(pid_, signal);
  int code = waitExit(timeout);
  if (code == -1) {
    kill(pid_, SIGKILL);
    code = waitExit(std::chrono::seconds(5));
    exitCode_ = -1;  // a daemon that had to be killed did not stop as asked
    return -1;
  }
  return code;
}

}  // namespace mp::test
