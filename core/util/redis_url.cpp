// Parses redis:// and unix:// URLs by hand: the forms are few and the messages must be precise.
#include "util/redis_url.hpp"

#include <sys/un.h>

#include <charconv>
#include <string>
#include <system_error>

#include "util/error.hpp"

namespace mp::util {
namespace {

constexpr std::string_view kExpected =
    "expected redis://[[user]:password@]host[:port][/db] or unix:///path/to.sock[?db=N]";

[[noreturn]] void fail(const std::string& what) {
  throw RedisError("invalid Redis URL: " + what);
}

bool isDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Passwords often hold characters that URLs reserve, so userinfo is percent-decoded (as redis-py
// does); `what` names the part without echoing a secret.
std::string percentDecode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? hexValue(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      fail("bad percent-encoding in the " + std::string(what) + " (write a literal % as %25)");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int parseDb(std::string_view s) {
  int db = 0;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, db);
  if (!isDigits(s) || ptr != end || ec != std::errc{}) {
    fail("db '" + std::string(s) + "' is not a number (expected a database index such as 0)");
  }
  return db;
}

int parsePort(std::string_view s) {
  int port = 0;
  const auto* end = s.data() + s.size();
  if (!isDigits(s) || std::from_chars(s.data(), end, port).ptr != end || port < 1 || port > 65535) {
    fail("bad port '" + std::string(s) + "' (expected a number from 1 to 65535)");
  }
  return port;
}

void parseUserinfo(std::string_view userinfo, RedisUrl& url) {
  const auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    if (userinfo.empty()) return;
    // "redis://secret@host" is ambiguous (user or password?): make the writer say which, and do
    // not echo it, as it may be a password.
    fail("a name without ':' before '@'; write user:password@, or :password@ for a password alone");
  }
  url.username = percentDecode(userinfo.substr(0, colon), "user name");
  url.password = percentDecode(userinfo.substr(colon + 1), "password");
  if (url.password.empty() && !url.username.empty()) {
    fail("empty password for user '" + url.username + "'");
  }
}

// The only query parameter is db; whether the path already set one is `dbSet`.
void parseQuery(std::string_view query, bool dbSet, RedisUrl& url) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    const auto eq = param.find('=');
    const auto key = param.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    if (key != "db") fail("unknown parameter '" + std::string(key) + "' (only db is supported)");
    if (dbSet) fail("db given twice");
    url.db = parseDb(value);
    dbSet = true;
  }
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

void parseHostPort(std::string_view authority, RedisUrl& url) {
  std::string_view portText;
  bool hasPort = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) fail("unterminated '[' in the host");
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("unexpected '" + std::string(after) + "' after the host");
      portText = after.substr(1);
      hasPort = true;
    }
    for (const char c : url.host) {
      if (!isHostChar(c) && c != ':' && c != '%') fail("bad IPv6 address '" + url.host + "'");
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      fail("an IPv6 address needs brackets, as in redis://[::1]:6379");
    }
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
      hasPort = true;
    }
    for (const char c : url.host) {
      if (!isHostChar(c)) fail("bad host '" + url.host + "'");
    }
  }
  if (url.host.empty()) fail("empty host; " + std::string(kExpected));
  if (hasPort) url.port = parsePort(portText);
}

RedisUrl parseTcp(std::string_view rest) {
  RedisUrl url;
  // The last '@' ends the userinfo, so a raw '/', '?' or '@' in a password still parses.
  const auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    parseUserinfo(rest.substr(0, at), url);
    rest = rest.substr(at + 1);
  }
  const auto question = rest.find('?');
  const auto query =
      question == std::string_view::npos ? std::string_view{} : rest.substr(question + 1);
  rest = rest.substr(0, question);
  const auto slash = rest.find('/');
  parseHostPort(rest.substr(0, slash), url);
  bool dbSet = false;
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    url.db = parseDb(rest.substr(slash + 1));
    dbSet = true;
  }
  parseQuery(query, dbSet, url);
  return url;
}

RedisUrl parseUnix(std::string_view rest) {
  RedisUrl url;
  if (!rest.empty() && rest.front() != '/') {
    // unix://[user]:password@/path: the userinfo ends at the last "@/".
    const auto at = rest.rfind("@/");
    if (at != std::string_view::npos) {
      parseUserinfo(rest.substr(0, at), url);
      rest = rest.substr(at + 1);
    }
  }
  const auto question = rest.find('?');
  const auto query =
      question == std::string_view::npos ? std::string_view{} : rest.substr(question + 1);
  rest = rest.substr(0, question);
  if (rest.size() < 2 || rest.front() != '/') {
    fail("the socket path must be absolute, as in unix:///run/redis/redis.sock");
  }
  // hiredis copies the path into sockaddr_un without checking, so a longer one would be cut short.
  if (rest.size() >= sizeof(sockaddr_un{}.sun_path)) {
    fail("the socket path is longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
         " bytes");
  }
  url.unixSocket = std::string(rest);
  url.host.clear();
  parseQuery(query, false, url);
  return url;
}

}  // namespace

std::string RedisUrl::redacted() const {
  std::string out = isUnix() ? "unix://" : "redis://";
  if (!password.empty()) out += username + ":***@";
  if (isUnix()) {
    out += unixSocket;
    if (db != 0) out += "?db=" + std::to_string(db);
    return out;
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  if (db != 0) out += "/" + std::to_string(db);
  return out;
}

RedisUrl parseRedisUrl(std::string_view text) {
  if (text.empty()) fail("empty; " + std::string(kExpected));
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) fail("missing scheme; " + std::string(kExpected));
  const auto scheme = toLower(text.substr(0, sep));
  const auto rest = text.substr(sep + 3);
  if (scheme == "redis") return parseTcp(rest);
  if (scheme == "unix") return parseUnix(rest);
  if (scheme == "rediss") {
    fail(
        "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS; use redis:// on a "
        "trusted network, a unix:// socket, or a TLS tunnel such as stunnel");
  }
  fail("unsupported scheme '" + scheme + "://'; " + std::string(kExpected));
}

RedisUrl RedisUrl::parse(std::string_view text) {
  return parseRedisUrl(text);
}

std::optional<RedisUrl> tryParseRedisUrl(std::string_view text) {
  try {
    return parseRedisUrl(text);
  } catch (const RedisError&) {
    return std::nullopt;
  }
}

std::optional<std::string> validateRedisUrl(const std::string& text) {
  try {
    parseRedisUrl(text);
    return std::nullopt;
  } catch (const RedisError& e) {
    return std::string(e.what());
  }
}

}  // namespace mp::util
