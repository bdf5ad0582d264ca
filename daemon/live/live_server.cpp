// LiveServer: the listener's set-up, the loop thread, shutdown and hand-over to the loop;
// connections.cpp and rooms.cpp hold the rest of the Impl.
#include "live/live_impl.hpp"
#include "redis/sentinel.hpp"
#include "util/sched.hpp"

namespace mp::ws {

void LiveServer::Impl::start() {
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
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
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
  flushEvent = event_new(base, -1, 0, &Impl::onFlush, this);
  {
    std::lock_guard lock(inboxMutex);
    inboxClosed = false;
  }
  const timeval second = toTimeval(std::chrono::seconds(1));
  const timeval realtime = toTimeval(
      std::chrono::duration_cast<std::chrono::milliseconds>(kRealtimeInterval) / kRealtimeSlices);
  event_add(tick, &second);
  lastTick = Clock::now().time_since_epoch().count();
  event_add(realtimeTimer, &realtime);

  const auto url = redis::configuredUrl(services.config.redis);
  subscriber = std::make_unique<RedisLink>(base, url, "subscriber", [this] { resubscribe(); });
  commands = std::make_unique<RedisLink>(base, url, "commands", nullptr);
  subscriber->connect();
  commands->connect();

  thread = std::thread([this] {
    util::nameThread("mp-live");
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
  });
  log::get("ws")->info("live feed listening on ws://{}/ws", cfg.listen);
}

void LiveServer::Impl::stop() noexcept {
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

void LiveServer::Impl::release() noexcept {
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
  for (event** e : {&stopEvent, &tick, &realtimeTimer, &graceTimer, &inboxEvent, &flushEvent}) {
    if (*e) event_free(*e);
    *e = nullptr;
  }
  if (listener) evconnlistener_free(listener);
  listener = nullptr;
  if (base) event_base_free(base);
  base = nullptr;
  services.wsMetrics.clients = 0;
}

void LiveServer::Impl::onStop(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  try {
    self->beginShutdown();
  } catch (...) {
    self->finish();
  }
}

void LiveServer::Impl::beginShutdown() {
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

void LiveServer::Impl::post(std::function<void()> task) {
  std::lock_guard lock(inboxMutex);
  if (inboxClosed) return;
  inbox.push_back(std::move(task));
  event_active(inboxEvent, 0, 0);  // thread-safe: the base was made with pthreads locking
}

void LiveServer::Impl::onInbox(evutil_socket_t, short, void* arg) {
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

auto LiveServer::Impl::alive(Client* c, std::uint64_t serial) -> Client* {
  auto it = clients.find(c);
  return it != clients.end() && c->serial == serial ? c : nullptr;
}

void LiveServer::Impl::finish() noexcept {
  if (finished) return;
  finished = true;
  // Freed here, on the loop, so no hiredis callback runs on another thread.
  if (subscriber) subscriber->close();
  if (commands) commands->close();
  event_base_loopbreak(base);
}

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

std::chrono::steady_clock::duration LiveServer::sinceLastSweep() const noexcept {
  const auto last = impl_->lastTick.load();
  if (last == 0) return {};
  return Clock::now() - Clock::time_point(Clock::duration(last));
}
}  // namespace mp::ws
