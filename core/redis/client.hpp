// A small synchronous Redis client over hiredis, shared by metricpulsed and mpctl.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis/backoff.hpp"
#include "redis/reply.hpp"
#include "redis/url.hpp"

struct redisContext;

namespace mp::redis {

/// Whether a command that failed on a connection left stale by an earlier outage is sent again.
enum class Retry {
  /// Never resend: the safe choice for anything that is not idempotent (INCR, XADD, LPUSH…).
  kNever,
  /// Resend once, on a fresh connection, when a reused connection broke (EOF, reset, broken pipe)
  /// before any reply came back. The server may already have run the command, so only for
  /// idempotent work (GET, SET of a fixed value, EXPIRE, PING…). Timeouts are never retried.
  kOnceIfStale,
};

/// One connection to one Redis, connected lazily and again after a failure; not thread-safe by
/// design (use one Client per thread, or a Pool).
///
/// Error replies (WRONGTYPE, NOAUTH…) come back as a Reply with isError(); failures to connect,
/// time-outs, I/O and protocol errors throw RedisError and drop the connection, so the next call
/// connects anew. The first Client sets SIGPIPE to ignored when it still has its default action:
/// hiredis writes with write(2), and a reset connection must not kill the process.
class Client {
 public:
  /// Keeps the address; connects on first use. `timeout` bounds connecting and each reply
  /// (zero or less: no time-out). Never throws for an unreachable server. With a `backoff`
  /// (a Pool shares one among its clients), a time-out makes the following commands fail at once
  /// with RedisError, without a connection attempt, for as long as the back-off says.
  Client(Url url, std::chrono::milliseconds timeout, Retry retry = Retry::kNever,
         std::shared_ptr<Backoff> backoff = nullptr);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends one command, each argument binary-safe, and returns its reply; throws RedisError on
  /// connection, time-out or protocol failure (and std::invalid_argument for no arguments).
  Reply command(std::initializer_list<std::string_view> args);
  /// command() with the arguments in a vector.
  Reply command(const std::vector<std::string>& args);

  /// Sends every command, then reads every reply: one round trip. Replies are in command order;
  /// error replies are in place. Throws RedisError as command() does (no partial result).
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);

  /// pipeline() for commands already in RESP form (appendCommand()), `count` of them back to back
  /// in `resp`: nothing is copied per argument, which matters for thousands of commands a second.
  /// Throws RedisError as pipeline() does.
  std::vector<Reply> pipelineFormatted(std::string_view resp, std::size_t count);

  /// Waits (up to the timeout) for the next reply the server sends unasked, such as a message
  /// after SUBSCRIBE; throws RedisError on time-out or I/O failure.
  Reply readReply();

  /// True only when the server answers PONG, connecting (and retrying a stale connection once)
  /// when needed; never throws. The reason for false is in lastError().
  bool ping() noexcept;

  /// Connects now if not connected; throws RedisError when the server is unreachable or refuses
  /// AUTH or SELECT.
  void connect();
  /// Drops the connection, if any; the next call connects again.
  void close() noexcept;
  /// close() when `error` says the server is no longer the master (Sentinel only).
  void dropIfNotMaster(std::string_view error) noexcept;
  /// True while a connection is open (it may still turn out to be stale).
  bool connected() const noexcept { return ctx_ != nullptr; }

  /// The message of the latest failure (connect, I/O, time-out, a ping() without PONG); later
  /// successes keep it. Empty when nothing has failed yet.
  const std::string& lastError() const noexcept { return lastError_; }
  /// The address this client connects to.
  const Url& url() const noexcept { return url_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* ctx) const noexcept;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

  struct Argv;
  Reply run(const Argv& argv, Retry retry);
  std::vector<Reply> runPipeline(const std::vector<Argv>& commands, Retry retry);
  Reply sendOnce(const Argv& argv);
  std::vector<Reply> pipelineOnce(const std::vector<Argv>& commands, std::size_t& received);
  std::vector<Reply> formattedOnce(std::string_view resp, std::size_t count, std::size_t& received);
  // Runs `once` on a connection, again on a fresh one when a reused connection turned out stale
  // before any reply came back and `retry` allows it.
  std::vector<Reply> withRetry(
      Retry retry, const std::function<std::vector<Reply>(std::size_t& received)>& once);
  [[noreturn]] void failIo(std::string_view during, int savedErrno);
  // Throws RedisError when the back-off refuses a call now.
  void admit();
  // Tells the back-off how an admitted call ended.
  void report(bool failed) noexcept;

  Url url_;
  std::chrono::milliseconds timeout_;
  Retry retry_;
  ContextPtr ctx_;
  bool reused_ = false;        ///< the open connection served an earlier call
  bool lastWasStale_ = false;  ///< the latest I/O failure looked like a dead peer, not a time-out
  bool lastTimedOut_ = false;  ///< the latest failure was a time-out (connecting or a reply)
  std::shared_ptr<Backoff> backoff_;
  std::string lastError_;
};

/// Appends one command in the Redis protocol's form (an array of bulk strings, binary-safe) to
/// `out`, for Client::pipelineFormatted().
void appendCommand(std::string& out, std::initializer_list<std::string_view> args);
/// appendCommand() for a number of arguments known only at run time.
void appendCommand(std::string& out, std::span<const std::string_view> args);

}  // namespace mp::redis
