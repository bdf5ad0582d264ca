// The state of one of the live server's loops (a shard), shared by its parts: live_server.cpp
// (set-up and shutdown), connections.cpp (accept, handshake, per-connection I/O, limits and
// keep-alive) and rooms.cpp (subscriptions per website, the Redis subscriber, fan-out and
// realtime pushes). Everything of a shard runs on its libevent loop thread but what post()
// hands over; the shards share only SharedCounts.
#pragma once

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <hiredis/async.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
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
#include "live/live_server.hpp"
#include "live/redis_link.hpp"
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

namespace mp::ws {
namespace live_detail {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using Frame = std::shared_ptr<const std::string>;

// How often realtime counts are pushed to every subscribed room (API.md: every 5 s).
constexpr std::chrono::seconds kRealtimeInterval{5};
// The rooms are asked in this many slices spread over the interval (a room's slice is a hash
// of its id), so that 10,000 dashboards get their counts in ten bursts of 1,000 frames rather
// than one of 10,000 that the events of that moment would wait behind.
constexpr int kRealtimeSlices = 10;
// How long a closing connection may take to take its last bytes and say goodbye.
constexpr std::chrono::seconds kCloseTimeout{5};
// How long stop() waits for the going-away frames to leave.
constexpr std::chrono::milliseconds kShutdownGrace{2000};
// Read in slices of this size so one busy client cannot hold the loop for long.
constexpr std::size_t kReadChunk = 16 * 1024;
// After this many upgrades the next quiet keep-alive tick trims the heap (sweep()).
constexpr std::size_t kTrimAfterUpgrades = 256;
// A client may follow this many websites at once; more is a runaway dashboard.
constexpr std::size_t kMaxRoomsPerClient = 256;

constexpr std::string_view kChannelPrefix = "events:";

inline timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

inline std::int64_t nowSeconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// The token of an upgrade request: ?token= first (browsers cannot set headers on a WebSocket),
// then Authorization: Bearer.
inline std::optional<std::string> requestToken(const RequestHead& head) {
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

inline Frame makeFrame(Opcode opcode, std::string_view payload) {
  return std::make_shared<const std::string>(encodeFrame(opcode, payload));
}

inline Frame textFrame(const json& message) {
  return makeFrame(Opcode::Text, message.dump());
}

// A connection's unsent frames, allocated only while there are some: an idle dashboard holds
// no output buffer at all. Frames are shared (one encoding per room), never copied.
struct Output {
  std::vector<Frame> frames;
  std::size_t head = 0;    // the first frame not wholly written
  std::size_t offset = 0;  // bytes of frames[head] already written
  std::size_t bytes = 0;   // unsent bytes in all

  void push(Frame frame) {
    bytes += frame->size();
    frames.push_back(std::move(frame));
  }

  // Forgets the `n` bytes the socket took from the front.
  void consume(std::size_t n) {
    bytes -= n;
    while (n > 0) {
      const std::size_t left = frames[head]->size() - offset;
      if (n < left) {
        offset += n;
        return;
      }
      n -= left;
      frames[head++].reset();
      offset = 0;
    }
    if (head == frames.size()) {
      frames.clear();
      head = 0;
    } else if (head >= 64 && head * 2 >= frames.size()) {
      frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
};

// Frames given to one sendmsg at most.
constexpr int kMaxIovecs = 64;

// A few strings (a client's rooms, its websites being looked up): a vector, searched linearly,
// whose storage is given back when it empties. An unordered_set would keep its bucket array,
// about 100 bytes, on each of 10,000 idle connections.
class StringList {
 public:
  /// Adds `s`; false when it was there already.
  bool insert(const std::string& s) {
    if (contains(s)) return false;
    items_.push_back(s);
    return true;
  }
  /// Removes `s`; false when it was not there.
  bool erase(const std::string& s) {
    const auto it = std::find(items_.begin(), items_.end(), s);
    if (it == items_.end()) return false;
    items_.erase(it);
    if (items_.empty()) std::vector<std::string>().swap(items_);
    return true;
  }
  bool contains(const std::string& s) const {
    return std::find(items_.begin(), items_.end(), s) != items_.end();
  }
  std::size_t count(const std::string& s) const { return contains(s) ? 1 : 0; }
  std::size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::string> items_;
};

// What the shards count together: websocket.max_clients, max_handshakes and
// max_clients_per_address are limits of the daemon, not of one loop. Taken once per connection
// and state change, never per message.
struct SharedCounts {
  std::mutex mutex;
  std::size_t connections = 0;
  std::size_t handshaking = 0;
  std::unordered_map<std::string, int> perAddress;
};

}  // namespace live_detail

using namespace live_detail;

struct LiveServer::Impl {
  enum class State { Handshake, Open, Closing, Draining };

  struct Client {
    Impl* server = nullptr;
    evutil_socket_t fd = -1;
    // The socket's one event: readable, and writable while output waits for room in the socket
    // (`interest` holds what it is added for; 0 when not added). Held here rather than in a
    // bufferevent: the connection's lasting state is this struct alone.
    event ev{};
    short interest = 0;
    std::unique_ptr<Output> out;  // only while output is unsent
    std::uint64_t serial = 0;     // tells a client from a later one at the same address
    State state = State::Handshake;
    std::string address;          // the per-address limit's key; empty for trusted proxies
    bool authenticating = false;  // its account is being looked up; reading waits
    StringList resolving;         // subscribes waiting for a website lookup
    // The upgrade request being read; freed once the connection is open.
    std::unique_ptr<RequestParser> request = std::make_unique<RequestParser>();
    FrameParser frames{ParserOptions{Role::Server, kDefaultMaxMessageBytes}};
    std::string userId;
    StringList rooms;
    Clock::time_point since;      // when the current state began
    Clock::time_point lastHeard;  // last bytes from the client
    Clock::time_point lastPing;
    bool dirty = false;  // in `unflushed`: its output waits for this loop turn's flush
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

  Impl(daemon::Services& s, SharedCounts& counts, int index, int count)
      : services(s),
        cfg(s.config.websocket),
        shared(counts),
        shardIndex(index),
        shardCount(count) {}

  daemon::Services& services;
  const config::WebSocketConfig& cfg;
  SharedCounts& shared;
  int shardIndex = 0;
  int shardCount = 1;
  event_base* base = nullptr;
  evconnlistener* listener = nullptr;
  event* stopEvent = nullptr;
  event* tick = nullptr;
  event* realtimeTimer = nullptr;
  int realtimeSlice = 0;  // the slice of rooms the next realtime timer asks
  event* graceTimer = nullptr;
  std::unique_ptr<RedisLink> subscriber;
  std::unique_ptr<RedisLink> commands;
  std::unordered_map<Client*, std::unique_ptr<Client>> clients;
  std::unordered_map<std::string, Room> rooms;
  // SUBSCRIBE and UNSUBSCRIBE commands per website still waiting for their reply on the current
  // subscriber connection; a room is confirmed when its count falls to 0.
  std::unordered_map<std::string, int> inflight;
  // This loop's connections still in State::Handshake (the shared counts hold the daemon's).
  std::size_t handshaking = 0;
  // Connections upgraded since the heap was last trimmed (sweep()).
  std::size_t upgradedSinceTrim = 0;
  Frame pingFrame;
  std::uint64_t nextSerial = 0;
  // Work handed back to the loop by other threads (answers of the website and account caches).
  std::mutex inboxMutex;
  std::vector<std::function<void()>> inbox;
  event* inboxEvent = nullptr;
  // Open clients given output this loop turn, written by onFlush once the turn's callbacks are
  // done: one write per client per turn whatever the frames, and no write event round trip.
  // A client destroyed before the flush is nulled in it (destroy()).
  std::vector<Client*> unflushed;
  event* flushEvent = nullptr;
  bool inboxClosed = true;
  std::thread thread;
  int boundPort = 0;
  // When the loop last ran onTick (steady clock, in its own ticks), for the watchdog; 0 before
  // start().
  std::atomic<Clock::rep> lastTick{0};
  bool stopping = false;
  bool finished = false;

  // ---- set-up and shutdown --------------------------------------------------------------

  // Binds websocket.listen, or its host and `portOverride` when that is not -1 (the port the
  // first shard bound), shared with the other shards when there are some.
  void start(int portOverride);

  // Asks the loop to close its clients and end (from another thread); join() waits for it.
  void requestStop() noexcept;
  void join() noexcept;

  // After the loop ended, on the stopping thread.
  void release() noexcept;

  static void onStop(evutil_socket_t, short, void* arg);

  void beginShutdown();

  static void onGrace(evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->finish(); }

  // From any thread: runs `task` on the loop soon; dropped once the loop is gone.
  void post(std::function<void()> task);

  static void onInbox(evutil_socket_t, short, void* arg);

  // The client `c` was when a task was posted, if it is still connected.
  Client* alive(Client* c, std::uint64_t serial);

  void finish() noexcept;

  // ---- connections --------------------------------------------------------------------

  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int, void* arg);

  static void onAcceptError(evconnlistener*, void*);

  // The key of the per-address limit: IPv4 as is, IPv6 by its /64 (one customer's network),
  // IPv4-mapped IPv6 as IPv4; empty (no limit) for trusted proxies, whose clients the limit
  // cannot tell apart before the request is read.
  std::string addressKey(const sockaddr* peer) const;

  void accept(evutil_socket_t fd, const sockaddr* peer);

  // Moves a client to `next`, keeping the count of connections in their handshake.
  void setState(Client& c, State next);

  // The socket's event: writes what waits (when writable), then reads (when readable).
  static void onSocket(evutil_socket_t, short what, void* arg);

  // (Re)adds the client's event for `what` (EV_READ, EV_WRITE, both or 0).
  void watch(Client& c, short what);

  // One read of at most kReadChunk bytes, handed to the handshake or the frame parser.
  void read(Client& c);

  // The socket has room: write, and when all is written let a closing client hang up.
  void writable(Client& c);

  void handshake(Client& c, std::string_view data);

  // The end of a handshake whose token is genuine: upgrade when its account still holds it.
  void admit(Client& c, const auth::Claims& claims, const std::string& key,
             users::TokenStanding standing, const std::string& rest);

  void refuse(Client& c, const std::string& response);

  void frames(Client& c, std::string_view data);

  void message(Client& c, const std::string& text);

  void subscribeChecked(Client& c, const std::string& id, const std::string& given,
                        const db::Lookup<sites::CachedSite>& site);

  // ---- output -------------------------------------------------------------------------

  // Queues bytes for the socket whatever the state and bound (answers to the handshake, the
  // Close frame).
  void queue(Client& c, Frame frame);

  // Writes the client's output until it is all written or the socket is full; false when the
  // socket is broken.
  bool writeOut(Client& c);

  // Queues a shared frame on the client's socket; a client whose unsent output would pass
  // websocket.max_output_bytes is disconnected instead (returns false: the caller must then
  // destroy it, outside any loop over a room).
  bool enqueue(Client& c, const Frame& frame);

  void send(Client& c, const Frame& frame);

  static void onFlush(evutil_socket_t, short, void* arg);

  // Writes every unflushed client's output straight to its socket; what the socket does not
  // take waits for the socket's write event.
  void flush();

  void fanout(const std::string& websiteId, const Frame& frame);

  void closeWith(Client& c, std::uint16_t code, std::string_view reason);

  // The Close frame goes out whatever the output bound (it is small and the last one).
  void sendClose(Client& c, std::string frame);

  // Output flushed: half-close so the client reads everything before seeing the end, then wait
  // for its own end (or the close timeout) before freeing.
  void drain(Client& c);

  void destroy(Client* c);

  // ---- rooms and Redis ----------------------------------------------------------------

  // Answers "subscribed" now when Redis already feeds the room, else once it confirms.
  void join(Client& c, const std::string& id);

  static Frame subscribedFrame(const std::string& id);

  // Redis confirmed the room's subscription: answer the members that asked meanwhile.
  void confirm(const std::string& id);

  // `answer`: a client leaving before Redis confirmed its subscription still gets its
  // "subscribed", so that every request has its answer, in order.
  void leave(Client& c, const std::string& id, bool answer = false);

  void leaveAll(Client& c);

  void subscribe(const std::string& id);

  void unsubscribe(const std::string& id);

  // Every room with local members, again: a new Redis connection has no subscriptions. First
  // the anchor, a channel nobody publishes on, held for the connection's life: with it the
  // subscription count never falls to 0, which in hiredis 0.14 would take the context out of
  // subscribed mode while other SUBSCRIBE replies are still on their way (an assertion there).
  void resubscribe();

  static void onChannel(redisAsyncContext*, void* r, void* arg);

  void channelReply(const redisReply& reply);

  static void onRealtime(evutil_socket_t, short, void* arg);

  void queryRealtime();

  static void onRealtimeReply(redisAsyncContext*, void* r, void* arg);

  // ---- keep-alive ---------------------------------------------------------------------

  static void onTick(evutil_socket_t, short, void* arg);

  void sweep();
};

struct LiveServer::Shared {
  explicit Shared(daemon::Services& s) : services(s) {}
  daemon::Services& services;
  std::mutex lifecycle;  // start() and stop() from other threads
  SharedCounts counts;
  std::vector<std::unique_ptr<Impl>> shards;
};

}  // namespace mp::ws
