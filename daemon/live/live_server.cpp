// LiveServer: the listener's set-up, the loop thread, shutdown and hand-over to the loop;
// connections.cpp and rooms.cpp hold the rest of the Impl.
#include <unistd.h>

#include <cstring>

#include "live/live_impl.hpp"
#include "redis/sentinel.hpp"
#include "util/sched.hpp"

namespace mp::ws {

void LiveServer::Impl::start(int portOverride) {
  std::string host;
  int port = 0;
  if (!config::splitHostPort(cfg.listen, host, port)) {
    throw ConfigError("websocket.listen: not host:port: " + cfg.listen);
  }
  if (portOverride >= 0) port = portOverride;
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
  // Every shard listens on the port itself: the kernel spreads the connections over them. A
  // port that shares itself so would also share with another process of this user already
  // listening there (a second daemon): the first shard makes sure nobody holds it.
  if (shardCount > 1 && portOverride < 0 && port != 0) {
    const int probe = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    const bool taken =
        probe >= 0 && (setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                       bind(probe, found->ai_addr, found->ai_addrlen) != 0);
    const int error = errno;
    if (probe >= 0) close(probe);
    if (taken) {
      freeaddrinfo(found);
      throw Error("cannot listen on " + cfg.listen + " (websocket): " + std::strerror(error));
    }
  }
  const unsigned flags =
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | (shardCount > 1 ? LEV_OPT_REUSEABLE_PORT : 0U);
  listener = evconnlistener_new_bind(base, &Impl::onAccept, this, flags, 1024, found->ai_addr,
                                     static_cast<int>(found->ai_addrlen));
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

  thread = std::thread([this] { event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY); });
  util::nameThread(thread,
                   shardCount == 1 ? "mp-live" : ("mp-live-" + std::to_string(shardIndex)).c_str());
}

void LiveServer::Impl::requestStop() noexcept {
  if (thread.joinable()) event_active(stopEvent, 0, 0);  // thread-safe: pthreads locking
}

void LiveServer::Impl::join() noexcept {
  if (thread.joinable()) thread.join();
  release();
}

void LiveServer::Impl::release() noexcept {
  {
    std::lock_guard lock(inboxMutex);
    inboxClosed = true;
    inbox.clear();
  }
  for (auto& [ptr, client] : clients) {
    if (client->interest != 0) event_del(&client->ev);
    if (client->fd >= 0) evutil_closesocket(client->fd);
  }
  clients.clear();
  handshaking = 0;
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

int LiveServer::loopsFor(int threads) noexcept {
  if (threads > 0) return threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores, 1U, 4U));
}

LiveServer::LiveServer(daemon::Services& services) : shared_(std::make_unique<Shared>(services)) {}

LiveServer::~LiveServer() {
  stop();
}

void LiveServer::start() {
  std::lock_guard lock(shared_->lifecycle);
  if (!shared_->shards.empty()) return;
  auto& services = shared_->services;
  const int loops = loopsFor(services.config.websocket.threads);
  try {
    for (int i = 0; i < loops; ++i) {
      auto shard = std::make_unique<Impl>(services, shared_->counts, i, loops);
      Impl& started = *shard;
      shared_->shards.push_back(std::move(shard));
      try {
        // The first shard binds websocket.listen (port 0: any free one); the others its port.
        started.start(i == 0 ? -1 : shared_->shards.front()->boundPort);
      } catch (...) {
        started.release();
        throw;
      }
    }
  } catch (...) {
    for (auto& shard : shared_->shards) shard->requestStop();
    for (auto& shard : shared_->shards) shard->join();
    shared_->shards.clear();
    throw;
  }
  log::get("ws")->info("live feed listening on ws://{}/ws ({} event loop{})",
                       services.config.websocket.listen, loops, loops == 1 ? "" : "s");
}

void LiveServer::stop() noexcept {
  std::lock_guard lock(shared_->lifecycle);
  if (shared_->shards.empty()) return;
  // Every loop says goodbye to its clients at once; then each is waited for.
  for (auto& shard : shared_->shards) shard->requestStop();
  for (auto& shard : shared_->shards) shard->join();
  shared_->shards.clear();
  {
    std::lock_guard counts(shared_->counts.mutex);
    shared_->counts.connections = 0;
    shared_->counts.handshaking = 0;
    shared_->counts.perAddress.clear();
  }
  shared_->services.wsMetrics.clients = 0;
  try {
    log::get("ws")->info("live feed stopped");
  } catch (...) {
  }
}

int LiveServer::port() const noexcept {
  std::lock_guard lock(shared_->lifecycle);
  return shared_->shards.empty() ? 0 : shared_->shards.front()->boundPort;
}

std::chrono::steady_clock::duration LiveServer::sinceLastSweep() const noexcept {
  std::lock_guard lock(shared_->lifecycle);
  Clock::duration stalest{};
  for (const auto& shard : shared_->shards) {
    const auto last = shard->lastTick.load();
    if (last == 0) continue;
    stalest = std::max(stalest, Clock::now() - Clock::time_point(Clock::duration(last)));
  }
  return stalest;
}
}  // namespace mp::ws
