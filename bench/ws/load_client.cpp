// mp_bench_ws: the load client of bench/ws. One thread and one epoll loop hold N WebSocket
// dashboards subscribed to the live feed, send POST /track at a fixed rate over keep-alive
// connections, and time every event from its POST to its receipt on each subscribed socket.
//
// usage: mp_bench_ws --ws-port P --http-port P --sites FILE --secret FILE --user ID
//                    --clients N [--spread K] [--rate R] [--duration S] [--hold S]
//                    [--daemon-pid PID] [--trackers T] [--label NAME]
//
// Client i subscribes to website (i mod K)+1 of FILE (one id a line, line k is
// siteK.bench.test); event j goes to website (j mod K)+1, so every event is expected on N/K
// sockets. Each event carries its sequence number in its url ("…/live?seq=j"), which the
// daemon relays unchanged, so one process holds both clocks (monotonic, no skew). With --rate 0
// the connections stay idle for --hold seconds. After the last send it waits for the last
// deliveries until nothing arrives for 3 s (60 s at most). The daemon's RSS (VmRSS, VmHWM) and CPU
// time are read from /proc/PID. Prints progress on stderr and one "BENCH key=value …" line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/jwt.hpp"
#include "ws/frame.hpp"
#include "ws/frame_parser.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

struct Options {
  int wsPort = 0;
  int httpPort = 0;
  std::string sitesFile;
  std::string secretFile;
  std::string userId;
  int clients = 0;
  int spread = 1;
  double rate = 0;
  double duration = 10;
  double hold = 0;
  int daemonPid = 0;
  int trackers = 16;
  std::string label = "run";
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "mp_bench_ws: %s\nusage: mp_bench_ws --ws-port P --http-port P --sites FILE "
               "--secret FILE --user ID --clients N [--spread K] [--rate R] [--duration S] "
               "[--hold S] [--daemon-pid PID] [--trackers T] [--label NAME]\n",
               why);
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
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
    else if (key == "--secret")
      o.secretFile = value;
    else if (key == "--user")
      o.userId = value;
    else if (key == "--clients")
      o.clients = std::atoi(value.c_str());
    else if (key == "--spread")
      o.spread = std::atoi(value.c_str());
    else if (key == "--rate")
      o.rate = std::atof(value.c_str());
    else if (key == "--duration")
      o.duration = std::atof(value.c_str());
    else if (key == "--hold")
      o.hold = std::atof(value.c_str());
    else if (key == "--daemon-pid")
      o.daemonPid = std::atoi(value.c_str());
    else if (key == "--trackers")
      o.trackers = std::atoi(value.c_str());
    else if (key == "--label")
      o.label = value;
    else
      usage(("unknown option " + key).c_str());
  }
  if (o.wsPort <= 0 || o.httpPort <= 0 || o.sitesFile.empty() || o.secretFile.empty() ||
      o.userId.empty() || o.clients < 1) {
    usage("--ws-port, --http-port, --sites, --secret, --user and --clients are required");
  }
  if (o.spread < 1 || o.trackers < 1 || o.rate < 0 || o.duration <= 0 || o.hold < 0) {
    usage("bad --spread, --trackers, --rate, --duration or --hold");
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The daemon, seen from /proc
// ---------------------------------------------------------------------------------------------

/// A "Vm…:" figure of /proc/PID/status in KiB (0 when unreadable).
long procStatusKb(int pid, const char* key) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::atol(line.c_str() + prefix.size());
  }
  return 0;
}

/// utime + stime of PID in seconds (0 when unreadable).
double procCpuSeconds(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::size_t pos = close + 2;
  while (pos < stat.size()) {
    auto end = stat.find(' ', pos);
    if (end == std::string::npos) end = stat.size();
    fields.push_back(stat.substr(pos, end - pos));
    pos = end + 1;
  }
  if (fields.size() < 13) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / ticks;
}

double selfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

int connectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("connect: " + why);
  }
  return fd;
}

/// Writes all of `bytes` to a non-blocking socket. The messages here are small and the socket
/// buffers empty, so a short write is rare; it waits for room rather than buffering.
bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      ::usleep(100);
    } else {
      return false;
    }
  }
  return true;
}

