// PtyProcess: openpty, a child in its own session with the terminal as controlling terminal.
#include "support/pty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>

namespace mp::test {
namespace {

using Clock = std::chrono::steady_clock;

int millisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

PtyProcess::PtyProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("PtyProcess: no program");
  if (openpty(&master_, &slave_, nullptr, nullptr, nullptr) != 0) {
    throw std::runtime_error("PtyProcess: openpty failed");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("PtyProcess: fork failed");
  if (pid_ == 0) {
    setsid();
    ioctl(slave_, TIOCSCTTY, 0);
    dup2(slave_, STDIN_FILENO);
    dup2(slave_, STDOUT_FILENO);
    dup2(slave_, STDERR_FILENO);
    close(master_);
    if (slave_ > STDERR_FILENO) close(slave_);
    // The test runner may ignore SIGINT; the child must take Ctrl-C as a user's shell would.
    signal(SIGINT, SIG_DFL);
    execv(args[0], args.data());
    _exit(127);
  }
}

PtyProcess::~PtyProcess() {
  if (pid_ > 0 && exitCode_ < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (master_ >= 0) close(master_);
  if (slave_ >= 0) close(slave_);
}

void PtyProcess::drain(std::chrono::milliseconds timeout) {
  pollfd p{master_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return;
  char buf[4096];
  const ssize_t n = read(master_, buf, sizeof buf);
  if (n > 0) output_.append(buf, static_cast<std::size_t>(n));
}

bool PtyProcess::waitFor(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (output_.find(text) == std::string::npos) {
    if (Clock::now() >= deadline) return false;
    drain(std::chrono::milliseconds(std::min(millisLeft(deadline), 100)));
  }
  return true;
}

void PtyProcess::write(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(master_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("PtyProcess: cannot write to the terminal");
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

int PtyProcess::wait(std::chrono::milliseconds timeout) {
  if (exitCode_ >= 0) return exitCode_;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      drain(std::chrono::milliseconds(50));
      return exitCode_;
    }
    if (Clock::now() >= deadline) return -1;
    drain(std::chrono::milliseconds(20));  // keep reading so the child never blocks on output
  }
}

bool PtyProcess::echoing() const {
  termios modes{};
  if (tcgetattr(slave_, &modes) != 0) throw std::runtime_error("PtyProcess: tcgetattr failed");
  return (modes.c_lflag & ECHO) != 0;
}

}  // namespace mp::test
