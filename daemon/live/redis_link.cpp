// RedisLink: connect, AUTH/SELECT, and reconnect with doubling backoff (hiredis 0.14 async API).
#include "live/redis_link.hpp"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include <algorithm>

#include "log/log.hpp"
#include "redis/sentinel.hpp"

namespace mp::ws {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{100};
// Short enough that a dashboard notices little of a Redis restart, long enough not to spin.
constexpr std::chrono::milliseconds kMaxBackoff{2000};
// Each sentinel asked for the master's address gets this long to answer.
constexpr std::chrono::milliseconds kSentinelTimeout{300};

}  // namespace

RedisLink::RedisLink(event_base* base, redis::Url url, std::string name,
                     std::function<void()> onContext)
    : base_(base),
      url_(std::move(url)),
      name_(std::move(name)),
      onContext_(std::move(onContext)),
      retry_(evtimer_new(base, &RedisLink::onRetry, this)),
      backoff_(kFirstBackoff) {}

RedisLink::~RedisLink() {
  close();
  if (retry_) event_free(retry_);
}

void RedisLink::connect() noexcept {
  if (closed_ || ctx_) return;
  // With Sentinel the master's address is asked for here, on the loop: a few short loopback or
  // LAN round trips, bounded by the timeout, and only when (re)connecting.
  redis::Url target;
  try {
    target = redis::resolveMaster(url_, kSentinelTimeout);
  } catch (const std::exception& e) {
    log::get("ws")->warn("redis {}: {}", name_, e.what());
    lost(nullptr);
    return;
  }
  redisAsyncContext* ctx = target.isUnix() ? redisAsyncConnectUnix(target.unixSocket.c_str())
                                           : redisAsyncConnect(target.host.c_str(), target.port);
  if (!ctx) {
    lost("out of memory");
    return;
  }
  if (ctx->err) {
    log::get("ws")->warn("redis {}: cannot connect to {}: {}", name_, target.redacted(),
                         ctx->errstr);
    redisAsyncFree(ctx);
    lost(nullptr);
    return;
  }
  ctx->data = this;
  redisLibeventAttach(ctx, base_);
  redisAsyncSetConnectCallback(ctx, &RedisLink::onConnect);
  redisAsyncSetDisconnectCallback(ctx, &RedisLink::onDisconnect);
  ctx_ = ctx;
  // Queued now, written first once the socket connects: everything after runs authenticated.
  if (!url_.password.empty()) {
    if (url_.username.empty()) {
      redisAsyncCommand(ctx, nullptr, nullptr, "AUTH %b", url_.password.data(),
                        url_.password.size());
    } else {
      redisAsyncCommand(ctx, nullptr, nullptr, "AUTH %b %b", url_.username.data(),
                        url_.username.size(), url_.password.data(), url_.password.size());
    }
  }
  if (url_.db != 0) redisAsyncCommand(ctx, nullptr, nullptr, "SELECT %d", url_.db);
  try {
    if (onContext_) onContext_();
  } catch (...) {
    // The owner's commands are lost with this connection; the next one tries again.
  }
}

void RedisLink::close() noexcept {
  closed_ = true;
  if (retry_) evtimer_del(retry_);
  if (ctx_) {
    redisAsyncContext* ctx = ctx_;
    ctx_ = nullptr;
    connected_ = false;
    ctx->data = nullptr;  // the disconnect callback must not touch this object any more
    redisAsyncFree(ctx);
  }
}

void RedisLink::onConnect(const redisAsyncContext* ctx, int status) {
  auto* self = static_cast<RedisLink*>(ctx->data);
  if (!self) return;
  try {
    if (status != REDIS_OK) {
      // hiredis frees the context after this callback.
      log::get("ws")->warn("redis {}: cannot connect to {}: {}", self->name_, self->url_.redacted(),
                           ctx->errstr);
      self->ctx_ = nullptr;
      self->lost(nullptr);
      return;
    }
    self->connected_ = true;
    self->backoff_ = kFirstBackoff;
    // A subscriber only listens: TCP keep-alive is what notices a Redis that vanished without
    // closing the connection (a host gone, a partition).
    if (self->ctx_) redisEnableKeepAlive(&self->ctx_->c);
    log::get("ws")->info("redis {}: connected to {}", self->name_, self->url_.redacted());
  } catch (...) {
    // Never unwind into hiredis.
  }
}

void RedisLink::onDisconnect(const redisAsyncContext* ctx, int status) {
  auto* self = static_cast<RedisLink*>(ctx->data);
  if (!self) return;
  try {
    // hiredis frees the context after this callback.
    self->ctx_ = nullptr;
    self->connected_ = false;
    if (status != REDIS_OK) {
      log::get("ws")->warn("redis {}: connection lost: {}", self->name_, ctx->errstr);
    }
    self->lost(nullptr);
  } catch (...) {
    // Never unwind into hiredis.
  }
}

void RedisLink::lost(const char* why) noexcept {
  try {
    if (why) log::get("ws")->warn("redis {}: {}", name_, why);
  } catch (...) {
  }
  if (closed_ || !retry_) return;
  const timeval tv{static_cast<time_t>(backoff_.count() / 1000),
                   static_cast<suseconds_t>((backoff_.count() % 1000) * 1000)};
  evtimer_add(retry_, &tv);
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void RedisLink::onRetry(int /*fd*/, short /*what*/, void* arg) {
  static_cast<RedisLink*>(arg)->connect();
}

}  // namespace mp::ws
