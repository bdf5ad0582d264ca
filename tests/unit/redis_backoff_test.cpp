// The back-off after Redis time-outs: a server that never answers costs one time-out, then calls
// fail at once until a period has passed; an answer ends it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "redis/backoff.hpp"
#include "redis/client.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

using namespace std::chrono_literals;

// Polls until `backoff` lets a call through again; false when it did not within `deadline`.
bool waitForAdmission(Backoff& backoff, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (backoff.admit()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

TEST(RedisBackoff, ATimeoutMakesCallsFailFastUntilOneProbeSucceeds) {
  Backoff backoff(50ms, 400ms);
  EXPECT_TRUE(backoff.admit());
  backoff.report(false);  // answers cost nothing
  EXPECT_TRUE(backoff.admit());
  EXPECT_EQ(backoff.remaining(), 0ms);

  backoff.report(true);
  EXPECT_EQ(backoff.timeouts(), 1u);
  EXPECT_FALSE(backoff.admit());
  EXPECT_FALSE(backoff.admit());
  EXPECT_EQ(backoff.shortCircuited(), 2u);
  EXPECT_GT(backoff.remaining(), 0ms);

  // The period ends: one caller probes, the others still fail fast meanwhile.
  ASSERT_TRUE(waitForAdmission(backoff, 5000ms));
  EXPECT_FALSE(backoff.admit());
  backoff.report(true);  // the probe timed out too: a longer period
  EXPECT_GT(backoff.remaining(), 50ms);
  EXPECT_LE(backoff.remaining(), 100ms);

  ASSERT_TRUE(waitForAdmission(backoff, 5000ms));
  backoff.report(false);  // the probe got an answer: over
  EXPECT_TRUE(backoff.admit());
  EXPECT_TRUE(backoff.admit());
  EXPECT_EQ(backoff.remaining(), 0ms);
}

TEST(RedisBackoff, PeriodsDoubleUpToTheCap) {
  Backoff backoff(100ms, 300ms);
  backoff.report(true);
  EXPECT_LE(backoff.remaining(), 100ms);
  backoff.report(true);
  EXPECT_GT(backoff.remaining(), 100ms);
  EXPECT_LE(backoff.remaining(), 200ms);
  backoff.report(true);
  EXPECT_GT(backoff.remaining(), 200ms);
  EXPECT_LE(backoff.remaining(), 300ms);
  backoff.report(true);
  EXPECT_LE(backoff.remaining(), 300ms);
  EXPECT_EQ(backoff.timeouts(), 4u);
}

// A TCP listener that the kernel completes handshakes for but that never reads or answers: what
// a frozen (SIGSTOPped) redis-server looks like to a client.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(RedisBackoff, ClientsSharingABackoffPayOneTimeoutForAnUnansweringServer) {
  SilentListener silent;
  const Url url = Url::parse("redis://127.0.0.1:" + std::to_string(silent.port()));
  auto backoff = std::make_shared<Backoff>(std::chrono::seconds(30), std::chrono::seconds(60));
  Client first(url, 200ms, Retry::kNever, backoff);
  Client second(url, 200ms, Retry::kNever, backoff);
  EXPECT_THROW(first.command({"SET", "k", "v"}), RedisError);
  EXPECT_EQ(backoff->timeouts(), 1u);
  // Every further call, on either client, fails without waiting for the server.
  for (int i = 0; i < 20; ++i) {
    EXPECT_THROW(second.command({"GET", "k"}), RedisError);
    EXPECT_THROW(first.pipeline({{"GET", "k"}, {"GET", "j"}}), RedisError);
    EXPECT_FALSE(second.ping());
  }
  EXPECT_EQ(backoff->timeouts(), 1u);
  EXPECT_EQ(backoff->shortCircuited(), 60u);
  EXPECT_NE(second.lastError().find("timed out recently"), std::string::npos) << second.lastError();
}

TEST(RedisBackoff, ARefusedConnectionDoesNotBackOff) {
  // A port nothing listens on: refused at once, and worth trying again at once.
  int port = 0;
  {
    SilentListener taken;
    port = taken.port();
  }
  auto backoff = std::make_shared<Backoff>();
  Client client(Url::parse("redis://127.0.0.1:" + std::to_string(port)), 200ms, Retry::kNever,
                backoff);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(client.ping());
  EXPECT_EQ(backoff->timeouts(), 0u);
  EXPECT_EQ(backoff->shortCircuited(), 0u);
}

}  // namespace
}  // namespace mp::redis
