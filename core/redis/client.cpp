// The synchronous Redis client: lazy (re)connection, AUTH/SELECT, commands and pipelines.
#include "redis/client.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <csignal>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "redis/hiredis_reply.hpp"
#include "redis/sentinel.hpp"
#include "util/error.hpp"

namespace mp::redis {
namespace {

using ReplyPtr = std::unique_ptr<redisReply, detail::ReplyDeleter>;

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// hiredis writes with write(2), not send(MSG_NOSIGNAL): writing to a connection the server has
// reset raises SIGPIPE, whose default action kills the process. Ignore it unless the program
// installed its own handler, so a Redis restart costs an exception rather than the daemon.
void ignoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

// The command name for messages: the first argument, never the (possibly private) others.
std::string commandName(const char* data, std::size_t len) {
  constexpr std::size_t kMaxShown = 32;
  return std::string(data, len < kMaxShown ? len : kMaxShown);
}

}  // namespace

/// The argc/argv/argvlen triple hiredis wants, pointing into the caller's strings.
struct Client::Argv {
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;

  template <typename Range>
  explicit Argv(const Range& args) {
    if (args.size() == 0) throw std::invalid_argument("redis: empty command");
    if (args.size() > static_cast<std::size_t>(INT_MAX)) {
      throw std::invalid_argument("redis: too many arguments");
    }
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& arg : args) {
      // An empty string_view may have a null data(); hiredis copies from the pointer regardless.
      ptrs.push_back(arg.empty() ? "" : arg.data());
      lens.push_back(arg.size());
    }
  }
  int argc() const noexcept { return static_cast<int>(ptrs.size()); }
  // hiredis 0.14 declares argv as `const char**` but only reads through it.
  const char** argv() const noexcept { return const_cast<const char**>(ptrs.data()); }
  std::string name() const { return commandName(ptrs[0], lens[0]); }
};

void Client::ContextDeleter::operator()(redisContext* ctx) const noexcept {
  redisFree(ctx);
}

Client::Client(Url url, std::chrono::milliseconds timeout, Retry retry,
               std::shared_ptr<Backoff> backoff)
    : url_(std::move(url)), timeout_(timeout), retry_(retry), backoff_(std::move(backoff)) {
  ignoreSigpipeOnce();
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::connect() {
  if (ctx_) return;
  const bool timed = timeout_.count() > 0;
  const timeval tv = toTimeval(timeout_);
  // With Sentinel, the master of the moment (a failover is followed by the next connect).
  Url target;
  try {
    target = resolveMaster(url_, timed ? timeout_ : std::chrono::milliseconds(2000));
  } catch (const RedisError& e) {
    lastTimedOut_ = false;
    lastError_ = e.what();
    throw;
  }
  redisContext* raw = nullptr;
  if (target.isUnix()) {
    raw = timed ? redisConnectUnixWithTimeout(target.unixSocket.c_str(), tv)
                : redisConnectUnix(target.unixSocket.c_str());
  } else {
    raw = timed ? redisConnectWithTimeout(target.host.c_str(), target.port, tv)
                : redisConnect(target.host.c_str(), target.port);
  }
  ContextPtr ctx(raw);
  if (!ctx || ctx->err != 0) {
    const int savedErrno = errno;
    // A connect that timed out (an address that drops packets, a listener that never accepts)
    // costs the whole time-out, unlike a refused one.
    lastTimedOut_ = ctx && ctx->err == REDIS_ERR_IO &&
                    (savedErrno == ETIMEDOUT || savedErrno == EINPROGRESS || savedErrno == EAGAIN ||
                     savedErrno == EWOULDBLOCK ||
                     std::string_view(ctx->errstr).find("timed out") != std::string_view::npos);
    lastError_ = "cannot connect to Redis at " + target.redacted() + ": " +
                 (ctx ? std::string(ctx->errstr) : std::string("out of memory"));
    throw RedisError(lastError_);
  }
  if (timed && redisSetTimeout(ctx.get(), tv) != REDIS_OK) {
    lastError_ = "cannot set the Redis command time-out: " + std::string(ctx->errstr);
    throw RedisError(lastError_);
  }
  // Keep-alive lets the kernel notice a peer that vanished without a FIN (a dead host, a dropped
  // NAT entry) while the connection sits idle in a pool; failing to enable it is harmless.
  if (!target.isUnix()) redisEnableKeepAlive(ctx.get());
  ctx_ = std::move(ctx);

  if (!url_.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!url_.username.empty()) auth.emplace_back(url_.username);
    auth.emplace_back(url_.password);
    const Reply reply = sendOnce(Argv(auth));
    if (reply.isError()) {
      close();
      lastError_ = "Redis at " + url_.redacted() + " refused AUTH: " + reply.str();
      throw RedisError(lastError_);
    }
  }
  if (url_.db != 0) {
    const std::string db = std::to_string(url_.db);
    const Reply reply = sendOnce(Argv(std::vector<std::string_view>{"SELECT", db}));
    if (reply.isError()) {
      close();
      lastError_ = "Redis at " + url_.redacted() + " refused SELECT " + db + ": " + reply.str();
      throw RedisError(lastError_);
    }
  }
  if (!url_.sentinels.empty()) {
    // A sentinel may still name a demoted master for a moment after a failover.
    const Reply role = sendOnce(Argv(std::vector<std::string_view>{"ROLE"}));
    if (!role.isArray() || role.elements().empty() || !role.elements()[0].isString() ||
        role.elements()[0].str() != "master") {
      close();
      lastError_ = "Redis at " + target.redacted() + " is not the master of \"" + url_.masterName +
                   "\" (yet)";
      throw RedisError(lastError_);
    }
  }
  reused_ = false;
}

