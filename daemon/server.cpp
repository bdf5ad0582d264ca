// Pistache endpoint set-up; every request goes through one handler that catches everything.
#include "server.hpp"

#include <fmt/format.h>
#include <pistache/net.h>
#include <pistache/peer.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "http/accounts.hpp"
#include "http/common.hpp"
#include "http/compat.hpp"
#include "http/export.hpp"
#include "http/goals.hpp"
#include "http/health.hpp"
#include "http/metrics_route.hpp"
#include "http/openapi.hpp"
#include "http/query.hpp"
#include "http/response.hpp"
#include "http/shares.hpp"
#include "http/stats.hpp"
#include "http/track.hpp"
#include "http/web.hpp"
#include "live/live_server.hpp"
#include "log/log.hpp"
#include "probe.hpp"
#include "util/error.hpp"

namespace mp::daemon {
namespace {

namespace Http = Pistache::Http;

// Room for the request line and headers on top of the configured body limit; a longer head is
// answered 431.
constexpr std::size_t kHeadLimit = 16 * 1024;
// After a refusal the rest of the request is read and dropped, for clients that send their whole
// body before they read an answer (libcurl does with a chunked upload): closing on unread data
// would reset the connection and lose the answer. Dropping costs no memory; past this much the
// connection is shut down.
constexpr std::size_t kDiscardLimit = 32 * 1024 * 1024;

// Pistache's request parser plus what this server tracks of the request being received. Pistache
// would buffer up to its maxRequestSize and then answer a plain-text 413 itself, and it reserves
// a body of whatever Content-Length announces; the head is read here first so that a body over
// http.max_body_bytes is refused, as JSON, before any of it is buffered.
struct Connection : Http::RequestParser {
  explicit Connection(std::size_t maxBytes) : Http::RequestParser(maxBytes) {}
  void restart() {
    reset();
    head.clear();
    headDone = false;
    tracking = false;
    bytes = 0;
  }
  std::string head;  // the request head while it is incomplete
  bool headDone = false;
  bool refused = false;       // answered early; the rest of the input is dropped
  bool tracking = false;      // the request is for /track (whose answers carry CORS)
  std::size_t bytes = 0;      // raw bytes of this request so far
  std::size_t discarded = 0;  // bytes dropped since the refusal
};

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// Whether a request head is one of a tracking route's, whose answers carry CORS headers so a
// snippet on any site can read even a refusal.
bool isTracking(std::string_view head) {
  for (std::string_view method : {"post ", "options "}) {
    if (!startsWithNoCase(head, method)) continue;
    const std::string_view rest = head.substr(method.size());
    for (std::string_view path : {"/track", "/api/event", "/api/send", "/api/batch"}) {
      if (startsWithNoCase(rest, path)) return true;
    }
  }
  return false;
}

// The Content-Length announced in a complete head, or -1 when there is none (or it is not a
// number, which Pistache's parser then refuses).
long long contentLength(std::string_view head) {
  long long length = -1;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view line =
        head.substr(start, end == std::string_view::npos ? head.size() - start : end - start);
    if (startsWithNoCase(line, "content-length:")) {
      std::string_view value = line.substr(15);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      long long n = 0;
      bool digits = !value.empty();
      for (char c : value) {
        if (c == ' ' || c == '\t') break;
        if (c < '0' || c > '9' || n > (1LL << 50)) {
          digits = false;
          break;
        }
        n = n * 10 + (c - '0');
      }
      if (digits) length = std::max(length, n);
    }
    pos = end;
  }
  return length;
}

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  Handler(std::shared_ptr<http::Router> router, std::shared_ptr<Services> services)
      : router_(std::move(router)),
        services_(std::move(services)),
        maxBody_(static_cast<std::size_t>(services_->config.http.maxBodyBytes)) {}

  /// The most raw bytes one request may take: the head, and a chunked body's framing.
  static std::size_t rawLimit(std::size_t maxBody) { return kHeadLimit + 2 * maxBody; }

  void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
    const auto started = std::chrono::steady_clock::now();
    handle(request, response);
    // A deferred request is counted by whoever answers it.
    if (!http::takeDeferred()) {
      services_->httpMetrics.record(
          http::Router::currentRoute(), static_cast<int>(response.getResponseCode()),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }

 private:
  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto connection = std::make_shared<Connection>(getMaxRequestSize());
    peer->putData(ParserData, std::shared_ptr<Http::RequestParser>(connection));
  }

