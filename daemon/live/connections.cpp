// The live server's connections: accept, per-address and handshake limits, the upgrade
// handshake, frames in, frames out with the output bound, closing, keep-alive.
#include "auth/session_cookie.hpp"
#include "live/live_impl.hpp"

namespace mp::ws {

void LiveServer::Impl::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int,
                                void* arg) {
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

void LiveServer::Impl::onAcceptError(evconnlistener*, void*) {
  try {
    log::get("ws")->error("accept failed: {}",
                          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  } catch (...) {
  }
}

std::string LiveServer::Impl::addressKey(const sockaddr* peer) const {
  if (cfg.maxClientsPerAddress <= 0 || peer == nullptr) return {};
  const std::string key = util::addressBucket(*peer);
  if (key.empty() || services.config.http.trustedProxies.empty()) return key;
  const std::string host = util::addressText(*peer);
  for (const auto& cidr : services.config.http.trustedProxies) {
    if (util::inCidr(host, cidr)) return {};
  }
  return key;
}

void LiveServer::Impl::accept(evutil_socket_t fd, const sockaddr* peer) {
  if (stopping) {
    evutil_closesocket(fd);
    return;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (evutil_make_socket_nonblocking(fd) != 0) {
    evutil_closesocket(fd);
    return;
  }
  auto client = std::make_unique<Client>();
  Client* c = client.get();
  c->server = this;
  c->fd = fd;
  c->serial = ++nextSerial;
  c->since = c->lastHeard = c->lastPing = Clock::now();
  c->address = addressKey(peer);
  bool full = false;
  bool crowded = false;
  int fromAddress = 0;
  {
    std::lock_guard lock(shared.mutex);
    full = shared.connections >= static_cast<std::size_t>(cfg.maxClients);
    crowded = shared.handshaking >= static_cast<std::size_t>(cfg.maxHandshakes);
    if (!c->address.empty()) fromAddress = shared.perAddress[c->address]++;
    ++shared.connections;
    ++shared.handshaking;
  }
  clients.emplace(c, std::move(client));
  ++handshaking;
  watch(*c, EV_READ);
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

void LiveServer::Impl::setState(Client& c, State next) {
  if (c.state == State::Handshake && next != State::Handshake) {
    --handshaking;
    std::lock_guard lock(shared.mutex);
    --shared.handshaking;
  }
  c.state = next;
}

void LiveServer::Impl::onSocket(evutil_socket_t, short what, void* arg) {
  auto* c = static_cast<Client*>(arg);
  Impl* self = c->server;
  const std::uint64_t serial = c->serial;
  try {
    if (what & EV_WRITE) {
      self->writable(*c);
      if (!self->alive(c, serial)) return;
    }
    if (what & EV_READ) self->read(*c);
  } catch (const std::exception& e) {
    log::get("ws")->error("client i/o: {}", e.what());
    self->destroy(c);
  } catch (...) {
    self->destroy(c);
  }
}

void LiveServer::Impl::watch(Client& c, short what) {
  if (what == c.interest) return;
  if (c.interest != 0) event_del(&c.ev);
  c.interest = 0;
  if (what == 0) return;
  event_assign(&c.ev, base, c.fd, static_cast<short>(what | EV_PERSIST), &Impl::onSocket, &c);
  if (event_add(&c.ev, nullptr) == 0) c.interest = what;
}

void LiveServer::Impl::read(Client& c) {
  // Not initialised: recv fills what it returns.
  std::array<char, kReadChunk> chunk;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  const ssize_t n = recv(c.fd, chunk.data(), chunk.size(), 0);
  if (n == 0) {
    destroy(&c);  // the client hung up
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) destroy(&c);
    return;
  }
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

void LiveServer::Impl::writable(Client& c) {
  if (!writeOut(c)) {
    destroy(&c);  // reset by the peer
    return;
  }
  if (c.out) return;  // the socket is full again
  // All written: a closing connection may now hang up; an open one goes back to being written
  // by flush().
  if (c.state == State::Closing) drain(c);
  watch(c, static_cast<short>(c.interest & ~EV_WRITE));
}

void LiveServer::Impl::handshake(Client& c, std::string_view data) {
  const auto status = c.request->feed(data);
  if (status == RequestParser::Status::NeedMore) return;
  if (status == RequestParser::Status::Bad) {
    refuse(c, badRequestResponse(*c.request));
    return;
  }
  const RequestHead& head = c.request->head();
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
  auto token = requestToken(head);
  if (!token) {
    if (auto cookies = head.header("Cookie")) {
      token = auth::cookieValue(*cookies, auth::kSessionCookie);
      // The dashboard's cookie goes with every handshake to this host, whichever page opens
      // it: only a page of the same host (the live feed has a port of its own) or of an
      // allowed origin may use it.
      auto origin = head.header("Origin");
      auto host = head.header("Host");
      const bool sameHost = origin && host && auth::hostOf(*origin) == auth::hostOf(*host);
      if (token && !sameHost && cfg.allowedOrigins.empty()) {
        refuse(c, errorResponse(403, "forbidden",
                                "the session cookie is accepted only from a page of this host"));
        return;
      }
    }
  }
  if (!token || token->empty()) {
    refuse(c, errorResponse(401, "unauthorized",
                            "a token is required (?token=, Authorization: Bearer or the "
                            "dashboard's session cookie)",
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
  const std::size_t consumed = c.request->consumed();
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
  watch(c, static_cast<short>(c.interest & ~EV_READ));
  Client* client = &c;
  const std::uint64_t serial = c.serial;
  const bool queued = services.accounts.resolveAsync(
      claims.sub,
      [this, client, serial, claims, key = hs.key, rest](const db::Lookup<std::int64_t>& account) {
        post([this, client, serial, claims, key, rest, account] {
          Client* waiting = alive(client, serial);
          if (!waiting) return;
          waiting->authenticating = false;
          admit(*waiting, claims, key, users::standing(account, claims.ver), rest);
          // What arrived meanwhile waits in the socket.
          if (alive(waiting, serial))
            watch(*waiting, static_cast<short>(waiting->interest | EV_READ));
        });
      });
  if (!queued) {
    c.authenticating = false;
    refuse(c, errorResponse(503, "unavailable", "the server is busy; try again shortly",
                            {{"Retry-After", "1"}}));
  }
}

void LiveServer::Impl::admit(Client& c, const auth::Claims& claims, const std::string& key,
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
  // From now on the output is written by flush(), at the end of each loop turn; the write
  // event only finishes what a full socket did not take.
  queue(c, std::make_shared<const std::string>(answer));
  setState(c, State::Open);
  c.dirty = true;
  unflushed.push_back(&c);
  event_active(flushEvent, 0, 0);
  c.since = Clock::now();
  ++services.wsMetrics.clients;
  c.request.reset();  // the head and its buffer are not needed for the connection's lifetime
  ++upgradedSinceTrim;
  if (!rest.empty()) frames(c, rest);
}

void LiveServer::Impl::refuse(Client& c, const std::string& response) {
  ++services.wsMetrics.refused;
  queue(c, std::make_shared<const std::string>(response));
  setState(c, State::Closing);
  c.since = Clock::now();
  // The write event sends the answer, then drain() hangs up.
  watch(c, static_cast<short>((c.authenticating ? 0 : EV_READ) | EV_WRITE));
}

void LiveServer::Impl::frames(Client& c, std::string_view data) {
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

void LiveServer::Impl::message(Client& c, const std::string& text) {
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
  const std::optional<std::string> canonical = util::canonicalUuid(given);
  if (type == "unsubscribe") {
    // Not a UUID: never subscribed, so nothing to leave; answered all the same.
    if (canonical) {
      c.resolving.erase(*canonical);
      leave(c, *canonical, true);
    }
    send(c, textFrame({{"type", "unsubscribed"}, {"websiteId", canonical.value_or(given)}}));
    return;
  }
  if (!canonical) {
    send(c, textFrame({{"type", "error"}, {"code", "not_found"}, {"websiteId", given}}));
    return;
  }
  const std::string& id = *canonical;
  const auto site = services.sites.peek(id);
  if (site.state != db::Known::kUnsure) {
    subscribeChecked(c, id, given, site);
    return;
  }
  // Not cached (created a moment ago, perhaps on another daemon): looked up on the cache's
  // thread, answered here afterwards.
  if (!c.resolving.insert(id)) return;  // already being looked up for this client
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

void LiveServer::Impl::subscribeChecked(Client& c, const std::string& id, const std::string& given,
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

void LiveServer::Impl::queue(Client& c, Frame frame) {
  if (!c.out) c.out = std::make_unique<Output>();
  c.out->push(std::move(frame));
}

bool LiveServer::Impl::writeOut(Client& c) {
  while (c.out) {
    Output& o = *c.out;
    std::array<iovec, kMaxIovecs> iov;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    std::size_t count = 0;
    std::size_t asked = 0;
    std::size_t skip = o.offset;
    for (std::size_t i = o.head; i < o.frames.size() && count < iov.size(); ++i) {
      const std::string& f = *o.frames[i];
      iov[count].iov_base = const_cast<char*>(f.data() + skip);  // NOLINT: sendmsg only reads
      iov[count].iov_len = f.size() - skip;
      asked += iov[count].iov_len;
      skip = 0;
      ++count;
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    const ssize_t n = sendmsg(c.fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    o.consume(static_cast<std::size_t>(n));
    if (o.bytes == 0) {
      c.out.reset();  // an idle connection holds no output buffer
      return true;
    }
    if (static_cast<std::size_t>(n) < asked) return true;  // the socket is full
  }
  return true;
}

bool LiveServer::Impl::enqueue(Client& c, const Frame& frame) {
  if (c.state != State::Open) return true;
  const std::size_t pending = c.out ? c.out->bytes : 0;
  if (pending + frame->size() > static_cast<std::size_t>(cfg.maxOutputBytes)) {
    ++services.wsMetrics.framesDropped;
    ++services.wsMetrics.slowClients;
    log::get("ws")->info("dropping a client with {} unsent bytes (websocket.max_output_bytes)",
                         pending);
    return false;
  }
  queue(c, frame);
  ++services.wsMetrics.framesSent;
  if (!c.dirty) {
    c.dirty = true;
    if (unflushed.empty()) event_active(flushEvent, 0, 0);
    unflushed.push_back(&c);
  }
  return true;
}

void LiveServer::Impl::onFlush(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  try {
    self->flush();
  } catch (const std::exception& e) {
    log::get("ws")->error("flush: {}", e.what());
  } catch (...) {
  }
}

void LiveServer::Impl::flush() {
  std::vector<Client*> batch;
  batch.swap(unflushed);
  std::vector<Client*> broken;
  for (Client* c : batch) {
    if (!c) continue;  // destroyed since
    c->dirty = false;
    // A closing client's write event writes for it, as does an open one's whose socket was
    // full.
    if (c->state != State::Open || !c->out || (c->interest & EV_WRITE) != 0) continue;
    if (!writeOut(*c)) {
      broken.push_back(c);  // reset by the peer: its read side will say so too
      continue;
    }
    if (c->out) watch(*c, static_cast<short>(c->interest | EV_WRITE));
  }
  for (Client* c : broken) destroy(c);
}

void LiveServer::Impl::send(Client& c, const Frame& frame) {
  if (!enqueue(c, frame)) destroy(&c);
}

void LiveServer::Impl::closeWith(Client& c, std::uint16_t code, std::string_view reason) {
  std::string frame;
  try {
    frame = encodeCloseFrame(code, reason);
  } catch (const std::exception&) {
    frame = encodeCloseFrame(code);
  }
  sendClose(c, std::move(frame));
}

void LiveServer::Impl::sendClose(Client& c, std::string frame) {
  if (c.state != State::Open) return;
  // The write event writes the rest, then drain() hangs up (writable()).
  queue(c, std::make_shared<const std::string>(std::move(frame)));
  watch(c, static_cast<short>(c.interest | EV_WRITE));
  setState(c, State::Closing);
  c.since = Clock::now();
  --services.wsMetrics.clients;
  leaveAll(c);
}

void LiveServer::Impl::drain(Client& c) {
  setState(c, State::Draining);
  c.since = Clock::now();
  shutdown(c.fd, SHUT_WR);
}

void LiveServer::Impl::destroy(Client* c) {
  auto it = clients.find(c);
  if (it == clients.end()) return;
  if (c->state == State::Open) --services.wsMetrics.clients;
  if (c->state == State::Handshake) --handshaking;
  {
    std::lock_guard lock(shared.mutex);
    --shared.connections;
    if (c->state == State::Handshake) --shared.handshaking;
    if (!c->address.empty()) {
      auto counted = shared.perAddress.find(c->address);
      if (counted != shared.perAddress.end() && --counted->second <= 0) {
        shared.perAddress.erase(counted);
      }
    }
  }
  leaveAll(*c);
  if (c->dirty) {
    // Rare (a client dropped with output of this turn): flush() must not see it.
    std::replace(unflushed.begin(), unflushed.end(), c, static_cast<Client*>(nullptr));
  }
  watch(*c, 0);
  evutil_closesocket(c->fd);
  c->fd = -1;
  clients.erase(it);
  if (stopping && clients.empty()) finish();
}

void LiveServer::Impl::onTick(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  self->lastTick = Clock::now().time_since_epoch().count();
  try {
    self->sweep();
  } catch (const std::exception& e) {
    log::get("ws")->error("keep-alive: {}", e.what());
  } catch (...) {
  }
}

void LiveServer::Impl::sweep() {
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
  // Each upgrade frees its request's head and buffers, which leaves holes between the
  // connections' lasting state: after a wave of dashboards, once no handshake is under way,
  // the free pages go back to the system (glibc returns whole free pages inside the heap too).
  if (upgradedSinceTrim >= kTrimAfterUpgrades && handshaking == 0) {
    upgradedSinceTrim = 0;
    malloc_trim(0);
  }
}

}  // namespace mp::ws