void Client::dropIfNotMaster(std::string_view error) noexcept {
  // After a failover the old master answers writes with READONLY: reconnect through the
  // sentinels on the next command.
  if (!url_.sentinels.empty() && isNotMasterError(error)) close();
}

void Client::close() noexcept {
  ctx_.reset();
  reused_ = false;
}

void Client::failIo(std::string_view during, int savedErrno) {
  const int err = ctx_ ? ctx_->err : REDIS_ERR_OTHER;
  const std::string errstr = ctx_ ? std::string(ctx_->errstr) : std::string("not connected");
  const bool timedOut =
      err == REDIS_ERR_IO && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK ||
                              savedErrno == ETIMEDOUT || savedErrno == EINPROGRESS);
  lastTimedOut_ = timedOut;
  lastWasStale_ = err == REDIS_ERR_EOF ||
                  (err == REDIS_ERR_IO && (savedErrno == ECONNRESET || savedErrno == EPIPE ||
                                           savedErrno == ECONNABORTED || savedErrno == ENOTCONN));
  // After any I/O or protocol failure the stream position is unknown (a late reply may still
  // arrive), so the connection cannot be used again.
  close();
  if (timedOut) {
    lastError_ = "Redis at " + url_.redacted() + " did not answer " + std::string(during) +
                 " within " + std::to_string(timeout_.count()) + " ms";
  } else {
    lastError_ =
        "Redis at " + url_.redacted() + " failed during " + std::string(during) + ": " + errstr;
  }
  throw RedisError(lastError_);
}

Reply Client::sendOnce(const Argv& argv) {
  void* raw = redisCommandArgv(ctx_.get(), argv.argc(), argv.argv(), argv.lens.data());
  if (raw == nullptr) {
    // errno tells a time-out (EAGAIN from SO_RCVTIMEO) from a dead peer: read it before anything
    // else can change it.
    const int savedErrno = errno;
    failIo(argv.name(), savedErrno);
  }
  const ReplyPtr reply(static_cast<redisReply*>(raw));
  return detail::fromHiredis(*reply);
}

Reply Client::readReply() {
  if (!ctx_) throw RedisError("readReply on a closed connection");
  void* raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
    const int savedErrno = errno;
    failIo("reading a reply", savedErrno);
  }
  const ReplyPtr reply(static_cast<redisReply*>(raw));
  return detail::fromHiredis(*reply);
}

void Client::admit() {
  if (!backoff_ || backoff_->admit()) return;
  lastTimedOut_ = false;
  lastError_ = "Redis at " + url_.redacted() + " timed out recently; not asked again for " +
               std::to_string(backoff_->remaining().count()) + " ms";
  throw RedisError(lastError_);
}

void Client::report(bool failed) noexcept {
  if (backoff_) backoff_->report(failed && lastTimedOut_);
}

Reply Client::run(const Argv& argv, Retry retry) {
  admit();
  for (int attempt = 0;; ++attempt) {
    lastTimedOut_ = false;
    try {
      connect();
      const bool wasReused = reused_;
      lastWasStale_ = false;
      try {
        Reply reply = sendOnce(argv);
        reused_ = true;
        report(false);
        if (reply.isError()) dropIfNotMaster(reply.str());
        return reply;
      } catch (const RedisError&) {
        if (retry == Retry::kOnceIfStale && attempt == 0 && wasReused && lastWasStale_) continue;
        throw;
      }
    } catch (const RedisError&) {
      report(true);
      throw;
    }
  }
}