/// One dashboard: a WebSocket connection subscribed to one website.
struct Dashboard {
  enum class State { Connecting, Handshake, Subscribing, Ready, Closed };
  int fd = -1;
  int site = 0;  // index into the site ids
  State state = State::Connecting;
  std::string head;  // the handshake answer, until its end
  mp::ws::FrameParser parser{mp::ws::ParserOptions{mp::ws::Role::Client}};
};

/// One keep-alive HTTP/1.1 connection sending POST /track, one request at a time.
struct Tracker {
  int fd = -1;
  bool busy = false;
  Clock::time_point sentAt;  // of the request in flight
  std::string in;
};

/// What is known of one tracked event.
struct Sent {
  Clock::time_point at;
  int site = 0;
  int received = 0;
  double first = -1;  // ms to its first delivery, on any dashboard
};

// Tags in epoll data: dashboards by index, trackers offset past them.
constexpr std::uint64_t kTrackerTag = std::uint64_t{1} << 40;

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {
    std::ifstream in(o_.sitesFile);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) siteIds_.push_back(line);
    }
    if (static_cast<int>(siteIds_.size()) < o_.spread) {
      throw std::runtime_error("fewer website ids in " + o_.sitesFile + " than --spread");
    }
    const auto now = std::time(nullptr);
    token_ = mp::auth::signToken({o_.userId, now, now + 3600}, mp::auth::loadSecret(o_.secretFile));
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error("epoll_create1 failed");
    subscribers_.assign(static_cast<std::size_t>(o_.spread), 0);
  }

  int run() {
    const long rssBefore = procStatusKb(o_.daemonPid, "VmRSS");
    const auto t0 = Clock::now();
    connectAll();
    const double connectSeconds = secondsSince(t0, Clock::now());
    std::fprintf(stderr, "    %d dashboards connected and subscribed in %.1f s\n", ready_,
                 connectSeconds);
    // Let the daemon settle (allocator, first realtime frames) before sampling its idle RSS.
    pump(Clock::now() + std::chrono::seconds(1));
    const long rssIdle = procStatusKb(o_.daemonPid, "VmRSS");
    long rssMax = rssIdle;

    double daemonCpu = 0;
    double clientCpu = 0;
    double phaseSeconds = 0;
    if (o_.rate > 0) {
      openTrackers();
      const double cpu0 = procCpuSeconds(o_.daemonPid);
      const double self0 = selfCpuSeconds();
      const auto start = Clock::now();
      trackStart_ = start;
      trackPhase(start, rssMax);
      phaseSeconds = secondsSince(start, Clock::now());
      // When the slow deliveries happened: the worst latency of the events sent in each second.
      std::fprintf(stderr, "    worst delivery (ms) of the events sent in each second:");
      for (const double worst : worstBySecond_) std::fprintf(stderr, " %.0f", worst);
      std::fprintf(stderr, "\n");
      daemonCpu = procCpuSeconds(o_.daemonPid) - cpu0;
      clientCpu = selfCpuSeconds() - self0;
    } else {
      const double cpu0 = procCpuSeconds(o_.daemonPid);
      const double self0 = selfCpuSeconds();
      const auto start = Clock::now();
      const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(o_.hold));
      while (Clock::now() < end) {
        pump(std::min(end, Clock::now() + std::chrono::milliseconds(500)));
        rssMax = std::max(rssMax, procStatusKb(o_.daemonPid, "VmRSS"));
      }
      phaseSeconds = secondsSince(start, Clock::now());
      daemonCpu = procCpuSeconds(o_.daemonPid) - cpu0;
      clientCpu = selfCpuSeconds() - self0;
    }
    const long rssEnd = procStatusKb(o_.daemonPid, "VmRSS");
    rssMax = std::max(rssMax, rssEnd);
    const long hwm = procStatusKb(o_.daemonPid, "VmHWM");

    long long expected = 0;
    for (const auto& s : sent_) expected += subscribers_[static_cast<std::size_t>(s.site)];
    std::sort(latencies_.begin(), latencies_.end());
    std::sort(answers_.begin(), answers_.end());
    std::vector<double> firsts;
    for (const auto& s : sent_) {
      if (s.first >= 0) firsts.push_back(s.first);
    }
    std::sort(firsts.begin(), firsts.end());
    const auto pctOf = [](const std::vector<double>& sorted, double p) {
      if (sorted.empty()) return 0.0;
      auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
      return sorted[std::min(i, sorted.size() - 1)];
    };
    const auto pct = [&](double p) { return pctOf(latencies_, p); };
    const double perConn =
        o_.daemonPid > 0 ? static_cast<double>(rssIdle - rssBefore) * 1024.0 / o_.clients : 0;
    std::printf(
        "BENCH label=%s clients=%d ready=%d spread=%d rate=%.0f duration_s=%.2f connect_s=%.2f "
        "sent=%zu accepted=%lld refused=%lld late_sends=%lld delivered=%zu expected=%lld "
        "unknown=%lld duplicates=%lld closed=%d delivered_in_run=%zu drain_s=%.2f p50_ms=%.3f "
        "p99_ms=%.3f max_ms=%.3f answer_p50_ms=%.3f answer_p99_ms=%.3f first_p50_ms=%.3f "
        "first_p99_ms=%.3f "
        "rss_before_kb=%ld rss_idle_kb=%ld rss_max_kb=%ld rss_end_kb=%ld hwm_kb=%ld "
        "rss_per_conn_b=%.0f daemon_cpu_pct=%.1f client_cpu_pct=%.1f\n",
        o_.label.c_str(), o_.clients, ready_, o_.spread, o_.rate, phaseSeconds, connectSeconds,
        sent_.size(), accepted_, refused_, lateSends_, latencies_.size(), expected, unknown_,
        duplicates_, closed_, deliveredInRun_, drainSeconds_, pct(0.50), pct(0.99),
        latencies_.empty() ? 0.0 : latencies_.back(), pctOf(answers_, 0.50), pctOf(answers_, 0.99),
        pctOf(firsts, 0.50), pctOf(firsts, 0.99), rssBefore, rssIdle, rssMax, rssEnd, hwm, perConn,
        100.0 * daemonCpu / phaseSeconds, 100.0 * clientCpu / phaseSeconds);
    std::fflush(stdout);
    return 0;
  }

 private:
  // Opens every dashboard, at most kInFlight handshakes at a time so that the listener's
  // backlog never overflows, and waits until each is subscribed.
  void connectAll() {
    constexpr int kInFlight = 256;
    dashboards_.resize(static_cast<std::size_t>(o_.clients));
    const auto deadline = Clock::now() + std::chrono::seconds(180);
    int opened = 0;
    while (ready_ + closed_ < o_.clients) {
      while (opened < o_.clients && opened - ready_ - closed_ < kInFlight) {
        auto& d = dashboards_[static_cast<std::size_t>(opened)];
        d.site = opened % o_.spread;
        d.fd = connectLoopback(o_.wsPort);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u64 = static_cast<std::uint64_t>(opened);
        ::epoll_ctl(epfd_, EPOLL_CTL_ADD, d.fd, &ev);
        ++opened;
      }
      if (Clock::now() > deadline) throw std::runtime_error("connecting took over 180 s");
      pump(Clock::now() + std::chrono::milliseconds(50));
    }
    if (closed_ > 0) {
      throw std::runtime_error(std::to_string(closed_) + " of " + std::to_string(o_.clients) +
                               " dashboards failed to connect or subscribe");
    }
  }

  void openTrackers() {
    for (int i = 0; i < o_.trackers; ++i) {
      auto t = std::make_unique<Tracker>();
      t->fd = connectLoopback(o_.httpPort);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kTrackerTag + static_cast<std::uint64_t>(i);
      ::epoll_ctl(epfd_, EPOLL_CTL_ADD, t->fd, &ev);
      trackers_.push_back(std::move(t));
    }
  }

  // Sends event j at start + j/rate (on the first free tracker; when none is free the event
  // waits and counts as a late send), then drains (below).
  void trackPhase(Clock::time_point start, long& rssMax) {
    const auto total = static_cast<std::size_t>(o_.rate * o_.duration);
    const auto step = std::chrono::duration<double>(1.0 / o_.rate);
    auto nextSample = start + std::chrono::milliseconds(500);
    sent_.reserve(total);
    while (sent_.size() < total) {
      const auto now = Clock::now();
      while (sent_.size() < total) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     step * static_cast<double>(sent_.size()));
        if (due > now) break;
        Tracker* idle = nullptr;
        for (auto& t : trackers_) {
          if (!t->busy) {
            idle = t.get();
            break;
          }
        }
        if (!idle) break;
        if (now - due > std::chrono::milliseconds(1)) ++lateSends_;
        sendTrack(*idle);
      }
      if (now >= nextSample) {
        rssMax = std::max(rssMax, procStatusKb(o_.daemonPid, "VmRSS"));
        nextSample += std::chrono::milliseconds(500);
      }
      // Until the next event is due, or, when it is due already and every tracker is busy,
      // until an answer frees one (epoll returns on it), not spinning meanwhile.
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   step * static_cast<double>(sent_.size()));
      const auto wake = Clock::now();
      pump(due > wake ? due : wake + std::chrono::milliseconds(5), /*once=*/true);
    }
    const auto deliveredAtEnd = latencies_.size();
    // The drain: until every expected delivery arrived and every answer came, or nothing
    // arrived for 3 s (the rest is lost, not late), 60 s at most. A daemon that falls behind
    // shows as seconds of latency here, one that drops frames as delivered < expected.
    long long expected = 0;
    for (const auto& s : sent_) expected += subscribers_[static_cast<std::size_t>(s.site)];
    const auto drainStart = Clock::now();
    const auto deadline = drainStart + std::chrono::seconds(60);
    auto lastProgress = drainStart;
    std::size_t seen = latencies_.size();
    while (Clock::now() < deadline && Clock::now() - lastProgress < std::chrono::seconds(3)) {
      const bool answered =
          std::none_of(trackers_.begin(), trackers_.end(), [](const auto& t) { return t->busy; });
      if (answered && static_cast<long long>(latencies_.size()) >= expected) break;
      pump(Clock::now() + std::chrono::milliseconds(20), /*once=*/true);
      if (latencies_.size() != seen) {
        seen = latencies_.size();
        lastProgress = Clock::now();
      }
    }
    drainSeconds_ = secondsSince(drainStart, lastProgress);
    deliveredInRun_ = deliveredAtEnd;
  }

  void sendTrack(Tracker& t) {
    const auto seq = sent_.size();
    const int site = static_cast<int>(seq % static_cast<std::size_t>(o_.spread));
    const std::string body = "{\"websiteId\":\"" + siteIds_[static_cast<std::size_t>(site)] +
                             "\",\"eventType\":\"pageview\",\"url\":\"https://site" +
                             std::to_string(site + 1) +
                             ".bench.test/live?seq=" + std::to_string(seq) +
                             "\",\"referrer\":\"https://www.google.com/\"}";
    const std::string request =
        "POST /track HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
        "Content-Type: application/json\r\nUser-Agent: Mozilla/5.0 (X11; Ubuntu; Linux x86_64; "
        "rv:125.0) Gecko/20100101 Firefox/125.0\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    sent_.push_back({Clock::now(), site, 0});
    t.busy = true;
    t.sentAt = sent_.back().at;
    if (!writeAll(t.fd, request)) throw std::runtime_error("the daemon closed a /track connection");
  }

  // Runs the loop until `until` (or, with once, for one epoll_wait that ends by `until`).
  void pump(Clock::time_point until, bool once = false) {
    epoll_event events[512];
    do {
      // epoll_pwait2: a nanosecond timeout, so that a 1 ms send period is kept without
      // rounding to 0 (spinning) or to 1 ms (late sends).
      const auto left = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::nanoseconds>(until - Clock::now()).count());
      const timespec timeout{static_cast<time_t>(left / 1000000000),
                             static_cast<long>(left % 1000000000)};
      const int n = ::epoll_pwait2(epfd_, events, 512, &timeout, nullptr);
      if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_pwait2 failed");
      for (int i = 0; i < n; ++i) {
        const auto tag = events[i].data.u64;
        if (tag >= kTrackerTag) {
          onTrackerReadable(*trackers_[static_cast<std::size_t>(tag - kTrackerTag)]);
        } else {
          onDashboard(dashboards_[static_cast<std::size_t>(tag)], events[i].events);
        }
      }
    } while (!once && Clock::now() < until);
  }

  void closeDashboard(Dashboard& d) {
    if (d.fd >= 0) ::close(d.fd);
    d.fd = -1;
    if (d.state == Dashboard::State::Ready) {
      --subscribers_[static_cast<std::size_t>(d.site)];
      --ready_;
    }
    d.state = Dashboard::State::Closed;
    ++closed_;
  }

  void onDashboard(Dashboard& d, std::uint32_t what) {
    if (d.state == Dashboard::State::Closed) return;
    if (d.state == Dashboard::State::Connecting) {
      if (!(what & EPOLLOUT)) return;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(d.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return closeDashboard(d);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<std::uint64_t>(&d - dashboards_.data());
      ::epoll_ctl(epfd_, EPOLL_CTL_MOD, d.fd, &ev);
      const std::string request = "GET /ws?token=" + token_ +
                                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
      if (!writeAll(d.fd, request)) return closeDashboard(d);
      d.state = Dashboard::State::Handshake;
      return;
    }
    // The socket is level-triggered: a read shorter than the buffer took all there was, and
    // epoll reports the socket again when more comes, so a second read (answered EAGAIN) would
    // only double the client's system calls, on the cores the daemon shares with it.
    char buf[65536];
    for (bool more = true; more;) {
      const ssize_t n = ::recv(d.fd, buf, sizeof buf, 0);
      // The receipt time of every frame in these bytes: when the read returned them.
      const auto now = Clock::now();
      if (n == 0) return closeDashboard(d);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        return closeDashboard(d);
      }
      more = static_cast<std::size_t>(n) == sizeof buf;
      std::string_view data(buf, static_cast<std::size_t>(n));
      if (d.state == Dashboard::State::Handshake) {
        d.head.append(data);
        const auto end = d.head.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        if (d.head.compare(0, 12, "HTTP/1.1 101") != 0) {
          std::fprintf(stderr, "    handshake refused: %.60s\n", d.head.c_str());
          return closeDashboard(d);
        }
        const std::string rest = d.head.substr(end + 4);
        d.head.clear();
        d.head.shrink_to_fit();
        d.state = Dashboard::State::Subscribing;
        const std::string subscribe = "{\"type\":\"subscribe\",\"websiteId\":\"" +
                                      siteIds_[static_cast<std::size_t>(d.site)] + "\"}";
        if (!writeAll(d.fd, mp::ws::encodeClientFrame(mp::ws::Opcode::Text, subscribe,
                                                      mp::ws::randomMaskKey()))) {
          return closeDashboard(d);
        }
        if (rest.empty()) continue;
        if (!onFrames(d, rest, now)) return;
        continue;
      }
      if (!onFrames(d, data, now)) return;
    }
  }

  // Returns false when the dashboard was closed.
  bool onFrames(Dashboard& d, std::string_view data, Clock::time_point now) {
    for (auto& e : d.parser.feed(data)) {
      switch (e.type) {
        case mp::ws::Event::Type::Text:
          onText(d, e.payload, now);
          break;
        case mp::ws::Event::Type::Ping:
          writeAll(d.fd, mp::ws::encodeClientFrame(mp::ws::Opcode::Pong, e.payload,
                                                   mp::ws::randomMaskKey()));
          break;
        case mp::ws::Event::Type::Close:
        case mp::ws::Event::Type::Error:
          closeDashboard(d);
          return false;
        default:
          break;
      }
    }
    return true;
  }

  void onText(Dashboard& d, std::string_view text, Clock::time_point now) {
    if (d.state == Dashboard::State::Subscribing) {
      if (text.find("\"type\":\"subscribed\"") != std::string_view::npos) {
        d.state = Dashboard::State::Ready;
        ++subscribers_[static_cast<std::size_t>(d.site)];
        ++ready_;
      } else if (text.find("\"type\":\"error\"") != std::string_view::npos) {
        std::fprintf(stderr, "    subscribe refused: %.*s\n", static_cast<int>(text.size()),
                     text.data());
        closeDashboard(d);
      }
      return;
    }
    if (text.rfind("{\"type\":\"event\"", 0) != 0) return;  // realtime counts
    const auto at = text.find("?seq=");
    if (at == std::string_view::npos) {
      ++unknown_;
      return;
    }
    const auto seq = std::strtoull(text.data() + at + 5, nullptr, 10);
    if (seq >= sent_.size()) {
      ++unknown_;
      return;
    }
    auto& s = sent_[seq];
    if (s.site != d.site) {
      ++unknown_;
      return;
    }
    if (++s.received > subscribers_[static_cast<std::size_t>(s.site)]) {
      ++duplicates_;
      return;
    }
    const double ms = std::chrono::duration<double, std::milli>(now - s.at).count();
    latencies_.push_back(ms);
    if (s.first < 0) s.first = ms;
    const auto second = static_cast<std::size_t>(std::max(0.0, secondsSince(trackStart_, s.at)));
    if (second >= worstBySecond_.size()) worstBySecond_.resize(second + 1, 0.0);
    worstBySecond_[second] = std::max(worstBySecond_[second], ms);
  }

  void onTrackerReadable(Tracker& t) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(t.fd, buf, sizeof buf, 0);
      if (n == 0) throw std::runtime_error("the daemon closed a /track connection");
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        throw std::runtime_error("recv on a /track connection: " +
                                 std::string(std::strerror(errno)));
      }
      t.in.append(buf, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof buf) break;  // level-triggered, as above
    }
    // One answer at a time: head, then Content-Length bytes of body.
    for (;;) {
      const auto end = t.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::size_t length = 0;
      for (auto p = t.in.find("\r\n"); p < end; p = t.in.find("\r\n", p + 2)) {
        if (strncasecmp(t.in.c_str() + p + 2, "Content-Length:", 15) == 0) {
          length = std::strtoul(t.in.c_str() + p + 17, nullptr, 10);
        }
      }
      if (t.in.size() < end + 4 + length) return;
      const int status = t.in.size() > 12 ? std::atoi(t.in.c_str() + 9) : 0;
      if (status == 202) {
        ++accepted_;
        answers_.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t.sentAt).count());
      } else {
        ++refused_;
        std::fprintf(stderr, "    /track answered %d: %.120s\n", status,
                     t.in.substr(end + 4, length).c_str());
      }
      t.in.erase(0, end + 4 + length);
      t.busy = false;
    }
  }

  Options o_;
  std::vector<std::string> siteIds_;
  std::string token_;
  int epfd_ = -1;
  std::vector<Dashboard> dashboards_;
  std::vector<std::unique_ptr<Tracker>> trackers_;
  std::vector<int> subscribers_;  // ready dashboards per website
  int ready_ = 0;
  int closed_ = 0;
  std::vector<Sent> sent_;
  std::vector<double> latencies_;  // ms, one per delivery
  std::vector<double> answers_;    // ms from a /track request to its 202
  Clock::time_point trackStart_{};
  std::vector<double> worstBySecond_;  // ms, by the second of the run the event was sent in
  long long accepted_ = 0;
  long long refused_ = 0;
  long long lateSends_ = 0;
  long long unknown_ = 0;
  long long duplicates_ = 0;
  double drainSeconds_ = 0;         // from the last send to the last delivery
  std::size_t deliveredInRun_ = 0;  // deliveries before the last send
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);
  // Every dashboard is a descriptor: raise the soft limit to the hard one.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < static_cast<rlim_t>(options.clients) + 64) {
      std::fprintf(stderr, "mp_bench_ws: the descriptor limit (%llu) is below %d clients\n",
                   static_cast<unsigned long long>(lim.rlim_cur), options.clients);
      return 1;
    }
  }
  try {
    Bench bench(options);
    return bench.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_ws: %s\n", e.what());
    return 1;
  }
}
