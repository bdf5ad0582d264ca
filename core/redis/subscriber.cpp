// Subscriber: a blocking hiredis connection read only when poll(2) says so, so that stop() is
// noticed within kPollInterval without a time-out that would tear the subscription down.
#include "redis/subscriber.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>

#include "log/log.hpp"
#include "redis/hiredis_reply.hpp"
#include "redis/sentinel.hpp"
#include "util/error.hpp"
#include "util/sched.hpp"

namespace mp::redis {
namespace {

constexpr std::chrono::milliseconds kPollInterval{200};
constexpr std::chrono::milliseconds kConnectTimeout{2000};
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

using ReplyPtr = std::unique_ptr<redisReply, detail::ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* ctx) const noexcept { redisFree(ctx); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// A command's reply on a fresh connection (AUTH, SUBSCRIBE); throws RedisError.
ReplyPtr command(redisContext* ctx, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (raw == nullptr) throw RedisError(std::string("redis subscriber: ") + ctx->errstr);
  ReplyPtr reply(raw);
  if (reply->type == REDIS_REPLY_ERROR) {
    throw RedisError("redis subscriber: " + std::string(reply->str, reply->len));
  }
  return reply;
}

}  // namespace

void announce(Client& client, std::string_view channel, std::string_view message) {
  const Reply reply = client.command({"PUBLISH", channel, message});
  if (reply.isError()) throw RedisError("PUBLISH answered " + reply.debugString());
}

Subscriber::Subscriber(Url url, std::string channel,
                       std::function<void(std::string_view)> onMessage,
                       std::function<void()> onSubscribed)
    : url_(std::move(url)),
      channel_(std::move(channel)),
      onMessage_(std::move(onMessage)),
      onSubscribed_(std::move(onSubscribed)) {}

Subscriber::~Subscriber() {
  stop();
}

void Subscriber::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    util::nameThread("mp-subscriber");
    run();
  });
}

void Subscriber::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Subscriber::run() {
  auto backoff = kFirstBackoff;
  bool failing = false;
  while (!stopping_) {
    try {
      if (!listen()) return;
      backoff = kFirstBackoff;
    } catch (const std::exception& e) {
      subscribed_ = false;
      if (!failing) {
        try {
          log::get("redis")->warn("{} subscriber: {}; retrying", channel_, e.what());
        } catch (...) {
        }
      }
      failing = true;
      // Sleep the backoff in slices, so stop() stays quick.
      const auto until = std::chrono::steady_clock::now() + backoff;
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::min(kPollInterval, backoff));
      }
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    failing = false;
  }
}

bool Subscriber::listen() {
  const timeval tv = toTimeval(kConnectTimeout);
  // Messages published on the master reach its replicas too, but a failover is followed best
  // by the master of the moment (sentinels asked anew at every connect).
  const Url target = resolveMaster(url_, kConnectTimeout);
  ContextPtr ctx(target.isUnix() ? redisConnectUnixWithTimeout(target.unixSocket.c_str(), tv)
                                 : redisConnectWithTimeout(target.host.c_str(), target.port, tv));
  if (!ctx || ctx->err != 0) {
    throw RedisError("cannot connect to " + target.redacted() + ": " +
                     (ctx ? std::string(ctx->errstr) : std::string("out of memory")));
  }
  // Replies to the commands below come within the connect time-out; messages are read only
  // once poll(2) says there are bytes, so no read ever waits.
  redisSetTimeout(ctx.get(), tv);
  if (!target.isUnix()) redisEnableKeepAlive(ctx.get());
  if (!url_.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!url_.username.empty()) auth.emplace_back(url_.username);
    auth.emplace_back(url_.password);
    command(ctx.get(), auth);
  }
  command(ctx.get(), {"SUBSCRIBE", channel_});
  subscribed_ = true;
  log::get("redis")->info("subscribed to {} at {}", channel_, target.redacted());
  try {
    if (onSubscribed_) onSubscribed_();
  } catch (const std::exception& e) {
    log::get("redis")->error("{} subscriber: {}", channel_, e.what());
  }
  while (!stopping_) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx.get(), &raw) != REDIS_OK) {
      throw RedisError("protocol error on the subscription: " + std::string(ctx->errstr));
    }
    if (raw == nullptr) {
      pollfd fd{ctx->fd, POLLIN, 0};
      const int ready = poll(&fd, 1, static_cast<int>(kPollInterval.count()));
      if (ready < 0 && errno != EINTR) throw RedisError("poll failed on the subscription");
      if (ready <= 0) continue;
      if (redisBufferRead(ctx.get()) != REDIS_OK) {
        throw RedisError("subscription lost: " + std::string(ctx->errstr));
      }
      continue;
    }
    const ReplyPtr reply(static_cast<redisReply*>(raw));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) continue;
    const redisReply* kind = reply->element[0];
    const redisReply* payload = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING || std::string_view(kind->str, kind->len) != "message" ||
        payload->type != REDIS_REPLY_STRING) {
      continue;
    }
    try {
      onMessage_(std::string_view(payload->str, payload->len));
    } catch (const std::exception& e) {
      log::get("redis")->error("{} subscriber: {}", channel_, e.what());
    }
  }
  return false;
}

}  // namespace mp::redis
