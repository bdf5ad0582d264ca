// The watchdog's liveness probe (daemon/probe.hpp): a server that answers any status line is
// alive; one that accepts and never answers, answers something else, or does not listen is not,
// and the probe returns within its timeout.
#include "probe.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/env.hpp"

namespace mp::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A listening socket on 127.0.0.1 that answers each connection with `reply` (after reading its
// request), or, with no reply, accepts and then says nothing until it is destroyed.
class FakeServer {
 public:
  explicit FakeServer(std::string reply, bool acceptAtAll = true)
      : reply_(std::move(reply)), port_(test::freePort()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    if (acceptAtAll) thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      char buffer[1024];
      const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
      if (n > 0 && !reply_.empty()) {
        ::send(client, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        ::close(client);
        continue;
      }
      // Silent: hold the connection until the test ends.
      while (!stop_) std::this_thread::sleep_for(10ms);
      ::close(client);
    }
  }

  std::string reply_;
  int port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(LivenessProbe, AnyStatusLineMeansAlive) {
  FakeServer ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(answersHttp("127.0.0.1", ok.port(), "/healthz", 1000ms));
  FakeServer notFound("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(answersHttp("127.0.0.1", notFound.port(), "/healthz", 1000ms));
}

TEST(LivenessProbe, AWildcardListenAddressIsProbedOnLoopback) {
  FakeServer ok("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_TRUE(answersHttp("0.0.0.0", ok.port(), "/healthz", 1000ms));
  EXPECT_TRUE(answersHttp("", ok.port(), "/healthz", 1000ms));
}

TEST(LivenessProbe, SilenceIsNotAliveAndTheProbeKeepsToItsTimeout) {
  for (bool acceptAtAll : {true, false}) {
    // Accepted by a thread that never answers, or left in the kernel's backlog.
    FakeServer silent("", acceptAtAll);
    const auto started = Clock::now();
    EXPECT_FALSE(answersHttp("127.0.0.1", silent.port(), "/healthz", 200ms));
    const auto took = Clock::now() - started;
    EXPECT_GE(took, 190ms);
    EXPECT_LT(took, 1000ms);
  }
}

TEST(LivenessProbe, SomethingElseOrNothingListeningIsNotAlive) {
  FakeServer other("SSH-2.0-OpenSSH_9.2\r\n");
  EXPECT_FALSE(answersHttp("127.0.0.1", other.port(), "/healthz", 500ms));
  const auto started = Clock::now();
  EXPECT_FALSE(answersHttp("127.0.0.1", test::freePort(), "/healthz", 2000ms));
  EXPECT_LT(Clock::now() - started, 1000ms) << "a refused connection is known at once";
}

}  // namespace
}  // namespace mp::daemon
