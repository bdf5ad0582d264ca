// LiveServer: listener, handshake, per-client frame handling, rooms fed by Redis pub/sub,
// realtime pushes, keep-alive and shutdown, all on one libevent loop thread.
#include "ws/live_server.hpp"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <hiredis/async.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "log/log.hpp"
#include "redis/keys.hpp"
#include "services.hpp"
#include "sites/site_cache.hpp"
#include "users/account_cache.hpp"
#include "util/error.hpp"
#include "util/net.hpp"
#include "util/uuid.hpp"
#include "ws/frame.hpp"
#include "ws/frame_parser.hpp"
#include "ws/handshake.hpp"
#include "ws/http_request.hpp"
#include "ws/redis_link.hpp"

namespace mp::ws {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using Frame = std::shared_ptr<const std::string>;

// How often realtime counts are pushed to every subscribed room (API.md: every 5 s).
constexpr std::chrono::seconds kRealtimeInterval{5};
// How long a closing connection may take to take its last bytes and say goodbye.
constexpr std::chrono::seconds kCloseTimeout{5};
// How long stop() waits for the going-away frames to leave.
constexpr std::chrono::milliseconds kShutdownGrace{2000};
// Read in slices of this size so one busy client cannot hold the loop for long.
constexpr std::size_t kReadChunk = 16 * 1024;
// A client may follow this many websites at once; more is a runaway dashboard.
constexpr std::size_t kMaxRoomsPerClient = 256;

constexpr std::string_view kChannelPrefix = "events:";

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::int64_t nowSeconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The token of an upgrade request: ?token= first (browsers cannot set headers on a WebSocket),
// then Authorization: Bearer.
std::optional<std::string> requestToken(const RequestHead& head) {
  if (auto token = head.queryParam("token"); token && !token->empty()) return token;
  auto auth = head.header("Authorization");
  if (!auth) return std::nullopt;
  constexpr std::string_view kScheme = "bearer ";
  if (auth->size() <= kScheme.size() || !equalsIgnoreCase(auth->substr(0, kScheme.size()), kScheme))
    return std::nullopt;
  std::string_view token = auth->substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

Frame makeFrame(Opcode opcode, std::string_view payload) {
  return std::make_shared<const std::string>(encodeFrame(opcode, payload));
}

Frame textFrame(const json& message) {
  return makeFrame(Opcode::Text, message.dump());
}

// evbuffer_add_reference's cleanup: the socket has sent (or dropped) its share of a frame.
void releaseFrame(const void* /*data*/, size_t /*len*/, void* holder) {
  delete static_cast<Frame*>(holder);
}

}  // namespace

struct LiveServer::Impl {
  enum class State { Handshake, Open, Closing, Draining };

  struct Client {
    Impl* server = nullptr;
    bufferevent* bev = nullptr;
    std::uint64_t serial = 0;  // tells a client from a later one at the same address
    State state = State::Handshake;
    std::string address;          // the per-address limit's key; empty for trusted proxies
    bool authenticating = false;  // its account is being looked up; reading waits
    std::unordered_set<std::string> resolving;  // subscribes waiting for a website lookup
    RequestParser request;
    FrameParser frames{ParserOptions{Role::Server, kDefaultMaxMessageBytes}};
    std::string userId;
    std::unordered_set<std::string> rooms;
    Clock::time_point since;      // when the current state began
    Clock::time_point lastHeard;  // last bytes from the client
    Clock::time_point lastPing;
  };

  struct Room {
    std::unordered_set<Client*> members;
    /// True once Redis confirmed the subscription on the current connection: only then is a
    /// joining client told "subscribed", so every event published afterwards reaches it.
    bool confirmed = false;
    /// Members still waiting for their "subscribed" answer.
    std::vector<Client*> waiting;
  };

  // A realtime query in flight: which room it is for.
  struct RealtimeQuery {
    Impl* server;
    std::string websiteId;
  };

  explicit Impl(daemon::Services& s) : services(s), cfg(s.config.websocket) {}

