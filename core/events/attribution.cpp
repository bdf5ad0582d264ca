// Source and channel attribution. The list of known hosts is referer-parser's (generated into
// referrer_table.inc at build time); the few entries below correct or extend it where it has
// aged (it dates from 2019: no x.com, Bluesky or ChatGPT).
#include "events/attribution.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "util/url.hpp"
#include "util/utf8.hpp"

namespace mp::events {
namespace {

using Kind = SourceKind;

struct ListedSource {
  std::string_view name;
  Kind kind;
};
struct ListedDomain {
  std::string_view domain;
  int source;  // index into kListedSources
};

#include "referrer_table.inc"

// Hosts the list lacks or names oddly; looked up before it, with the same parent-domain walk.
struct ExtraDomain {
  std::string_view domain;
  std::string_view name;
  Kind kind;
};
constexpr ExtraDomain kExtraDomains[] = {
    {"bsky.app", "Bluesky", Kind::kSocial},          {"chatgpt.com", "ChatGPT", Kind::kOther},
    {"duckduckgo.com", "DuckDuckGo", Kind::kSearch}, {"kagi.com", "Kagi", Kind::kSearch},
    {"lnkd.in", "LinkedIn", Kind::kSocial},          {"mastodon.social", "Mastodon", Kind::kSocial},
    {"perplexity.ai", "Perplexity", Kind::kOther},   {"search.brave.com", "Brave", Kind::kSearch},
    {"threads.net", "Threads", Kind::kSocial},       {"x.com", "Twitter", Kind::kSocial},
    {"youtube.com", "YouTube", Kind::kSocial},
};

// Names of the list shown otherwise (its spelling for duckduckgo.com is "DuckDuckGoL").
constexpr std::pair<std::string_view, std::string_view> kRenames[] = {
    {"DuckDuckGoL", "DuckDuckGo"},
    {"Youtube", "YouTube"},
};

std::string_view shownName(std::string_view listed) {
  for (const auto& [from, to] : kRenames) {
    if (listed == from) return to;
  }
  return listed;
}

std::optional<KnownSource> exactHost(std::string_view host) {
  for (const auto& extra : kExtraDomains) {
    if (extra.domain == host) return KnownSource{extra.name, extra.kind};
  }
  const auto* begin = std::begin(kListedDomains);
  const auto* end = std::end(kListedDomains);
  const auto* it = std::lower_bound(
      begin, end, host, [](const ListedDomain& d, std::string_view h) { return d.domain < h; });
  if (it == end || it->domain != host) return std::nullopt;
  const ListedSource& s = kListedSources[it->source];
  return KnownSource{shownName(s.name), s.kind};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view withoutWww(std::string_view host) {
  return host.substr(0, 4) == "www." ? host.substr(4) : host;
}

// A decoded query value as stored: trimmed, cut to kMaxAttributionLength characters; nullopt
// when absent, empty, or unfit for a text column (control characters, invalid UTF-8).
std::optional<std::string> cleanValue(std::optional<std::string> raw) {
  if (!raw) return std::nullopt;
  std::string_view v = *raw;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty() || !util::isValidUtf8(v)) return std::nullopt;
  if (std::any_of(v.begin(), v.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
    return std::nullopt;
  }
  // Cut at a character boundary: count lead bytes.
  std::size_t chars = 0;
  std::size_t i = 0;
  for (; i < v.size(); ++i) {
    if ((static_cast<unsigned char>(v[i]) & 0xC0) != 0x80 && chars++ == kMaxAttributionLength) {
      break;
    }
  }
  return std::string(v.substr(0, i));
}

bool isOneOf(std::string_view value, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), value) != options.end();
}

bool mentionsEmail(std::string_view lowered) {
  for (std::string_view word : {"email", "e-mail", "e_mail", "e mail"}) {
    if (lowered.find(word) != std::string_view::npos) return true;
  }
  return false;
}

bool isPaidMedium(std::string_view medium) {
  return medium.find("cp") != std::string_view::npos || medium == "ppc" ||
         medium == "retargeting" || medium.substr(0, 4) == "paid";
}

}  // namespace

std::optional<KnownSource> sourceOfHost(std::string_view host) {
  // The host, then each parent domain that still has a dot ("a.b.example.com" → "example.com").
  while (true) {
    if (auto found = exactHost(host)) return found;
    const auto dot = host.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    host.remove_prefix(dot + 1);
    if (host.find('.') == std::string_view::npos) return std::nullopt;
  }
}

