// The HTTP listener's own transport: answers finished on other threads reach their connection,
// and only theirs; connections past their timeouts are answered 408 or closed, as Pistache's
// endpoint does it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/outbox.hpp"
#include "http/response.hpp"
#include "transport.hpp"

namespace mp::daemon {
namespace {

namespace Http = Pistache::Http;
using namespace std::chrono_literals;

std::string okResponse(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// n bytes that tell their places apart: a lost, repeated or reordered piece shows.
std::string bigBody(std::size_t size) {
  std::string body;
  body.reserve(size + 16);
  for (std::size_t i = 0; body.size() < size; ++i) body += std::to_string(i) + ",";
  body.resize(size);
  return body;
}

// GET /later/<id>: answered "later <id>" 100 ms afterwards from another thread, through the
// worker's outbox (the peer kept alive meanwhile, as an answer in flight may keep it).
// GET /big/<n>: answered a body of n bytes the same way (more than a socket takes at once).
// GET /now: answered "now" at once by Pistache's own writer.
// POST /size: answered the size of the body it was given.
// GET /block: answered "now" after holding its worker thread for 300 ms.
class DeferringHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(DeferringHandler)

  void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
    const std::string path = request.resource();
    if (path.rfind("/later/", 0) == 0) {
      std::shared_ptr<http::Outbox> outbox = http::currentOutbox();
      ASSERT_NE(outbox, nullptr);
      std::shared_ptr<Pistache::Tcp::Peer> peer = response.peer();
      std::thread([outbox, peer, id = path.substr(7)] {
        std::this_thread::sleep_for(100ms);
        outbox->post(peer, okResponse("later " + id));
      }).detach();
      return;
    }
    if (path.rfind("/big/", 0) == 0) {
      std::shared_ptr<http::Outbox> outbox = http::currentOutbox();
      ASSERT_NE(outbox, nullptr);
      std::shared_ptr<Pistache::Tcp::Peer> peer = response.peer();
      std::thread([outbox, peer, size = std::stoul(path.substr(5))] {
        std::this_thread::sleep_for(100ms);
        outbox->post(peer, okResponse(bigBody(size)));
      }).detach();
      return;
    }
    if (path == "/block") std::this_thread::sleep_for(300ms);
    if (path == "/size") {
      response.send(Http::Code::Ok, std::to_string(request.body().size()));
      return;
    }
    response.send(Http::Code::Ok, "now");
  }
};

class HttpTransportTest : public ::testing::Test {
 protected:
  void start(HttpTimeouts timeouts = {}, int threads = 2) {
    listener_ = std::make_unique<HttpListener>(
        Pistache::Address("127.0.0.1", Pistache::Port(static_cast<std::uint16_t>(0))));
    HttpListenerOptions options;
    options.threads = threads;
    options.maxRequestSize = 1024 * 1024;
    options.timeouts = timeouts;
    listener_->init(options, Http::make_handler<DeferringHandler>());
    listener_->serveThreaded();
    port_ = static_cast<std::uint16_t>(listener_->getPort());
  }
  void TearDown() override {
    if (listener_) listener_->shutdown();
    // Answers still in flight hold only their outbox, never the listener.
    std::this_thread::sleep_for(150ms);
  }

  int connectToServer() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }

  static void sendAll(int fd, const std::string& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  static std::string get(const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
  }

  // One whole response (head and Content-Length body), or what came of it within `wait`.
  static std::string readResponse(int fd, std::chrono::milliseconds wait) {
    std::string got;
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const std::size_t head = got.find("\r\n\r\n");
      if (head != std::string::npos) {
        const std::size_t at = got.find("Content-Length: ");
        const std::size_t length = at == std::string::npos ? 0 : std::stoul(got.substr(at + 16));
        if (got.size() >= head + 4 + length) return got;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return got;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return got + "<closed>";
      got.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Everything that arrives within `wait` (until the peer closes); "<closed>" is appended when
  // it did.
  static std::string readFor(int fd, std::chrono::milliseconds wait) {
    std::string got;
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return got;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return got;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return got + "<closed>";
      got.append(buf, static_cast<std::size_t>(n));
    }
  }

  std::unique_ptr<HttpListener> listener_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpTransportTest, AnAnswerPostedFromAnotherThreadReachesItsConnection) {
  start();
  const int fd = connectToServer();
  sendAll(fd, get("/later/1"));
  EXPECT_EQ(readResponse(fd, 2s), okResponse("later 1"));
  // The connection goes on serving after it.
  sendAll(fd, get("/now"));
  const std::string now = readResponse(fd, 2s);
  EXPECT_NE(now.find("\r\n\r\nnow"), std::string::npos) << now;
  ::close(fd);
}

TEST_F(HttpTransportTest, ManyConnectionsEachGetTheirOwnAnswer) {
  start();
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) {
    fds.push_back(connectToServer());
    sendAll(fds.back(), get("/later/" + std::to_string(i)));
  }
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(readResponse(fds[i], 2s), okResponse("later " + std::to_string(i)))
        << "connection " << i;
    ::close(fds[i]);
  }
}

