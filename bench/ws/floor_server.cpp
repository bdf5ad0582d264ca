// mp_bench_ws_floor: the floor of bench/ws, the least that any server of the live feed's shape
// can do on this machine with mp_bench_ws as its client. It speaks just enough of metricpulsed's
// protocol for the client (the upgrade, "subscribe", POST /track answered 202) and does nothing
// else: no token check, no validation, no Redis, no PostgreSQL. Each tracked event's frame (the
// same fields and about the same size as the daemon's) is built once and written to each
// subscribed socket with one send, from the loop that owns the socket. What the client measures
// against it is the part of the latency this machine imposes on every implementation: the
// loopback writes and reads of every delivery and the scheduling of the processes on its cores.
//
// usage: mp_bench_ws_floor --ws-port P --http-port P --sites FILE [--threads N]
//
// Dashboards are spread over N event loops (one listener each, SO_REUSEPORT, as the daemon's
// websocket.threads); loop 0 also serves POST /track and hands each event to the other loops
// through a queue and an eventfd. Line k of FILE is the id of website siteK.bench.test.
// Runs until SIGINT or SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ws/frame.hpp"
#include "ws/frame_parser.hpp"
#include "ws/handshake.hpp"

namespace {

std::atomic<bool> stopping{false};

struct Options {
  int wsPort = 0;
  int httpPort = 0;
  std::string sitesFile;
  int threads = 2;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "mp_bench_ws_floor: %s\nusage: mp_bench_ws_floor --ws-port P --http-port P "
               "--sites FILE [--threads N]\n",
               why);
  std::exit(2);
}

int listenOn(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
    throw std::runtime_error("listen on port " + std::to_string(port) + ": " +
                             std::strerror(errno));
  }
  return fd;
}

/// The value of the JSON string field `key` in `text`, unescaped characters only (the client's
/// bodies have none), or empty.
std::string_view jsonField(std::string_view text, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":\"";
  const auto at = text.find(needle);
  if (at == std::string_view::npos) return {};
  const auto begin = at + needle.size();
  const auto end = text.find('"', begin);
  return end == std::string_view::npos ? std::string_view{} : text.substr(begin, end - begin);
}

struct Conn {
  enum class Kind { Upgrading, Dashboard, Http };
  int fd = -1;
  Kind kind = Kind::Upgrading;
  int site = -1;
  std::string in;
  std::string out;  // what the socket did not take yet
  std::unique_ptr<mp::ws::FrameParser> parser;
};

class Loop;

struct Shared {
  std::vector<std::string> siteIds;
  std::vector<std::unique_ptr<Loop>> loops;
};

