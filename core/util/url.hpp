// Splitting absolute http(s) URLs into the parts analytics needs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp::util {

struct Url {
  std::string scheme;  ///< lower-case "http" or "https"
  std::string host;    ///< lower-case, without brackets, port or trailing dot
  std::string path;    ///< "/" when empty; no query or fragment
};

/// Parses an absolute http:// or https:// URL; nullopt for anything else (other schemes,
/// relative URLs, no host, spaces or control characters).
std::optional<Url> parseHttpUrl(std::string_view text);

/// The host of an Origin header value ("https://example.com:8443"), lower-case; nullopt when it
/// is not an http(s) origin (e.g. "null").
std::optional<std::string> originHost(std::string_view origin);

/// True when `host` is `domain` or a sub-domain of it (both lower-case).
bool hostMatchesDomain(std::string_view host, std::string_view domain) noexcept;

}  // namespace mp::util