  daemon::Services& services;
  const config::WebSocketConfig& cfg;
  event_base* base = nullptr;
  evconnlistener* listener = nullptr;
  event* stopEvent = nullptr;
  event* tick = nullptr;
  event* realtimeTimer = nullptr;
  event* graceTimer = nullptr;
  std::unique_ptr<RedisLink> subscriber;
  std::unique_ptr<RedisLink> commands;
  std::unordered_map<Client*, std::unique_ptr<Client>> clients;
  std::unordered_map<std::string, Room> rooms;
  // SUBSCRIBE and UNSUBSCRIBE commands per website still waiting for their reply on the current
  // subscriber connection; a room is confirmed when its count falls to 0.
  std::unordered_map<std::string, int> inflight;
  // Connections still in State::Handshake, and connections per client address: the caps that
  // keep clients who never log in from crowding out dashboards.
  std::size_t handshaking = 0;
  std::unordered_map<std::string, int> perAddress;
  Frame pingFrame;
  std::uint64_t nextSerial = 0;
  // Work handed back to the loop by other threads (answers of the website and account caches).
  std::mutex inboxMutex;
  std::vector<std::function<void()>> inbox;
  event* inboxEvent = nullptr;
  bool inboxClosed = true;
  std::thread thread;
  std::mutex lifecycle;  // start() and stop() from other threads
  int boundPort = 0;
  bool stopping = false;
  bool finished = false;

  // ---- set-up and shutdown --------------------------------------------------------------

  void start() {
    std::string host;
    int port = 0;
    if (!config::splitHostPort(cfg.listen, host, port)) {
      throw ConfigError("websocket.listen: not host:port: " + cfg.listen);
    }
    static std::once_flag threadsOnce;
    std::call_once(threadsOnce, [] { evthread_use_pthreads(); });
    base = event_base_new();
    if (!base) throw Error("websocket: cannot create the event loop");

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (int rc =
            getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0) {
      throw ConfigError("websocket.listen: cannot resolve " + cfg.listen + ": " + gai_strerror(rc));
    }
    listener = evconnlistener_new_bind(base, &Impl::onAccept, this,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                       found->ai_addr, static_cast<int>(found->ai_addrlen));
    freeaddrinfo(found);
    if (!listener) throw Error("cannot listen on " + cfg.listen + " (websocket)");
    evconnlistener_set_error_cb(listener, &Impl::onAcceptError);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr*>(&bound), &len) ==
        0) {
      boundPort = bound.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }

    pingFrame = makeFrame(Opcode::Ping, "");
    stopEvent = event_new(base, -1, 0, &Impl::onStop, this);
    tick = event_new(base, -1, EV_PERSIST, &Impl::onTick, this);
    realtimeTimer = event_new(base, -1, EV_PERSIST, &Impl::onRealtime, this);
    graceTimer = evtimer_new(base, &Impl::onGrace, this);
    inboxEvent = event_new(base, -1, 0, &Impl::onInbox, this);
    {
      std::lock_guard lock(inboxMutex);
      inboxClosed = false;
    }
    const timeval second = toTimeval(std::chrono::seconds(1));
    const timeval realtime = toTimeval(kRealtimeInterval);
    event_add(tick, &second);
    event_add(realtimeTimer, &realtime);

    const auto url = redis::Url::parse(services.config.redis.url);
    subscriber = std::make_unique<RedisLink>(base, url, "subscriber", [this] { resubscribe(); });
    commands = std::make_unique<RedisLink>(base, url, "commands", nullptr);
    subscriber->connect();
    commands->connect();

