// One non-blocking socket per attempt, every step bounded by one deadline.
#include "probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mp::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, for poll(); 0 once it has passed.
int msLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd` until `deadline`.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, msLeft(deadline));
    if (rc > 0) return true;
    if (rc == 0 || errno != EINTR) return false;
  }
}

// "HTTP/1.1 200": the protocol, a space and three digits.
bool isStatusLine(const std::string& head) {
  if (head.size() < 12 || head.compare(0, 7, "HTTP/1.") != 0 || head[8] != ' ') return false;
  for (std::size_t i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') return false;
  }
  return true;
}

bool askOne(const addrinfo& address, const std::string& request, Clock::time_point deadline) {
  const int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINPROGRESS || !waitFor(fd, POLLOUT, deadline)) return false;
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) return false;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  std::string head;
  char buffer[256];
  while (head.size() < 12) {
    if (!waitFor(fd, POLLIN, deadline)) return false;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      head.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      break;
    }
  }
  return isStatusLine(head);
}

}  // namespace

bool answersHttp(const std::string& host, int port, const std::string& path,
                 std::chrono::milliseconds timeout) noexcept {
  try {
    const auto deadline = Clock::now() + timeout;
    std::string target = host;
    if (target.empty() || target == "0.0.0.0") target = "127.0.0.1";
    if (target == "::") target = "::1";

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(target.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
      return false;
    }
    const std::string hostHeader =
        target.find(':') != std::string::npos ? "[" + target + "]" : target;
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + ":" +
                                std::to_string(port) +
                                "\r\nUser-Agent: metricpulsed-watchdog\r\nConnection: "
                                "close\r\n\r\n";
    bool answered = false;
    for (const addrinfo* a = found; a != nullptr && !answered && msLeft(deadline) > 0;
         a = a->ai_next) {
      answered = askOne(*a, request, deadline);
    }
    ::freeaddrinfo(found);
    return answered;
  } catch (...) {
    return false;
  }
}

}  // namespace mp::daemon