  // Pistache's own input handling, with the size limits checked before bytes are buffered.
  void onInput(const char* buffer, std::size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto parser = getParser(peer);
    auto& c = static_cast<Connection&>(*parser);
    if (c.refused) {
      c.discarded += len;
      if (c.discarded > kDiscardLimit) ::shutdown(peer->fd(), SHUT_RDWR);
      return;
    }
    if (!c.headDone) {
      // Usually the whole head is in this one read: look at it where it is, copying nothing.
      const std::string_view input(buffer, len);
      std::size_t end = std::string_view::npos;
      if (c.head.empty()) end = input.find("\r\n\r\n");
      if (end != std::string_view::npos && end + 4 <= kHeadLimit) {
        if (!headComplete(c, peer, input.substr(0, end + 4))) return;
      } else {
        const std::size_t before = c.head.size();
        c.head.append(buffer, std::min(len, kHeadLimit + 4 - std::min(before, kHeadLimit + 4)));
        end = c.head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
        if (end == std::string::npos || end + 4 > kHeadLimit) {
          if (c.head.size() > kHeadLimit) {
            return refuse(
                c, peer, Http::Code::Request_Header_Fields_Too_Large,
                "the request head is larger than " + std::to_string(kHeadLimit) + " bytes");
          }
        } else {
          if (!headComplete(c, peer, std::string_view(c.head).substr(0, end + 4))) return;
          std::string().swap(c.head);
        }
      }
    }
    c.bytes += len;
    if (c.bytes > rawLimit(maxBody_) || !c.feed(buffer, len)) {
      return refuse(c, peer, Http::Code::Request_Entity_Too_Large,
                    "the body is larger than " + std::to_string(maxBody_) + " bytes");
    }
    Pistache::Http::Private::State state;
    try {
      state = c.parse();
    } catch (const std::exception& e) {
      return refuse(c, peer, Http::Code::Bad_Request,
                    std::string("malformed HTTP request: ") + e.what());
    }
    if (state != Pistache::Http::Private::State::Done) return;

    auto& request = c.request;
    Http::ResponseWriter response(request.version(), transport(), this, peer);
    request.copyAddress(peer->address());
    // As Pistache does: an HTTP/1.1 request without Connection: keep-alive is answered with close.
    auto connection = request.headers().tryGet<Http::Header::Connection>();
    response.headers().add<Http::Header::Connection>(connection ? connection->control()
                                                                : Http::ConnectionControl::Close);
    peer->setIdle(false);
    try {
      if (request.body().size() > maxBody_) {
        // A chunked body, whose size shows only once it is whole.
        http::sendError(response, Http::Code::Request_Entity_Too_Large, "payload_too_large",
                        "the body is larger than " + std::to_string(maxBody_) + " bytes");
      } else {
        onRequest(request, std::move(response));
      }
    } catch (const std::exception& e) {
      log::get("http")->error("answering a request failed: {}", e.what());
    }
    c.restart();
  }

  // Looks at a complete request head; false when it was refused (its Content-Length is over the
  // limit).
  bool headComplete(Connection& c, const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                    std::string_view head) {
    c.headDone = true;
    c.tracking = isTracking(head);
    if (contentLength(head) > static_cast<long long>(maxBody_)) {
      refuse(c, peer, Http::Code::Request_Entity_Too_Large,
             "the body is larger than " + std::to_string(maxBody_) + " bytes");
      return false;
    }
    return true;
  }

  // Answers `status` as JSON, closing the connection, and drops the rest of the request.
  void refuse(Connection& c, const std::shared_ptr<Pistache::Tcp::Peer>& peer, Http::Code status,
              const std::string& message) {
    const bool tooLarge = status == Http::Code::Request_Entity_Too_Large ||
                          status == Http::Code::Request_Header_Fields_Too_Large;
    try {
      Http::ResponseWriter response(Http::Version::Http11, transport(), this, peer);
      response.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
      // The tracking snippet must be able to read the answer from any origin.
      if (c.tracking || isTracking(c.head)) {
        response.headers().add<Http::Header::AccessControlAllowOrigin>("*");
      }
      http::sendError(response, status, tooLarge ? "payload_too_large" : "invalid_request",
                      message);
      services_->httpMetrics.record("unmatched", static_cast<int>(status), 0);
    } catch (const std::exception& e) {
      log::get("http")->debug("refusing a request: {}", e.what());
    }
    c.restart();
    c.refused = true;
  }

  void handle(const Http::Request& request, Http::ResponseWriter& response) {
    try {
      router_->dispatch(request, response);
    } catch (...) {
      try {
        http::sendException(
            response, std::current_exception(),
            std::string(Http::methodString(request.method())) + " " + request.resource());
      } catch (...) {
        // The response may already have been sent; nothing more can be said to the client.
      }
    }
  }

  std::shared_ptr<http::Router> router_;
  std::shared_ptr<Services> services_;
  std::size_t maxBody_;
};

}  // namespace

Server::Server(std::shared_ptr<Services> services)
    : services_(std::move(services)),
      live_(std::make_unique<ws::LiveServer>(*services_)),
      router_(std::make_shared<http::Router>()),
      metricsRouter_(std::make_shared<http::Router>()) {
  addApiRoutes(*router_, services_);
  addMetricsRoutes(*metricsRouter_, services_);
}

void Server::addApiRoutes(http::Router& router, const std::shared_ptr<Services>& services) {
  http::addHealthRoutes(router, services);
  http::addAccountRoutes(router, services);
  http::addWebsiteRoutes(router, services);
  http::addTrackRoutes(router, services);
  http::addCompatRoutes(router, services);
  http::addStatsRoutes(router, services);
  http::addGoalRoutes(router, services);
  http::addShareRoutes(router, services);
  http::addExportRoutes(router, services);
  http::addQueryRoutes(router, services);
  http::addOpenApiRoute(router);
  // Without services (a route table for the docs' tests) nothing is read.
  http::addWebRoutes(router, services,
                     services ? http::WebAssets::load(services->config.web.root)
                              : std::make_shared<const http::WebAssets>());
}