    thread = std::thread([this] { event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY); });
    log::get("ws")->info("live feed listening on ws://{}/ws", cfg.listen);
  }

  void stop() noexcept {
    if (!thread.joinable()) {
      release();
      return;
    }
    event_active(stopEvent, 0, 0);  // thread-safe: the base was made with pthreads locking
    thread.join();
    release();
    try {
      log::get("ws")->info("live feed stopped");
    } catch (...) {
    }
  }

  // After the loop ended, on the stopping thread.
  void release() noexcept {
    {
      std::lock_guard lock(inboxMutex);
      inboxClosed = true;
      inbox.clear();
    }
    for (auto& [ptr, client] : clients) {
      if (client->bev) bufferevent_free(client->bev);
    }
    clients.clear();
    handshaking = 0;
    perAddress.clear();
    rooms.clear();
    subscriber.reset();
    commands.reset();
    for (event** e : {&stopEvent, &tick, &realtimeTimer, &graceTimer, &inboxEvent}) {
      if (*e) event_free(*e);
      *e = nullptr;
    }
    if (listener) evconnlistener_free(listener);
    listener = nullptr;
    if (base) event_base_free(base);
    base = nullptr;
    services.wsMetrics.clients = 0;
  }

  static void onStop(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    try {
      self->beginShutdown();
    } catch (...) {
      self->finish();
    }
  }

  void beginShutdown() {
    stopping = true;
    if (listener) evconnlistener_disable(listener);
    std::vector<Client*> all;
    for (auto& [ptr, c] : clients) all.push_back(ptr);
    for (Client* c : all) {
      if (c->state == State::Open) {
        closeWith(*c, kCloseGoingAway, "server shutting down");
      } else {
        destroy(c);
      }
    }
    if (clients.empty()) {
      finish();
      return;
    }
    const timeval grace = toTimeval(kShutdownGrace);
    evtimer_add(graceTimer, &grace);
  }

  static void onGrace(evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->finish(); }

  // From any thread: runs `task` on the loop soon; dropped once the loop is gone.
  void post(std::function<void()> task) {
    std::lock_guard lock(inboxMutex);
    if (inboxClosed) return;
    inbox.push_back(std::move(task));
    event_active(inboxEvent, 0, 0);  // thread-safe: the base was made with pthreads locking
  }

  static void onInbox(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(self->inboxMutex);
      tasks.swap(self->inbox);
    }
    for (auto& task : tasks) {
      try {
        task();
      } catch (const std::exception& e) {
        log::get("ws")->error("live feed: {}", e.what());
      } catch (...) {
      }
    }
  }

  // The client `c` was when a task was posted, if it is still connected.
  Client* alive(Client* c, std::uint64_t serial) {
    auto it = clients.find(c);
    return it != clients.end() && c->serial == serial ? c : nullptr;
  }

  void finish() noexcept {
    if (finished) return;
    finished = true;
    // Freed here, on the loop, so no hiredis callback runs on another thread.
    if (subscriber) subscriber->close();
    if (commands) commands->close();
    event_base_loopbreak(base);
  }

  // ---- connections --------------------------------------------------------------------

  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    try {
      self->accept(fd, peer);
    } catch (const std::exception& e) {
      evutil_closesocket(fd);
      log::get("ws")->error("accept: {}", e.what());
    } catch (...) {
      evutil_closesocket(fd);
    }
  }

  static void onAcceptError(evconnlistener*, void*) {
    try {
      log::get("ws")->error("accept failed: {}",
                            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    } catch (...) {
    }
  }

  // The key of the per-address limit: IPv4 as is, IPv6 by its /64 (one customer's network),
  // IPv4-mapped IPv6 as IPv4; empty (no limit) for trusted proxies, whose clients the limit
  // cannot tell apart before the request is read.
  std::string addressKey(const sockaddr* peer) const {
    if (cfg.maxClientsPerAddress <= 0 || peer == nullptr) return {};
    const std::string key = util::addressBucket(*peer);
    if (key.empty() || services.config.http.trustedProxies.empty()) return key;
    const std::string host = util::addressText(*peer);
    for (const auto& cidr : services.config.http.trustedProxies) {
      if (util::inCidr(host, cidr)) return {};
    }
    return key;
  }

  void accept(evutil_socket_t fd, const sockaddr* peer) {
    if (stopping) {
      evutil_closesocket(fd);
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent* bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
      evutil_closesocket(fd);
      return;
    }
    auto client = std::make_unique<Client>();
    Client* c = client.get();
    c->server = this;
    c->bev = bev;
    c->serial = ++nextSerial;
    c->since = c->lastHeard = c->lastPing = Clock::now();
    c->address = addressKey(peer);
    const bool full = clients.size() >= static_cast<std::size_t>(cfg.maxClients);
    const bool crowded = handshaking >= static_cast<std::size_t>(cfg.maxHandshakes);
    const int fromAddress = c->address.empty() ? 0 : perAddress[c->address]++;
    clients.emplace(c, std::move(client));
    ++handshaking;
    bufferevent_setcb(bev, &Impl::onRead, &Impl::onWrite, &Impl::onEvent, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    // Answered before the request is read: the limits protect the loop, not the request.
    if (full) {
      refuse(*c, errorResponse(503, "unavailable", "too many live-feed clients; try again later",
                               {{"Retry-After", "5"}}));
    } else if (crowded) {
      ++services.wsMetrics.refusedHandshakes;
      refuse(*c, errorResponse(503, "unavailable",
                               "too many live-feed connections are still in their handshake; try "
                               "again later",
                               {{"Retry-After", "5"}}));
    } else if (fromAddress >= cfg.maxClientsPerAddress && !c->address.empty()) {
      ++services.wsMetrics.refusedPerAddress;
      refuse(*c,
             errorResponse(429, "rate_limited", "too many live-feed connections from this address",
                           {{"Retry-After", "5"}}));
    }
  }

  // Moves a client to `next`, keeping the count of connections in their handshake.
  void setState(Client& c, State next) {
    if (c.state == State::Handshake && next != State::Handshake) --handshaking;
    c.state = next;
  }

  static void onRead(bufferevent*, void* arg) {
    auto* c = static_cast<Client*>(arg);
    Impl* self = c->server;
    try {
      self->read(*c);
    } catch (const std::exception& e) {
      log::get("ws")->error("client read: {}", e.what());
      self->destroy(c);
    } catch (...) {
      self->destroy(c);
    }
  }

  static void onWrite(bufferevent*, void* arg) {
    auto* c = static_cast<Client*>(arg);
    Impl* self = c->server;
    try {
      // Called once the output has drained: a closing connection may now hang up.
      if (c->state == State::Closing) self->drain(*c);
    } catch (...) {
      self->destroy(c);
    }
  }

  static void onEvent(bufferevent*, short what, void* arg) {
    auto* c = static_cast<Client*>(arg);
    Impl* self = c->server;
    try {
      if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) self->destroy(c);
    } catch (...) {
    }
  }

  void read(Client& c) {
    evbuffer* in = bufferevent_get_input(c.bev);
    std::array<char, kReadChunk> chunk{};
    while (clients.count(&c) && !c.authenticating && evbuffer_get_length(in) > 0) {
      const int n = evbuffer_remove(in, chunk.data(), chunk.size());
      if (n <= 0) break;
      c.lastHeard = Clock::now();
      const std::string_view data(chunk.data(), static_cast<std::size_t>(n));
      switch (c.state) {
        case State::Handshake:
          handshake(c, data);
          break;
        case State::Open:
          frames(c, data);
          break;
        case State::Closing:
        case State::Draining:
          break;  // what a closing client still sends is of no interest
      }
    }
  }

  void handshake(Client& c, std::string_view data) {
    const auto status = c.request.feed(data);
    if (status == RequestParser::Status::NeedMore) return;
    if (status == RequestParser::Status::Bad) {
      refuse(c, badRequestResponse(c.request));
      return;
    }
    const RequestHead& head = c.request.head();
    const auto path = head.path();
    if (!path || *path != "/ws") {
      refuse(c, errorResponse(404, "not_found", "the live feed is at /ws"));
      return;
    }
    const Handshake hs = checkHandshake(head);
    if (!hs.ok()) {
      refuse(c, hs.response());
      return;
    }
    if (!cfg.allowedOrigins.empty()) {
      // Browsers always send Origin; a client without one is not a web page and the token
      // protects it.
      if (auto origin = head.header("Origin")) {
        const bool allowed =
            std::any_of(cfg.allowedOrigins.begin(), cfg.allowedOrigins.end(),
                        [&](const std::string& o) { return equalsIgnoreCase(o, *origin); });
        if (!allowed) {
          refuse(c, errorResponse(403, "forbidden", "this Origin may not use the live feed"));
          return;
        }
      }
    }
    const auto token = requestToken(head);
    if (!token) {
      refuse(c, errorResponse(401, "unauthorized",
                              "a token is required (?token= or Authorization: Bearer)",
                              {{"WWW-Authenticate", "Bearer"}}));
      return;
    }
    auto verified = auth::verifyToken(*token, services.jwtSecret, nowSeconds());
    if (!verified.claims) {
      log::get("ws")->debug("token refused: {}", auth::describe(verified.error));
      refuse(c, errorResponse(401, "unauthorized", "the token is invalid or has expired",
                              {{"WWW-Authenticate", "Bearer"}}));
      return;
    }
    // Bytes after the head are the first frames.
    const std::size_t consumed = c.request.consumed();
    std::string rest(consumed < data.size() ? data.substr(consumed) : std::string_view());
    const auth::Claims claims = *verified.claims;
    const auto standing = users::standing(services.accounts.peek(claims.sub), claims.ver);
    if (standing != users::TokenStanding::kUnsure) {
      admit(c, claims, hs.key, standing, rest);
      return;
    }
    // Not cached: the account is looked up on the cache's thread, and the upgrade goes on here
    // afterwards; until then nothing more is read from this client.
    c.authenticating = true;
    Client* client = &c;
    const std::uint64_t serial = c.serial;
    const bool queued =
        services.accounts.resolveAsync(claims.sub, [this, client, serial, claims, key = hs.key,
                                                    rest](const db::Lookup<std::int64_t>& account) {
          post([this, client, serial, claims, key, rest, account] {
            Client* waiting = alive(client, serial);
            if (!waiting) return;
            waiting->authenticating = false;
            admit(*waiting, claims, key, users::standing(account, claims.ver), rest);
            // What arrived meanwhile waits in the input buffer.
            if (clients.count(waiting) && waiting->state == State::Open) read(*waiting);
          });
        });
    if (!queued) {
      c.authenticating = false;
      refuse(c, errorResponse(503, "unavailable", "the server is busy; try again shortly",
                              {{"Retry-After", "1"}}));
    }
  }

  // The end of a handshake whose token is genuine: upgrade when its account still holds it.
  void admit(Client& c, const auth::Claims& claims, const std::string& key,
             users::TokenStanding standing, const std::string& rest) {
    if (standing == users::TokenStanding::kUnsure) {
      refuse(c, errorResponse(503, "unavailable", "the account could not be checked; try again",
                              {{"Retry-After", "5"}}));
      return;
    }
    if (standing == users::TokenStanding::kRevoked) {
      refuse(c, errorResponse(401, "unauthorized",
                              "the token is no longer valid (account deleted or password changed)",
                              {{"WWW-Authenticate", "Bearer"}}));
      return;
    }
    c.userId = claims.sub;
    const std::string answer = acceptResponse(key);
    bufferevent_write(c.bev, answer.data(), answer.size());
    setState(c, State::Open);
    c.since = Clock::now();
    ++services.wsMetrics.clients;
    c.request = RequestParser();  // frees the head's buffer for the connection's lifetime
    if (!rest.empty()) frames(c, rest);
  }

  void refuse(Client& c, const std::string& response) {
    ++services.wsMetrics.refused;
    bufferevent_write(c.bev, response.data(), response.size());
    setState(c, State::Closing);
    c.since = Clock::now();
  }

  void frames(Client& c, std::string_view data) {
    for (Event& e : c.frames.feed(data)) {
      // An answer may have found the client over its output bound and freed it.
      if (!clients.count(&c) || c.state != State::Open) return;
      switch (e.type) {
        case Event::Type::Text:
          message(c, e.payload);
          break;
        case Event::Type::Binary:
          closeWith(c, kCloseUnsupportedData, "binary messages are not understood");
          break;
        case Event::Type::Ping:
          send(c, makeFrame(Opcode::Pong, e.payload));
          break;
        case Event::Type::Pong:
          break;  // lastHeard is enough
        case Event::Type::Close:
          // Echo the code (none when the client sent none) and hang up.
          if (isValidCloseCode(e.code)) {
            closeWith(c, e.code, "");
          } else {
            sendClose(c, encodeFrame(Opcode::Close, ""));
          }
          break;
        case Event::Type::Error:
          log::get("ws")->debug("client protocol error {}: {}", e.code, e.payload);
          closeWith(c, e.code, e.payload);
          break;
      }
    }
  }

  void message(Client& c, const std::string& text) {
    const json msg = json::parse(text, nullptr, false);
    if (!msg.is_object() || !msg.contains("type") || !msg["type"].is_string()) {
      send(c, textFrame({{"type", "error"},
                         {"code", "invalid_request"},
                         {"message", "expected a JSON object with a \"type\""}}));
      return;
    }
    const std::string type = msg["type"].get<std::string>();
    if (type != "subscribe" && type != "unsubscribe") {
      send(c, textFrame({{"type", "error"},
                         {"code", "invalid_request"},
                         {"message", "type must be subscribe or unsubscribe"}}));
      return;
    }
    if (!msg.contains("websiteId") || !msg["websiteId"].is_string()) {
      send(c, textFrame({{"type", "error"},
                         {"code", "invalid_request"},
                         {"message", "websiteId (a string) is required"}}));
      return;
    }
    const std::string given = msg["websiteId"].get<std::string>();
    const std::string id = lower(given);
    if (type == "unsubscribe") {
      c.resolving.erase(id);
      leave(c, id, true);
      send(c, textFrame({{"type", "unsubscribed"}, {"websiteId", id}}));
      return;
    }
    if (!util::isUuid(id)) {
      send(c, textFrame({{"type", "error"}, {"code", "not_found"}, {"websiteId", given}}));
      return;
    }
    const auto site = services.sites.peek(id);
    if (site.state != db::Known::kUnsure) {
      subscribeChecked(c, id, given, site);
      return;
    }
    // Not cached (created a moment ago, perhaps on another daemon): looked up on the cache's
    // thread, answered here afterwards.
    if (!c.resolving.insert(id).second) return;  // already being looked up for this client
    Client* client = &c;
    const std::uint64_t serial = c.serial;
    const bool queued = services.sites.resolveAsync(
        id, [this, client, serial, id, given](const db::Lookup<sites::CachedSite>& found) {
          post([this, client, serial, id, given, found] {
            Client* waiting = alive(client, serial);
            // An unsubscribe meanwhile was answered already.
            if (!waiting || waiting->state != State::Open || !waiting->resolving.erase(id)) return;
            subscribeChecked(*waiting, id, given, found);
          });
        });
    if (!queued) {
      c.resolving.erase(id);
      send(c, textFrame({{"type", "error"},
                         {"code", "unavailable"},
                         {"websiteId", given},
                         {"message", "the server is busy; try again shortly"}}));
    }
  }

  void subscribeChecked(Client& c, const std::string& id, const std::string& given,
                        const db::Lookup<sites::CachedSite>& site) {
    if (site.state == db::Known::kUnsure) {
      send(c, textFrame({{"type", "error"},
                         {"code", "unavailable"},
                         {"websiteId", given},
                         {"message", "the website could not be looked up; try again"}}));
      return;
    }
    // The same answer for a website that does not exist and one of another account, so the
    // feed does not reveal which ids exist.
    if (site.state == db::Known::kAbsent || site.value.userId != c.userId) {
      send(c, textFrame({{"type", "error"}, {"code", "not_found"}, {"websiteId", given}}));
      return;
    }
    if (!c.rooms.count(id) && c.rooms.size() >= kMaxRoomsPerClient) {
      send(c, textFrame({{"type", "error"},
                         {"code", "invalid_request"},
                         {"websiteId", id},
                         {"message", "too many subscriptions on one connection"}}));
      return;
    }
    join(c, id);
  }

  // ---- output -------------------------------------------------------------------------

  // Queues a shared frame on the client's socket; a client whose unsent output would pass
  // websocket.max_output_bytes is disconnected instead (returns false: the caller must then
  // destroy it, outside any loop over a room).
  bool enqueue(Client& c, const Frame& frame) {
    if (c.state != State::Open) return true;
    evbuffer* out = bufferevent_get_output(c.bev);
    if (evbuffer_get_length(out) + frame->size() > static_cast<std::size_t>(cfg.maxOutputBytes)) {
      ++services.wsMetrics.framesDropped;
      ++services.wsMetrics.slowClients;
      log::get("ws")->info("dropping a client with {} unsent bytes (websocket.max_output_bytes)",
                           evbuffer_get_length(out));
      return false;
    }
    auto* holder = new Frame(frame);
    if (evbuffer_add_reference(out, frame->data(), frame->size(), &releaseFrame, holder) != 0) {
      delete holder;
      return false;
    }
    ++services.wsMetrics.framesSent;
    return true;
  }

  void send(Client& c, const Frame& frame) {
    if (!enqueue(c, frame)) destroy(&c);
  }

  void fanout(const std::string& websiteId, const Frame& frame) {
    auto it = rooms.find(websiteId);
    if (it == rooms.end()) return;
    std::vector<Client*> slow;
    for (Client* c : it->second.members) {
      if (!enqueue(*c, frame)) slow.push_back(c);
    }
    for (Client* c : slow) destroy(c);
  }

  void closeWith(Client& c, std::uint16_t code, std::string_view reason) {
    std::string frame;
    try {
      frame = encodeCloseFrame(code, reason);
    } catch (const std::exception&) {
      frame = encodeCloseFrame(code);
    }
    sendClose(c, std::move(frame));
  }

  // The Close frame goes out whatever the output bound (it is small and the last one).
  void sendClose(Client& c, std::string frame) {
    if (c.state != State::Open) return;
    bufferevent_write(c.bev, frame.data(), frame.size());
    setState(c, State::Closing);
    c.since = Clock::now();
    --services.wsMetrics.clients;
    leaveAll(c);
  }

  // Output flushed: half-close so the client reads everything before seeing the end, then wait
  // for its own end (or the close timeout) before freeing.
  void drain(Client& c) {
    setState(c, State::Draining);
    c.since = Clock::now();
    shutdown(bufferevent_getfd(c.bev), SHUT_WR);
  }

  void destroy(Client* c) {
    auto it = clients.find(c);
    if (it == clients.end()) return;
    if (c->state == State::Open) --services.wsMetrics.clients;
    if (c->state == State::Handshake) --handshaking;
    if (!c->address.empty()) {
      auto counted = perAddress.find(c->address);
      if (counted != perAddress.end() && --counted->second <= 0) perAddress.erase(counted);
    }
    leaveAll(*c);
    bufferevent_free(c->bev);
    c->bev = nullptr;
    clients.erase(it);
    if (stopping && clients.empty()) finish();
  }

  // ---- rooms and Redis ----------------------------------------------------------------

  // Answers "subscribed" now when Redis already feeds the room, else once it confirms.
  void join(Client& c, const std::string& id) {
    if (!c.rooms.insert(id).second) {
      auto it = rooms.find(id);
      const bool waiting = it != rooms.end() &&
                           std::find(it->second.waiting.begin(), it->second.waiting.end(), &c) !=
                               it->second.waiting.end();
      if (!waiting) send(c, subscribedFrame(id));
      return;
    }
    Room& room = rooms[id];
    room.members.insert(&c);
    if (room.members.size() == 1) subscribe(id);
    if (room.confirmed) {
      send(c, subscribedFrame(id));
    } else {
      room.waiting.push_back(&c);
    }
  }

  static Frame subscribedFrame(const std::string& id) {
    return textFrame({{"type", "subscribed"}, {"websiteId", id}});
  }

  // Redis confirmed the room's subscription: answer the members that asked meanwhile.
  void confirm(const std::string& id) {
    auto it = rooms.find(id);
    if (it == rooms.end()) return;
    it->second.confirmed = true;
    const std::vector<Client*> waiting = std::move(it->second.waiting);
    it->second.waiting.clear();
    const Frame frame = subscribedFrame(id);
    std::vector<Client*> slow;
    for (Client* c : waiting) {
      if (clients.count(c) && !enqueue(*c, frame)) slow.push_back(c);
    }
    for (Client* c : slow) destroy(c);
  }

  // `answer`: a client leaving before Redis confirmed its subscription still gets its
  // "subscribed", so that every request has its answer, in order.
  void leave(Client& c, const std::string& id, bool answer = false) {
    if (!c.rooms.erase(id)) return;
    auto it = rooms.find(id);
    if (it == rooms.end()) return;
    it->second.members.erase(&c);
    auto& waiting = it->second.waiting;
    const auto kept = std::remove(waiting.begin(), waiting.end(), &c);
    const bool wasWaiting = kept != waiting.end();
    waiting.erase(kept, waiting.end());
    if (it->second.members.empty()) {
      rooms.erase(it);
      unsubscribe(id);
    }
    if (answer && wasWaiting) send(c, subscribedFrame(id));
  }

  void leaveAll(Client& c) {
    const std::vector<std::string> ids(c.rooms.begin(), c.rooms.end());
    for (const auto& id : ids) leave(c, id);
  }

  void subscribe(const std::string& id) {
    redisAsyncContext* ctx = subscriber ? subscriber->context() : nullptr;
    if (!ctx) return;  // resubscribe() sends it once Redis is back
    const std::string channel = redis::eventsChannel(id);
    if (redisAsyncCommand(ctx, &Impl::onChannel, this, "SUBSCRIBE %b", channel.data(),
                          channel.size()) == REDIS_OK) {
      ++inflight[id];
    }
  }

  void unsubscribe(const std::string& id) {
    redisAsyncContext* ctx = subscriber ? subscriber->context() : nullptr;
    if (!ctx) return;
    const std::string channel = redis::eventsChannel(id);
    // Fails (harmlessly) when hiredis knows of no subscription, e.g. right after a reconnect.
    if (redisAsyncCommand(ctx, &Impl::onChannel, this, "UNSUBSCRIBE %b", channel.data(),
                          channel.size()) == REDIS_OK) {
      ++inflight[id];
    }
  }

  // Every room with local members, again: a new Redis connection has no subscriptions. First
  // the anchor, a channel nobody publishes on, held for the connection's life: with it the
  // subscription count never falls to 0, which in hiredis 0.14 would take the context out of
  // subscribed mode while other SUBSCRIBE replies are still on their way (an assertion there).
  void resubscribe() {
    redisAsyncContext* ctx = subscriber ? subscriber->context() : nullptr;
    if (!ctx) return;
    inflight.clear();
    for (auto& [id, room] : rooms) room.confirmed = false;
    const std::string anchor = redis::eventsChannel("");
    redisAsyncCommand(ctx, &Impl::onChannel, this, "SUBSCRIBE %b", anchor.data(), anchor.size());
    for (const auto& [id, room] : rooms) subscribe(id);
  }

  static void onChannel(redisAsyncContext*, void* r, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    auto* reply = static_cast<redisReply*>(r);
    if (!reply || !self) return;  // the connection is being freed
    try {
      self->channelReply(*reply);
    } catch (const std::exception& e) {
      log::get("ws")->error("live feed message: {}", e.what());
    } catch (...) {
    }
  }

  void channelReply(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 3) return;
    const redisReply* kind = reply.element[0];
    const redisReply* channel = reply.element[1];
    if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING) return;
    const std::string_view name(channel->str, channel->len);
    if (name.substr(0, kChannelPrefix.size()) != kChannelPrefix) return;
    const std::string id(name.substr(kChannelPrefix.size()));
    if (id.empty()) return;  // the anchor
    const std::string_view type(kind->str, kind->len);
    if (type == "message") {
      const redisReply* payload = reply.element[2];
      if (payload->type != REDIS_REPLY_STRING) return;
      // The tracker publishes the API's frame text: encode it once, share it with the room.
      fanout(id, makeFrame(Opcode::Text, std::string_view(payload->str, payload->len)));
      return;
    }
    if (type == "unsubscribe" && rooms.count(id)) {
      // hiredis forgot this channel when the reply came; a client joined meanwhile.
      subscribe(id);
    }
    if (type != "subscribe" && type != "unsubscribe") return;
    auto it = inflight.find(id);
    if (it != inflight.end() && --it->second > 0) return;
    if (it != inflight.end()) inflight.erase(it);
    // Nothing else in flight: the last command was a SUBSCRIBE when the room exists.
    if (type == "subscribe") confirm(id);
  }

  static void onRealtime(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    try {
      self->queryRealtime();
    } catch (const std::exception& e) {
      log::get("ws")->error("realtime: {}", e.what());
    } catch (...) {
    }
  }

  void queryRealtime() {
    redisAsyncContext* ctx = commands ? commands->context() : nullptr;
    if (!ctx || stopping) return;
    // The same count as GET /stats/{id}/realtime: sessions seen within the window.
    const std::string since = std::to_string(nowSeconds() - redis::kRealtimeWindow.count());
    for (const auto& [id, room] : rooms) {
      const std::string key = redis::realtimeKey(id);
      auto* query = new RealtimeQuery{this, id};
      if (redisAsyncCommand(ctx, &Impl::onRealtimeReply, query, "ZCOUNT %b %b +inf", key.data(),
                            key.size(), since.data(), since.size()) != REDIS_OK) {
        delete query;
      }
    }
  }

  static void onRealtimeReply(redisAsyncContext*, void* r, void* arg) {
    std::unique_ptr<RealtimeQuery> query(static_cast<RealtimeQuery*>(arg));
    auto* reply = static_cast<redisReply*>(r);
    if (!reply || !query) return;
    try {
      if (reply->type != REDIS_REPLY_INTEGER) {
        if (reply->type == REDIS_REPLY_ERROR) {
          log::get("ws")->warn("realtime ZCOUNT: {}", std::string(reply->str, reply->len));
        }
        return;
      }
      if (!query->server->rooms.count(query->websiteId)) return;
      query->server->fanout(query->websiteId, textFrame({{"type", "realtime"},
                                                         {"websiteId", query->websiteId},
                                                         {"activeSessions", reply->integer}}));
    } catch (...) {
    }
  }

  // ---- keep-alive ---------------------------------------------------------------------

  static void onTick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    try {
      self->sweep();
    } catch (const std::exception& e) {
      log::get("ws")->error("keep-alive: {}", e.what());
    } catch (...) {
    }
  }

  void sweep() {
    const auto now = Clock::now();
    std::vector<Client*> all;
    all.reserve(clients.size());
    for (auto& [ptr, c] : clients) all.push_back(ptr);
    for (Client* c : all) {
      if (!clients.count(c)) continue;
      switch (c->state) {
        case State::Handshake:
          if (now - c->since >= cfg.handshakeTimeout) {
            ++services.wsMetrics.handshakeTimeouts;
            destroy(c);
          }
          break;
        case State::Open:
          if (now - c->lastHeard >= cfg.idleTimeout) {
            closeWith(*c, kCloseGoingAway, "idle timeout");
          } else if (now - c->lastHeard >= cfg.pingInterval &&
                     now - c->lastPing >= cfg.pingInterval) {
            c->lastPing = now;
            send(*c, pingFrame);
          }
          break;
        case State::Closing:
        case State::Draining:
          if (now - c->since > kCloseTimeout) destroy(c);
          break;
      }
    }
  }
};

LiveServer::LiveServer(daemon::Services& services) : impl_(std::make_unique<Impl>(services)) {}

LiveServer::~LiveServer() {
  stop();
}

void LiveServer::start() {
  std::lock_guard lock(impl_->lifecycle);
  if (impl_->thread.joinable()) return;
  try {
    impl_->start();
  } catch (...) {
    impl_->release();
    throw;
  }
}

void LiveServer::stop() noexcept {
  std::lock_guard lock(impl_->lifecycle);
  impl_->stop();
}

int LiveServer::port() const noexcept {
  return impl_->boundPort;
}

}  // namespace mp::ws