TEST_F(HttpTransportTest, AnAnswerForAClosedConnectionReachesNoOther) {
  start();
  for (int round = 0; round < 15; ++round) {
    // The client leaves before its answer: reset, so the server frees the descriptor at once,
    // and the next connection is likely to be given the same number.
    const int gone = connectToServer();
    sendAll(gone, get("/later/gone"));
    std::this_thread::sleep_for(10ms);
    linger reset{1, 0};
    ::setsockopt(gone, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(gone);
    std::this_thread::sleep_for(10ms);
    const int next = connectToServer();
    sendAll(next, get("/now"));
    const std::string now = readResponse(next, 2s);
    EXPECT_NE(now.find("\r\n\r\nnow"), std::string::npos) << now;
    // The closed connection's answer is posted 100 ms after its request.
    const std::string more = readFor(next, 150ms);
    EXPECT_EQ(more, "") << "round " << round << ": another connection's answer arrived";
    ::close(next);
  }
}

TEST_F(HttpTransportTest, AHalfSentRequestIsAnswered408AndClosed) {
  HttpTimeouts timeouts;
  timeouts.header = 300ms;
  timeouts.body = 300ms;
  start(timeouts);
  const int fd = connectToServer();
  sendAll(fd, "GET /now HTTP/1.1\r\nHost: x\r\n");
  const std::string got = readFor(fd, 3s);
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("<closed>"), std::string::npos) << got;
  ::close(fd);
}

TEST_F(HttpTransportTest, AnIdleConnectionIsClosedAfterTheKeepAliveTimeout) {
  HttpTimeouts timeouts;
  timeouts.keepalive = 300ms;
  start(timeouts);
  const int fd = connectToServer();
  sendAll(fd, get("/now"));
  const std::string got = readFor(fd, 3s);
  EXPECT_NE(got.find("\r\n\r\nnow"), std::string::npos) << got;
  EXPECT_NE(got.find("<closed>"), std::string::npos) << "closed once idle: " << got;
  ::close(fd);
}

// The transport reads a socket once per arrival (edge-triggered): what comes later must wake it
// again, what does not fit one read must still be read whole, and a close must be seen at once.
TEST_F(HttpTransportTest, ARequestSentInPiecesIsAnswered) {
  start();
  const int fd = connectToServer();
  const std::string request = get("/now");
  for (std::size_t at = 0; at < request.size(); at += 7) {
    sendAll(fd, request.substr(at, 7));
    std::this_thread::sleep_for(5ms);
  }
  const std::string got = readResponse(fd, 2s);
  EXPECT_NE(got.find("\r\n\r\nnow"), std::string::npos) << got;
  ::close(fd);
}

TEST_F(HttpTransportTest, ARequestLargerThanOneReadArrivesWhole) {
  start();
  const int fd = connectToServer();
  for (std::size_t size :
       {std::size_t{16 * 1024}, std::size_t{16 * 1024 - 1}, std::size_t{300000}}) {
    const std::string body(size, 'x');
    sendAll(fd, "POST /size HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: " +
                    std::to_string(size) + "\r\n\r\n" + body);
    const std::string got = readResponse(fd, 2s);
    EXPECT_NE(got.find("\r\n\r\n" + std::to_string(size)), std::string::npos) << got;
  }
  ::close(fd);
}

TEST_F(HttpTransportTest, AClientsCloseIsSeenAtOnce) {
  start({}, 1);  // keep-alive timeout: Pistache's default, far longer than this test waits
  // Closed after its answer: its own edge.
  const int fd = connectToServer();
  sendAll(fd, get("/now"));
  const std::string got = readResponse(fd, 2s);
  EXPECT_NE(got.find("\r\n\r\nnow"), std::string::npos) << got;
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(readFor(fd, 1s), "<closed>");
  ::close(fd);
  // Closed right behind a part of a request (nothing to answer, so nothing else wakes the worker
  // for that socket), while the one worker is busy: one edge for both.
  const int busy = connectToServer();
  sendAll(busy, get("/block"));
  std::this_thread::sleep_for(50ms);
  const int quick = connectToServer();
  sendAll(quick, "GET /now HTTP/1.1\r\nHo");
  ::shutdown(quick, SHUT_WR);
  EXPECT_EQ(readFor(quick, 1500ms), "<closed>");
  ::close(quick);
  ::close(busy);
}

// An answer posted for a client that is not reading fills the socket: what the socket does not
// take goes to Pistache's own queue, and arrives whole and in order once the client reads.
TEST_F(HttpTransportTest, AnAnswerLargerThanTheSocketTakesArrivesWholeOnceTheClientReads) {
  start();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::size_t size = 8 * 1024 * 1024;
  sendAll(fd, get("/big/" + std::to_string(size)));
  // Posted after 100 ms; not read before 400 ms.
  std::this_thread::sleep_for(400ms);
  const std::string expected = okResponse(bigBody(size));
  std::string got;
  got.reserve(expected.size());
  const auto until = std::chrono::steady_clock::now() + 10s;
  std::vector<char> buf(64 * 1024);
  while (got.size() < expected.size() && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    got.append(buf.data(), static_cast<std::size_t>(n));
  }
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the answer arrived whole but not as sent";
  // The connection goes on serving after it.
  sendAll(fd, get("/now"));
  const std::string now = readResponse(fd, 2s);
  EXPECT_NE(now.find("\r\n\r\nnow"), std::string::npos) << now;
  ::close(fd);
}

TEST(JsonResponseBytes, AreWhatPistachesWriterSends) {
  EXPECT_EQ(http::jsonResponseBytes(Http::Version::Http11, true, Http::Code::Accepted, {}, true,
                                    R"({"ok":true})"),
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json; charset=utf-8\r\n"
            "Access-Control-Allow-Origin: *\r\nConnection: Keep-Alive\r\nContent-Length: 11\r\n"
            "\r\n{\"ok\":true}");
  EXPECT_EQ(http::jsonResponseBytes(Http::Version::Http10, false, Http::Code::Too_Many_Requests,
                                    {{"Retry-After", "7"}}, false, "{}"),
            "HTTP/1.0 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\n"
            "Retry-After: 7\r\nConnection: Close\r\nContent-Length: 2\r\n\r\n{}");
}

}  // namespace
}  // namespace mp::daemon
