// The HTTP listener: Pistache's, with a transport of our own on each worker thread.
#include "transport.hpp"

#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "util/error.hpp"

namespace mp::daemon {
namespace {

namespace Http = Pistache::Http;
namespace Polling = Pistache::Polling;

// How often connections are checked for their timeouts, as Pistache's endpoint does.
constexpr auto kTimeoutCheck = std::chrono::milliseconds(500);

}  // namespace

HttpTransport::HttpTransport(const std::shared_ptr<Pistache::Tcp::Handler>& handler,
                             HttpTimeouts timeouts)
    : Pistache::Tcp::Transport(handler),
      handler_(handler),
      timeouts_(timeouts),
      outbox_(std::make_shared<http::Outbox>()) {}

HttpTransport::~HttpTransport() {
  if (timerFd_ >= 0) ::close(timerFd_);
}

void HttpTransport::registerPoller(Polling::Epoll& poller) {
  Pistache::Tcp::Transport::registerPoller(poller);
  timerFd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timerFd_ < 0) throw Error(std::string("timerfd_create: ") + std::strerror(errno));
  itimerspec spec{};
  spec.it_value.tv_nsec = std::chrono::nanoseconds(kTimeoutCheck).count();
  spec.it_interval = spec.it_value;
  if (::timerfd_settime(timerFd_, 0, &spec, nullptr) != 0) {
    throw Error(std::string("timerfd_settime: ") + std::strerror(errno));
  }
  poller.addFd(timerFd_, Pistache::Flags<Polling::NotifyOn>(Polling::NotifyOn::Read),
               Polling::Tag(timerFd_));
  poller.addFd(outbox_->fd(), Pistache::Flags<Polling::NotifyOn>(Polling::NotifyOn::Read),
               Polling::Tag(outbox_->fd()));
}

namespace {

// Whether the peer has closed its side or hung up (EPOLLRDHUP, EPOLLHUP): its socket is then read
// until its end. Pistache's entry hides its event's flags behind a private base; a C-style cast
// is the one cast that may name an inaccessible base.
bool peerClosing(const Pistache::Aio::FdSet::Entry& entry) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
  const auto& event = (const Polling::Event&)entry;
#pragma GCC diagnostic pop
  return event.flags.hasFlag(Polling::NotifyOn::Shutdown) ||
         event.flags.hasFlag(Polling::NotifyOn::Hangup);
}

Polling::Event eventOf(const Pistache::Aio::FdSet::Entry& entry) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
  return (const Polling::Event&)entry;
#pragma GCC diagnostic pop
}

}  // namespace

void HttpTransport::onReady(const Pistache::Aio::FdSet& fds) {
  http::setCurrentOutbox(outbox_);
  // What is not ours (Pistache's queues, sockets that can be written again) goes to Pistache.
  std::vector<Polling::Event> rest;
  for (const auto& entry : fds) {
    const Polling::Tag tag = entry.getTag();
    if (tag == Polling::Tag(outbox_->fd())) {
      sendPosted();
    } else if (tag == Polling::Tag(timerFd_)) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] const ssize_t n = ::read(timerFd_, &expirations, sizeof expirations);
      closeTimedOut();
    } else if (const auto peer = entry.isReadable() ? peerOf(tag) : nullptr) {
      const auto fd = peer->fd();
      receive(peer, peerClosing(entry));
      // Pistache would see only the read of an event that is both: an answer waiting for the
      // socket to take it would wait for an edge that may never come (a client that sends on
      // while its early answer, a 413, waits). Pistache asks for writability only while it
      // holds writes for the socket, so it has some to make.
      if (entry.isWritable() && peers.count(fd) != 0) {
        Polling::Event writable(tag);
        writable.flags = Pistache::Flags<Polling::NotifyOn>(Polling::NotifyOn::Write);
        rest.push_back(writable);
      }
    } else {
      rest.push_back(eventOf(entry));
    }
  }
  if (!rest.empty()) Pistache::Tcp::Transport::onReady(Pistache::Aio::FdSet(std::move(rest)));
}

std::shared_ptr<Pistache::Tcp::Peer> HttpTransport::peerOf(Polling::Tag tag) const {
  const auto it = peers.find(static_cast<Pistache::Fd>(tag.value()));
  return it == peers.end() ? nullptr : it->second;
}