std::vector<Reply> Client::pipelineOnce(const std::vector<Argv>& commands, std::size_t& received) {
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  try {
    for (const Argv& argv : commands) {
      if (redisAppendCommandArgv(ctx_.get(), argv.argc(), argv.argv(), argv.lens.data()) !=
          REDIS_OK) {
        const int savedErrno = errno;
        failIo("queueing a pipeline", savedErrno);
      }
    }
    for (const Argv& argv : commands) {
      void* raw = nullptr;
      if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
        const int savedErrno = errno;
        failIo(argv.name() + " in a pipeline of " + std::to_string(commands.size()), savedErrno);
      }
      const ReplyPtr reply(static_cast<redisReply*>(raw));
      replies.push_back(detail::fromHiredis(*reply));
      ++received;
    }
  } catch (...) {
    // Unread replies would answer the next caller's commands: never reuse this stream.
    close();
    throw;
  }
  return replies;
}

std::vector<Reply> Client::formattedOnce(std::string_view resp, std::size_t count,
                                         std::size_t& received) {
  std::vector<Reply> replies;
  replies.reserve(count);
  try {
    if (redisAppendFormattedCommand(ctx_.get(), resp.data(), resp.size()) != REDIS_OK) {
      const int savedErrno = errno;
      failIo("queueing a pipeline", savedErrno);
    }
    for (std::size_t i = 0; i < count; ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
        const int savedErrno = errno;
        failIo("reply " + std::to_string(i + 1) + " of a pipeline of " + std::to_string(count),
               savedErrno);
      }
      const ReplyPtr reply(static_cast<redisReply*>(raw));
      replies.push_back(detail::fromHiredis(*reply));
      ++received;
    }
  } catch (...) {
    close();  // unread replies would answer the next caller's commands
    throw;
  }
  return replies;
}

std::vector<Reply> Client::pipelineFormatted(std::string_view resp, std::size_t count) {
  if (count == 0) return {};
  return withRetry(retry_,
                   [&](std::size_t& received) { return formattedOnce(resp, count, received); });
}

void appendCommand(std::string& out, std::initializer_list<std::string_view> args) {
  appendCommand(out, std::span<const std::string_view>(args.begin(), args.size()));
}

void appendCommand(std::string& out, std::span<const std::string_view> args) {
  const auto number = [&out](char type, std::size_t n) {
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    out.push_back(type);
    out.append(buf, static_cast<std::size_t>(end - buf));
    out.append("\r\n", 2);
  };
  number('*', args.size());
  for (const std::string_view arg : args) {
    number('$', arg.size());
    out.append(arg);
    out.append("\r\n", 2);
  }
}

std::vector<Reply> Client::runPipeline(const std::vector<Argv>& commands, Retry retry) {
  return withRetry(retry, [&](std::size_t& received) { return pipelineOnce(commands, received); });
}

std::vector<Reply> Client::withRetry(
    Retry retry, const std::function<std::vector<Reply>(std::size_t& received)>& once) {
  admit();
  for (int attempt = 0;; ++attempt) {
    lastTimedOut_ = false;
    try {
      connect();
      const bool wasReused = reused_;
      lastWasStale_ = false;
      std::size_t received = 0;
      try {
        auto replies = once(received);
        reused_ = true;
        report(false);
        for (const auto& reply : replies) {
          if (reply.isError()) dropIfNotMaster(reply.str());
        }
        return replies;
      } catch (const RedisError&) {
        // Once a reply came back the server has run part of the batch: never resend it.
        if (retry == Retry::kOnceIfStale && attempt == 0 && wasReused && lastWasStale_ &&
            received == 0) {
          continue;
        }
        throw;
      }
    } catch (const RedisError&) {
      report(true);
      throw;
    }
  }
}

Reply Client::command(std::initializer_list<std::string_view> args) {
  return run(Argv(args), retry_);
}

Reply Client::command(const std::vector<std::string>& args) {
  return run(Argv(args), retry_);
}

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return {};
  std::vector<Argv> argvs;
  argvs.reserve(commands.size());
  for (const auto& args : commands) argvs.emplace_back(args);
  return runPipeline(argvs, retry_);
}

bool Client::ping() noexcept {
  try {
    // PING is idempotent, so a connection left stale by an outage is retried whatever retry_ says:
    // /readyz must not report a healthy Redis as down once after every restart.
    const Reply reply = run(Argv(std::vector<std::string_view>{"PING"}), Retry::kOnceIfStale);
    if (reply.isStatus() && reply.str() == "PONG") return true;
    lastError_ = "Redis at " + url_.redacted() + " answered PING with " + reply.debugString();
    return false;
  } catch (const std::exception& e) {
    lastError_ = e.what();
    return false;
  } catch (...) {
    lastError_ = "unknown failure during PING";
    return false;
  }
}

}  // namespace mp::redis
