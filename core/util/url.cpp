// A small, strict URL splitter: only what page and host attribution need, nothing resolved.
#include "util/url.hpp"

#include <algorithm>
#include <cctype>

namespace mp::util {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool hasControlOrSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

}  // namespace

std::optional<Url> parseHttpUrl(std::string_view text) {
  if (hasControlOrSpace(text)) return std::nullopt;
  const auto colon = text.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  Url url;
  url.scheme = lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  std::string_view rest = text.substr(colon + 3);
  const auto authorityEnd = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authorityEnd);
  std::string_view tail =
      authorityEnd == std::string_view::npos ? std::string_view() : rest.substr(authorityEnd);
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    host = host.substr(1, close - 1);
  } else if (auto portColon = host.rfind(':'); portColon != std::string_view::npos) {
    std::string_view port = host.substr(portColon + 1);
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    host = host.substr(0, portColon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return std::nullopt;
  url.host = lower(host);
  const auto pathEnd = tail.find_first_of("?#");
  url.path = std::string(tail.substr(0, pathEnd));
  if (url.path.empty()) url.path.push_back('/');  // (not = "/": GCC 12 warns wrongly on that)
  return url;
}

std::optional<std::string> originHost(std::string_view origin) {
  auto url = parseHttpUrl(origin);
  if (!url) return std::nullopt;
  return url->host;
}

bool hostMatchesDomain(std::string_view host, std::string_view domain) noexcept {
  if (domain.empty() || host.size() < domain.size()) return false;
  if (host.substr(host.size() - domain.size()) != domain) return false;
  return host.size() == domain.size() || host[host.size() - domain.size() - 1] == '.';
}

}  // namespace mp::util
