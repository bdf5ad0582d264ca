// Parses the Redis connection URLs of the configuration (redis://, unix://) into their parts: plain
// text handling, so the configuration checks them without the Redis client (redis/url.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>
#include <string_view>

namespace mp::util {

/// Default TCP port of redis-server.
inline constexpr int kDefaultRedisPort = 6379;

/// Where and as whom to connect: a TCP host and port, or a Unix socket path.
struct RedisUrl {
  std::string host;  ///< TCP host name or address (IPv6 without brackets); empty for Unix
  int port = kDefaultRedisPort;  ///< TCP port; unused for Unix sockets
  std::string unixSocket;        ///< absolute path of a Unix socket; empty for TCP
  std::string username;          ///< ACL user (Redis 6+); empty: AUTH with the password alone
  std::string password;          ///< empty: no AUTH
  int db = 0;                    ///< database index for SELECT; 0 needs no SELECT
  /// Sentinels ("host:port") to ask for the master's address at every connect; empty: host and
  /// port are the server's.
  std::vector<std::string> sentinels;
  std::string masterName;  ///< the master's name the sentinels monitor

  /// Same as parseRedisUrl(): parses `text` or throws RedisError saying what is wrong.
  static RedisUrl parse(std::string_view text);

  /// True when this URL names a Unix socket rather than a TCP address.
  bool isUnix() const noexcept { return !unixSocket.empty(); }
  /// The URL with the password replaced by "***", for logs and error messages.
  std::string redacted() const;

  friend bool operator==(const RedisUrl&, const RedisUrl&) = default;
};

/// Parses redis://[[user]:password@]host[:port][/db] or unix://[[user]:password@]/path[?db=N];
/// throws RedisError saying what is wrong (rediss:// is rejected: Debian's hiredis has no TLS).
RedisUrl parseRedisUrl(std::string_view text);

/// parseRedisUrl() without the exception: std::nullopt when the URL is not valid.
std::optional<RedisUrl> tryParseRedisUrl(std::string_view text);

/// The reason `text` is not a valid Redis URL, or std::nullopt when it is (for config validation).
std::optional<std::string> validateRedisUrl(const std::string& text);

}  // namespace mp::util