// Pistache reads a socket until the read that finds it empty, a second system call for each
// request. Its sockets are edge-triggered: every arrival raises a new edge, so a read that
// returns less than it asked for has emptied the socket, and the next bytes wake this thread
// again. A socket whose peer has closed is read to its end, as Pistache does, so the close is
// seen now.
void HttpTransport::receive(std::shared_ptr<Pistache::Tcp::Peer> peer, bool closing) {
  char buffer[kReadBuffer];
  const int fd = peer->fd();
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      handler_->onInput(buffer, static_cast<std::size_t>(n), peer);
      if (static_cast<std::size_t>(n) < sizeof buffer && !closing) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // Closed by the peer (0), or reset.
    handler_->onDisconnection(peer);
    const auto it = peers.find(fd);
    if (it != peers.end() && it->second == peer) removePeer(peer);
    return;
  }
}

// Sends every posted answer whose connection is still this thread's. A connection closed
// meanwhile is no longer in `peers` (its descriptor may already belong to another): its answer
// is dropped, as Pistache drops a write to a closed peer.
void HttpTransport::sendPosted() {
  outbox_->take(posted_);
  for (auto& item : posted_) {
    auto peer = item.peer.lock();
    if (!peer) continue;
    const auto it = peers.find(peer->fd());
    if (it == peers.end() || it->second != peer) continue;
    peer->setIdle(true);
    const ssize_t n =
        ::send(peer->fd(), item.bytes.data(), item.bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(item.bytes.size())) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      continue;  // reset or closed by the client: Pistache's next read of it disconnects it
    }
    // The socket's buffer is full (a client that does not read): Pistache's own queue sends the
    // rest once the socket takes it.
    const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    peer->send(Pistache::RawBuffer(item.bytes.substr(sent), item.bytes.size() - sent));
  }
  posted_.clear();
}

// Pistache's endpoint does this every half second: a connection idle past the keep-alive
// timeout is closed; one mid-request past the header or body timeout is answered 408, then
// closed.
void HttpTransport::closeTimedOut() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Pistache::Tcp::Peer>> expired;
  for (const auto& [fd, peer] : peers) {
    auto parser = Http::Handler::getParser(peer);
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - parser->time());
    const auto step = parser->step()->id();
    bool timedOut = false;
    if (peer->isIdle()) {
      timedOut = elapsed > timeouts_.keepalive;
    } else if (step == Http::Private::RequestLineStep::Id ||
               step == Http::Private::HeadersStep::Id) {
      timedOut = elapsed > timeouts_.header || elapsed > timeouts_.body;
    } else if (step == Http::Private::BodyStep::Id) {
      timedOut = elapsed > timeouts_.body;
    }
    if (timedOut) expired.push_back(peer);
  }
  for (auto& peer : expired) {
    if (peer->isIdle()) {
      removePeer(peer);
      continue;
    }
    Http::ResponseWriter response(Http::Version::Http11, this,
                                  static_cast<Http::Handler*>(handler_.get()), peer);
    response.send(Http::Code::Request_Timeout)
        .then([this, peer](ssize_t) { removePeer(peer); },
              [this, peer](std::exception_ptr) { removePeer(peer); });
  }
}

std::shared_ptr<Pistache::Aio::Handler> HttpTransport::clone() const {
  return std::make_shared<HttpTransport>(handler_->clone(), timeouts_);
}

HttpListener::HttpListener(const Pistache::Address& address) : listener_(address) {}

void HttpListener::init(const HttpListenerOptions& options,
                        const std::shared_ptr<Http::Handler>& handler) {
  handler_ = handler;
  handler_->setMaxRequestSize(options.maxRequestSize);
  handler_->setMaxResponseSize(options.maxResponseSize);
  listener_.init(static_cast<std::size_t>(options.threads), options.flags, options.threadsName,
                 options.backlog);
  listener_.setTransportFactory([handler = handler_, timeouts = options.timeouts] {
    return std::make_shared<HttpTransport>(handler, timeouts);
  });
}

void HttpListener::serveThreaded() {
  listener_.setHandler(handler_);
  listener_.bind();
  listener_.runThreaded();
}

void HttpListener::shutdown() {
  listener_.shutdown();
}

}  // namespace mp::daemon
