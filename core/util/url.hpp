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
  std::string query;   ///< what follows the first '?' up to a '#', as sent (may be empty)
};

/// Parses an absolute http:// or https:// URL; nullopt for anything else (other schemes,
/// relative URLs, no host, spaces or control characters).
std::optional<Url> parseHttpUrl(std::string_view text);

/// A query-string value percent-decoded, '+' as a space; a '%' not followed by two hex digits is
/// kept as it is. The result may hold any byte, NUL and invalid UTF-8 included.
std::string percentDecode(std::string_view raw);

/// The value of the first `name` parameter of a query string ("a=1&b=x+y"), percent-decoded
/// with '+' as a space; nullopt when the query has no such parameter. A '%' not followed by two
/// hex digits is kept as it is. The result may hold any byte, NUL and invalid UTF-8 included:
/// callers that store it check it.
std::optional<std::string> queryValue(std::string_view query, std::string_view name);

/// The host of an Origin header value ("https://example.com:8443"), lower-case; nullopt when it
/// is not an http(s) origin (e.g. "null").
std::optional<std::string> originHost(std::string_view origin);

/// True when `host` is `domain` or a sub-domain of it (both lower-case).
bool hostMatchesDomain(std::string_view host, std::string_view domain) noexcept;

}  // namespace mp::util
