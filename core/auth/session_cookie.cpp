// Session cookie helpers.
#include "auth/session_cookie.hpp"

#include <algorithm>
#include <cctype>

namespace mp::auth {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string attributes(bool secure) {
  return std::string("; Path=/; HttpOnly; SameSite=Strict") + (secure ? "; Secure" : "");
}

}  // namespace

std::string sessionCookie(std::string_view token, std::int64_t maxAgeSeconds, bool secure) {
  return std::string(kSessionCookie) + "=" + std::string(token) +
         "; Max-Age=" + std::to_string(maxAgeSeconds) + attributes(secure);
}

std::string clearedSessionCookie(bool secure) {
  return std::string(kSessionCookie) + "=; Max-Age=0" + attributes(secure);
}

std::optional<std::string> cookieValue(std::string_view cookieHeader, std::string_view name) {
  std::string_view rest = cookieHeader;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view pair = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return std::nullopt;
}

std::string hostOf(std::string_view originOrHost) {
  std::string_view s = trim(originOrHost);
  if (const auto scheme = s.find("://"); scheme != std::string_view::npos) {
    s = s.substr(scheme + 3);
  }
  s = s.substr(0, s.find_first_of("/?#"));
  if (const auto at = s.rfind('@'); at != std::string_view::npos) s = s.substr(at + 1);
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    s = close == std::string_view::npos ? std::string_view() : s.substr(0, close + 1);
  } else {
    s = s.substr(0, s.find(':'));
  }
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace mp::auth
