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

int hexDigit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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
  if (pathEnd != std::string_view::npos && tail[pathEnd] == '?') {
    std::string_view query = tail.substr(pathEnd + 1);
    url.query = std::string(query.substr(0, query.find('#')));
  }
  return url;
}

std::string percentDecode(std::string_view raw) {
  std::string value;
  value.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '+') {
      value.push_back(' ');
    } else if (raw[i] == '%' && i + 2 < raw.size() && hexDigit(raw[i + 1]) >= 0 &&
               hexDigit(raw[i + 2]) >= 0) {
      value.push_back(static_cast<char>(hexDigit(raw[i + 1]) * 16 + hexDigit(raw[i + 2])));
      i += 2;
    } else {
      value.push_back(raw[i]);
    }
  }
  return value;
}

std::optional<std::string> queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    return percentDecode(raw);
  }
  return std::nullopt;
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