std::optional<KnownSource> sourceNamed(std::string_view text) {
  // Every name, lower-cased once: the first listing of a name wins (search before the others).
  static const std::vector<std::pair<std::string, KnownSource>> byName = [] {
    std::vector<std::pair<std::string, KnownSource>> names;
    for (const auto& extra : kExtraDomains) {
      names.emplace_back(lower(extra.name), KnownSource{extra.name, extra.kind});
    }
    for (const auto& s : kListedSources) {
      names.emplace_back(lower(shownName(s.name)), KnownSource{shownName(s.name), s.kind});
      names.emplace_back(lower(s.name), KnownSource{shownName(s.name), s.kind});
    }
    std::stable_sort(names.begin(), names.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return names;
  }();
  const std::string wanted = lower(text);
  if (wanted.empty()) return std::nullopt;
  const auto it =
      std::lower_bound(byName.begin(), byName.end(), wanted,
                       [](const auto& entry, const std::string& w) { return entry.first < w; });
  if (it != byName.end() && it->first == wanted) return it->second;
  if (wanted.find('.') != std::string::npos) return sourceOfHost(wanted);
  return std::nullopt;
}

Attribution attribute(std::string_view pageQuery, std::string_view pageHost,
                      std::string_view referrerHost) {
  Attribution a;
  a.utmSource = cleanValue(util::queryValue(pageQuery, "utm_source"));
  a.utmMedium = cleanValue(util::queryValue(pageQuery, "utm_medium"));
  a.utmCampaign = cleanValue(util::queryValue(pageQuery, "utm_campaign"));
  a.utmTerm = cleanValue(util::queryValue(pageQuery, "utm_term"));
  a.utmContent = cleanValue(util::queryValue(pageQuery, "utm_content"));

  const bool selfReferral =
      !referrerHost.empty() && withoutWww(referrerHost) == withoutWww(pageHost);
  const std::string_view referrer = selfReferral ? std::string_view() : referrerHost;

  std::optional<KnownSource> known;
  if (a.utmSource) {
    known = sourceNamed(*a.utmSource);
    a.source = known ? std::string(known->name) : *a.utmSource;
  } else if (!referrer.empty()) {
    known = sourceOfHost(referrer);
    a.source = known ? std::string(known->name) : std::string(withoutWww(referrer));
  }

  const std::string medium = a.utmMedium ? lower(*a.utmMedium) : std::string();
  const std::string sourceText = a.source ? lower(*a.source) : std::string();
  const bool searchAdClick =
      util::queryValue(pageQuery, "gclid") || util::queryValue(pageQuery, "gbraid") ||
      util::queryValue(pageQuery, "wbraid") || util::queryValue(pageQuery, "msclkid");
  const Kind kind = known ? known->kind : Kind::kOther;

  std::string_view ch;
  if (searchAdClick || isPaidMedium(medium)) {
    ch = searchAdClick || kind == Kind::kSearch ? channel::kPaidSearch
         : kind == Kind::kSocial                ? channel::kPaidSocial
                                                : channel::kPaidOther;
  } else if (isOneOf(medium, {"display", "banner", "expandable", "interstitial", "cpm"})) {
    ch = channel::kDisplay;
  } else if ((known && kind == Kind::kSearch) || medium == "organic") {
    ch = channel::kOrganicSearch;
  } else if ((known && kind == Kind::kSocial) ||
             isOneOf(medium, {"social", "social-network", "social-media", "sm", "social network",
                              "social media"})) {
    ch = channel::kOrganicSocial;
  } else if ((known && kind == Kind::kEmail) || mentionsEmail(medium) ||
             mentionsEmail(sourceText) || medium == "newsletter") {
    ch = channel::kEmail;
  } else if (medium == "affiliate") {
    ch = channel::kAffiliates;
  } else if (isOneOf(medium, {"referral", "app", "link"})) {
    ch = channel::kReferral;
  } else if (!a.source && !a.utmMedium && !a.utmCampaign) {
    ch = channel::kDirect;
  } else if (!referrer.empty()) {
    ch = channel::kReferral;
  } else {
    ch = channel::kUnassigned;
  }
  a.channel = std::string(ch);
  return a;
}

}  // namespace mp::events
