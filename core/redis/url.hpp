// Parses the Redis connection URLs of the configuration (redis://, unix://) into their parts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp::redis {

/// Default TCP port of redis-server.
inline constexpr int kDefaultPort = 6379;

/// Where and as whom to connect: a TCP host and port, or a Unix socket path.
struct Url {
  std::string host;         ///< TCP host name or address (IPv6 without brackets); empty for Unix
  int port = kDefaultPort;  ///< TCP port; unused for Unix sockets
  std::string unixSocket;   ///< absolute path of a Unix socket; empty for TCP
  std::string username;     ///< ACL user (Redis 6+); empty: AUTH with the password alone
  std::string password;     ///< empty: no AUTH
  int db = 0;               ///< database index for SELECT; 0 needs no SELECT

  /// Same as parseUrl(): parses `text` or throws RedisError saying what is wrong.
  static Url parse(std::string_view text);

  /// True when this URL names a Unix socket rather than a TCP address.
  bool isUnix() const noexcept { return !unixSocket.empty(); }
  /// The URL with the password replaced by "***", for logs and error messages.
  std::string redacted() const;

  friend bool operator==(const Url&, const Url&) = default;
};

/// Parses redis://[[user]:password@]host[:port][/db] or unix://[[user]:password@]/path[?db=N];
/// throws RedisError saying what is wrong (rediss:// is rejected: Debian's hiredis has no TLS).
Url parseUrl(std::string_view text);

/// parseUrl() without the exception: std::nullopt when the URL is not valid.
std::optional<Url> tryParseUrl(std::string_view text);

/// The reason `text` is not a valid Redis URL, or std::nullopt when it is (for config validation).
std::optional<std::string> validateUrl(const std::string& text);

}  // namespace mp::redis