class Loop {
 public:
  Loop(Shared& shared, int index, const Options& o) : shared_(shared), index_(index) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wake_ < 0) throw std::runtime_error("epoll_create1 or eventfd failed");
    wsListener_ = listenOn(o.wsPort);
    watch(wsListener_, kWsListenerTag, EPOLLIN);
    watch(wake_, kWakeTag, EPOLLIN);
    if (index_ == 0) {
      httpListener_ = listenOn(o.httpPort);
      watch(httpListener_, kHttpListenerTag, EPOLLIN);
    }
    rooms_.resize(shared_.siteIds.size());
  }

  /// Takes a frame for the dashboards of `site` on this loop, from another loop's thread.
  void post(int site, std::shared_ptr<const std::string> frame) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      posted_.emplace_back(site, std::move(frame));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_, &one, sizeof one);
  }

  void run() {
    epoll_event events[512];
    while (!stopping.load(std::memory_order_relaxed)) {
      const int n = ::epoll_wait(epfd_, events, 512, 200);
      if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
      for (int i = 0; i < n; ++i) {
        const auto tag = events[i].data.u64;
        if (tag == kWsListenerTag || tag == kHttpListenerTag) {
          acceptAll(tag == kWsListenerTag ? wsListener_ : httpListener_, tag == kHttpListenerTag);
        } else if (tag == kWakeTag) {
          takePosted();
        } else {
          onConn(tag, events[i].events);
        }
      }
    }
  }

 private:
  static constexpr std::uint64_t kWsListenerTag = ~std::uint64_t{0};
  static constexpr std::uint64_t kHttpListenerTag = ~std::uint64_t{0} - 1;
  static constexpr std::uint64_t kWakeTag = ~std::uint64_t{0} - 2;

  void watch(int fd, std::uint64_t tag, std::uint32_t what, int op = EPOLL_CTL_ADD) {
    epoll_event ev{};
    ev.events = what;
    ev.data.u64 = tag;
    if (::epoll_ctl(epfd_, op, fd, &ev) != 0) throw std::runtime_error("epoll_ctl failed");
  }

  void acceptAll(int listener, bool http) {
    for (;;) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->kind = http ? Conn::Kind::Http : Conn::Kind::Upgrading;
      std::uint64_t tag = conns_.size();
      if (!free_.empty()) {
        tag = free_.back();
        free_.pop_back();
        conns_[tag] = std::move(c);
      } else {
        conns_.push_back(std::move(c));
      }
      watch(fd, tag, EPOLLIN);
    }
  }

  void close(std::uint64_t tag) {
    auto& c = *conns_[tag];
    if (c.kind == Conn::Kind::Dashboard && c.site >= 0) {
      auto& room = rooms_[static_cast<std::size_t>(c.site)];
      for (auto& member : room) {
        if (member == tag) {
          member = room.back();
          room.pop_back();
          break;
        }
      }
    }
    ::close(c.fd);
    conns_[tag].reset();
    free_.push_back(tag);
  }

  // One send; what the socket does not take waits for its writability.
  bool send(std::uint64_t tag, std::string_view bytes) {
    auto& c = *conns_[tag];
    if (!c.out.empty()) {
      c.out.append(bytes);
      return true;
    }
    const ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    const auto sent = n < 0 ? 0 : static_cast<std::size_t>(n);
    if (sent < bytes.size()) {
      c.out.assign(bytes.substr(sent));
      watch(c.fd, tag, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
    }
    return true;
  }

  void onConn(std::uint64_t tag, std::uint32_t what) {
    if (tag >= conns_.size() || !conns_[tag]) return;
    auto& c = *conns_[tag];
    if (what & EPOLLOUT) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return close(tag);
      if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
      if (c.out.empty()) watch(c.fd, tag, EPOLLIN, EPOLL_CTL_MOD);
    }
    if (!(what & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[16384];
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close(tag);
    if (n < 0) return;
    const std::string_view data(buf, static_cast<std::size_t>(n));
    switch (c.kind) {
      case Conn::Kind::Upgrading:
        return onUpgrade(tag, data);
      case Conn::Kind::Dashboard:
        return onFrames(tag, data);
      case Conn::Kind::Http:
        return onHttp(tag, data);
    }
  }

  void onUpgrade(std::uint64_t tag, std::string_view data) {
    auto& c = *conns_[tag];
    c.in.append(data);
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    const auto at = c.in.find("Sec-WebSocket-Key: ");
    if (at == std::string::npos || at > end) return close(tag);
    const auto keyEnd = c.in.find("\r\n", at);
    const std::string answer = mp::ws::acceptResponse(c.in.substr(at + 19, keyEnd - at - 19));
    c.in.clear();
    c.in.shrink_to_fit();
    c.kind = Conn::Kind::Dashboard;
    c.parser = std::make_unique<mp::ws::FrameParser>();
    if (!send(tag, answer)) close(tag);
  }

  void onFrames(std::uint64_t tag, std::string_view data) {
    auto& c = *conns_[tag];
    for (auto& e : c.parser->feed(data)) {
      if (e.type == mp::ws::Event::Type::Close || e.type == mp::ws::Event::Type::Error) {
        return close(tag);
      }
      if (e.type != mp::ws::Event::Type::Text) continue;
      const auto id = jsonField(e.payload, "websiteId");
      int site = -1;
      for (std::size_t i = 0; i < shared_.siteIds.size(); ++i) {
        if (shared_.siteIds[i] == id) site = static_cast<int>(i);
      }
      if (site < 0 || c.site >= 0) continue;
      c.site = site;
      rooms_[static_cast<std::size_t>(site)].push_back(tag);
      const std::string answer =
          mp::ws::encodeFrame(mp::ws::Opcode::Text, "{\"type\":\"subscribed\",\"websiteId\":\"" +
                                                        std::string(id) + "\"}");
      if (!send(tag, answer)) return close(tag);
    }
  }

  void onHttp(std::uint64_t tag, std::string_view data) {
    auto& c = *conns_[tag];
    c.in.append(data);
    for (;;) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::size_t length = 0;
      for (auto p = c.in.find("\r\n"); p < end; p = c.in.find("\r\n", p + 2)) {
        if (strncasecmp(c.in.c_str() + p + 2, "Content-Length:", 15) == 0) {
          length = std::strtoul(c.in.c_str() + p + 17, nullptr, 10);
        }
      }
      if (c.in.size() < end + 4 + length) return;
      const std::string_view body = std::string_view(c.in).substr(end + 4, length);
      const auto url = jsonField(body, "url");
      // https://siteK.bench.test/…: website K.
      const auto hostAt = url.find("://site");
      const int site = hostAt == std::string_view::npos
                           ? -1
                           : std::atoi(std::string(url.substr(hostAt + 7, 8)).c_str()) - 1;
      if (site < 0 || site >= static_cast<int>(shared_.siteIds.size())) {
        if (!send(tag, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")) return close(tag);
      } else {
        if (!send(tag,
                  "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\n\r\n{}")) {
          return close(tag);
        }
        publish(site, url, jsonField(body, "referrer"));
      }
      c.in.erase(0, end + 4 + length);
    }
  }

  // The daemon's frame fields (core/events liveFeedFrame), with fixed values where it derives
  // them: one encoding, shared by every loop.
  void publish(int site, std::string_view url, std::string_view referrer) {
    const auto& id = shared_.siteIds[static_cast<std::size_t>(site)];
    const auto pathAt = url.find('/', url.find("://") + 3);
    const auto path = url.substr(pathAt, url.find('?', pathAt) - pathAt);
    std::string json = "{\"type\":\"event\",\"websiteId\":\"" + id +
                       "\",\"eventType\":\"pageview\",\"page\":\"" + std::string(path) +
                       "\",\"url\":\"" + std::string(url) + "\",\"referrer\":\"" +
                       std::string(referrer) +
                       "\",\"sessionId\":\"8c5f0a44-5e2b-4b8e-9d3c-0f1e2d3c4b5a\","
                       "\"timestamp\":\"2026-12-05T10:00:00.000Z\",\"browser\":\"Firefox\","
                       "\"os\":\"Ubuntu\",\"device\":\"desktop\",\"country\":null}";
    auto frame =
        std::make_shared<const std::string>(mp::ws::encodeFrame(mp::ws::Opcode::Text, json));
    for (std::size_t i = 1; i < shared_.loops.size(); ++i) shared_.loops[i]->post(site, frame);
    fanout(site, *frame);
  }

  void fanout(int site, const std::string& frame) {
    auto& room = rooms_[static_cast<std::size_t>(site)];
    for (std::size_t i = 0; i < room.size();) {
      const auto tag = room[i];
      if (send(tag, frame)) {
        ++i;
      } else {
        close(tag);  // swaps the room's last member into i
      }
    }
  }

  void takePosted() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(wake_, &count, sizeof count);
    std::vector<std::pair<int, std::shared_ptr<const std::string>>> posted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      posted.swap(posted_);
    }
    for (const auto& [site, frame] : posted) fanout(site, *frame);
  }

  Shared& shared_;
  int index_;
  int epfd_ = -1;
  int wake_ = -1;
  int wsListener_ = -1;
  int httpListener_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::uint64_t> free_;
  std::vector<std::vector<std::uint64_t>> rooms_;
  std::mutex mutex_;
  std::vector<std::pair<int, std::shared_ptr<const std::string>>> posted_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage(("missing value of " + key).c_str());
    const std::string value = argv[++i];
    if (key == "--ws-port")
      o.wsPort = std::atoi(value.c_str());
    else if (key == "--http-port")
      o.httpPort = std::atoi(value.c_str());
    else if (key == "--sites")
      o.sitesFile = value;
    else if (key == "--threads")
      o.threads = std::atoi(value.c_str());
    else
      usage(("unknown option " + key).c_str());
  }
  if (o.wsPort <= 0 || o.httpPort <= 0 || o.sitesFile.empty() || o.threads < 1) {
    usage("--ws-port, --http-port and --sites are required, --threads at least 1");
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    Shared shared;
    std::ifstream in(o.sitesFile);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) shared.siteIds.push_back(line);
    }
    if (shared.siteIds.empty()) throw std::runtime_error("no website ids in " + o.sitesFile);
    for (int i = 0; i < o.threads; ++i) {
      shared.loops.push_back(std::make_unique<Loop>(shared, i, o));
    }
    std::vector<std::thread> threads;
    for (auto& loop : shared.loops) threads.emplace_back([&loop] { loop->run(); });
    int signal = 0;
    sigwait(&signals, &signal);
    stopping = true;
    for (auto& t : threads) t.join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_ws_floor: %s\n", e.what());
    return 1;
  }
  return 0;
}
