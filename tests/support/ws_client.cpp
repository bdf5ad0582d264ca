// WsClient: a blocking socket with poll() timeouts, the upgrade request and the codec.
#include "support/ws_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mp::test {

namespace {
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}
}  // namespace

WsClient::~WsClient() {
  if (fd_ >= 0) ::close(fd_);
}

int WsClient::connect(int port, const std::string& target,
                      const std::vector<std::string>& headers) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  if (receiveBuffer_ > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receiveBuffer_, sizeof receiveBuffer_);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
  }
  std::string request = "GET " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  for (const auto& h : headers) request += h + "\r\n";
  request += "\r\n";
  sendRaw(request);

  // Read the answer's head, and its body when it says how long that is.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::size_t end = std::string::npos;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!readMore(left(deadline))) return 0;
  }
  head_ = pending_.substr(0, end + 4);
  pending_.erase(0, end + 4);
  int status = 0;
  if (head_.size() > 12) status = std::atoi(head_.substr(9, 3).c_str());
  if (status != 101) {
    while (!closed_ && readMore(left(deadline))) {
    }
    body_ = pending_;
    pending_.clear();
  } else if (!pending_.empty()) {
    for (auto& e : parser_.feed(pending_)) events_.push_back(std::move(e));
    pending_.clear();
  }
  return status;
}

void WsClient::sendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;  // the server hung up; what it said is read by next()
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void WsClient::sendFrame(ws::Opcode opcode, std::string_view payload, bool fin) {
  sendRaw(ws::encodeClientFrame(opcode, payload, ws::randomMaskKey(), fin));
}

void WsClient::sendText(std::string_view text) {
  sendFrame(ws::Opcode::Text, text);
}

bool WsClient::readMore(std::chrono::milliseconds timeout) {
  if (closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  pending_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<ws::Event> WsClient::next(std::chrono::milliseconds timeout, bool answerPings) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    while (!events_.empty()) {
      ws::Event e = std::move(events_.front());
      events_.erase(events_.begin());
      if (answerPings && e.type == ws::Event::Type::Ping) {
        sendFrame(ws::Opcode::Pong, e.payload);
        continue;
      }
      return e;
    }
    if (parser_.finished()) return std::nullopt;
    if (!readMore(left(deadline))) return std::nullopt;
    for (auto& e : parser_.feed(pending_)) events_.push_back(std::move(e));
    pending_.clear();
  }
}

std::optional<nlohmann::json> WsClient::nextOfType(const std::string& type,
                                                   std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (auto e = next(left(deadline))) {
    if (e->type != ws::Event::Type::Text) continue;
    auto message = nlohmann::json::parse(e->payload, nullptr, false);
    if (message.is_object() && message.value("type", "") == type) return message;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> WsClient::waitClose(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (auto e = next(left(deadline))) {
    if (e->type == ws::Event::Type::Close) return e->code;
  }
  return std::nullopt;
}

bool WsClient::waitEnd(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_) {
    if (!readMore(left(deadline)) && !closed_) return false;
    pending_.clear();
  }
  return true;
}

}  // namespace mp::test
