// The dashboard's session cookie: its name, the Set-Cookie values that give and clear it, and
// reading it back from a Cookie header (HTTP API and live-feed handshake alike).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mp::auth {

/// Name of the cookie holding the session's token.
inline constexpr std::string_view kSessionCookie = "mp_session";

/// The Set-Cookie value that stores `token` for `maxAgeSeconds`: HttpOnly (no page script can
/// read it), SameSite=Strict (no other site's page can make the browser send it), Path=/.
std::string sessionCookie(std::string_view token, std::int64_t maxAgeSeconds, bool secure);

/// The Set-Cookie value that removes the session cookie.
std::string clearedSessionCookie(bool secure);

/// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt; the first one wins
/// when a name repeats. Surrounding double quotes are removed.
std::optional<std::string> cookieValue(std::string_view cookieHeader, std::string_view name);

/// The host of an origin or of a Host header value, lower-cased, without its port
/// ("https://A.example:8080" and "a.example:8080" both give "a.example"; "[::1]:80" gives
/// "[::1]"); empty when there is none.
std::string hostOf(std::string_view originOrHost);

}  // namespace mp::auth