void Server::addMetricsRoutes(http::Router& router, const std::shared_ptr<Services>& services) {
  http::addMetricsRoute(router, services);
}

Server::~Server() {
  shutdown();
}

namespace {

Pistache::Address addressOf(const std::string& key, const std::string& listen) {
  std::string host;
  int port = 0;
  if (!config::splitHostPort(listen, host, port)) {
    throw ConfigError(key + ": not host:port: " + listen);
  }
  return Pistache::Address(host, Pistache::Port(static_cast<std::uint16_t>(port)));
}

}  // namespace

void Server::start() {
  const auto& cfg = services_->config.http;
  endpoint_ = std::make_unique<HttpListener>(addressOf("http.listen", cfg.listen));
  HttpListenerOptions opts;
  opts.threads = cfg.threads;
  opts.threadsName = "mp-http";
  opts.flags = Pistache::Flags<Pistache::Tcp::Options>(Pistache::Tcp::Options::ReuseAddr);
  opts.backlog = 1024;
  // Past what Handler::onInput lets through, so it answers (as JSON) first.
  opts.maxRequestSize = Handler::rawLimit(static_cast<std::size_t>(cfg.maxBodyBytes)) + 4096;
  opts.maxResponseSize = 4 * 1024 * 1024;
  endpoint_->init(opts, Http::make_handler<Handler>(router_, services_));
  try {
    endpoint_->serveThreaded();
  } catch (const std::exception& e) {
    endpoint_.reset();
    throw Error("cannot listen on " + cfg.listen + ": " + e.what());
  }
  log::get("http")->info("listening on http://{}", cfg.listen);
  try {
    startMetrics();
    live_->start();
  } catch (...) {
    if (metricsEndpoint_) metricsEndpoint_->shutdown();
    metricsEndpoint_.reset();
    endpoint_->shutdown();
    endpoint_.reset();
    throw;
  }
}

void Server::startMetrics() {
  const std::string& listen = services_->config.metrics.listen;
  if (listen.empty()) return;
  metricsEndpoint_ = std::make_unique<HttpListener>(addressOf("metrics.listen", listen));
  HttpListenerOptions opts;
  opts.threads = 1;
  opts.threadsName = "mp-metrics";
  opts.flags = Pistache::Flags<Pistache::Tcp::Options>(Pistache::Tcp::Options::ReuseAddr);
  opts.maxRequestSize =
      Handler::rawLimit(static_cast<std::size_t>(services_->config.http.maxBodyBytes)) + 4096;
  opts.maxResponseSize = 4 * 1024 * 1024;
  metricsEndpoint_->init(opts, Http::make_handler<Handler>(metricsRouter_, services_));
  try {
    metricsEndpoint_->serveThreaded();
  } catch (const std::exception& e) {
    metricsEndpoint_.reset();
    throw Error("cannot listen on " + listen + " (metrics.listen): " + e.what());
  }
  log::get("http")->info("metrics on http://{}/metrics", listen);
}

void Server::shutdown() {
  // Live-feed clients first, so they hear "going away" rather than a dropped connection.
  live_->stop();
  // A listener's threads stop here; its objects stay until the Server goes: an answer finished
  // later on another thread (the blocking pool's, the tracker's for the compat routes) writes
  // through Pistache's transport by pointer. Services::stop() waits for those first.
  if (metricsEndpoint_) {
    metricsEndpoint_->shutdown();
    retired_.push_back(std::move(metricsEndpoint_));
  }
  if (!endpoint_) return;
  endpoint_->shutdown();
  retired_.push_back(std::move(endpoint_));
  log::get("http")->info("HTTP server stopped");
}

int Server::port() const {
  return endpoint_ ? static_cast<int>(static_cast<std::uint16_t>(endpoint_->getPort())) : 0;
}

int Server::wsPort() const {
  return live_->port();
}

std::string Server::unresponsive(std::chrono::milliseconds timeout) const {
  // The live feed's loop sweeps its clients every second.
  constexpr auto kLiveLoopLate = std::chrono::seconds(5);
  try {
    std::string host;
    int configuredPort = 0;
    if (!endpoint_ || !config::splitHostPort(services_->config.http.listen, host, configuredPort)) {
      return "the HTTP API is not running";
    }
    if (!answersHttp(host, port(), "/healthz", timeout)) {
      return fmt::format("the HTTP API did not answer GET /healthz on {} within {} ms",
                         services_->config.http.listen, timeout.count());
    }
    const auto late = live_->sinceLastSweep();
    if (late > kLiveLoopLate) {
      return fmt::format("the live feed's event loop has not turned for {} s",
                         std::chrono::duration_cast<std::chrono::seconds>(late).count());
    }
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

int Server::metricsPort() const {
  return metricsEndpoint_
             ? static_cast<int>(static_cast<std::uint16_t>(metricsEndpoint_->getPort()))
             : 0;
}

}  // namespace mp::daemon
