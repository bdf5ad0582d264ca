// ua-parser over uap-core's regexes.yaml with RE2, device classes, and a sharded LRU cache.
#include "events/user_agent.hpp"

#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <re2/set.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "log/log.hpp"
#include "util/error.hpp"

namespace mp::events {
namespace {

// ua-parser replacements address $1..$9, so one match never needs more than ten sub-matches.
constexpr int kMaxGroups = 9;
// Atoms of one byte would pass nearly every UA and filter nothing.
constexpr int kMinAtomLength = 2;
constexpr std::int64_t kAtomSetMemory = 32 << 20;
// Enough shards that a handful of HTTP threads rarely meet on one mutex; more buys nothing.
constexpr std::size_t kMaxShards = 16;

using Groups = std::array<re2::StringPiece, kMaxGroups + 1>;

// One `- regex:` entry. The three replacements mean, per section: family/v1 (user agents),
// os (OS), device/brand/model (devices); unused ones stay empty.
struct Rule {
  const RE2* re = nullptr;  // owned by the section's FilteredRE2
  int groups = 0;
  std::array<std::optional<std::string>, 3> replacement;
};

struct Match {
  const Rule* rule = nullptr;
  Groups groups;
};

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string_view group(const Match& m, int n) {
  if (n > m.rule->groups) return {};
  // An unmatched optional group is a null StringPiece, which reads as "".
  return {m.groups[static_cast<std::size_t>(n)].data(),
          m.groups[static_cast<std::size_t>(n)].size()};
}

// The spec's $1..$9 substitution; a group that did not take part in the match inserts nothing,
// as the reference implementations do, and the result is trimmed (a replacement like
// "$1 $2" with an empty $2 would otherwise leave a trailing blank).
std::string substitute(std::string_view pattern, const Match& m) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '$' && i + 1 < pattern.size() && pattern[i + 1] >= '1' &&
        pattern[i + 1] <= '9') {
      out += group(m, pattern[i + 1] - '0');
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return std::string(trim(out));
}

// The replacement when the rule has one, else the default capture group (0: none; brand has no
// default in the spec).
std::string field(const Match& m, std::size_t replacement, int defaultGroup) {
  if (const auto& r = m.rule->replacement[replacement]) return substitute(*r, m);
  if (defaultGroup == 0) return {};
  return std::string(trim(group(m, defaultGroup)));
}

std::optional<std::string> optionalScalar(const YAML::Node& entry, const char* key) {
  const YAML::Node node = entry[key];
  if (!node || node.IsNull()) return std::nullopt;
  if (!node.IsScalar()) throw std::invalid_argument(std::string(key) + " is not a string");
  return node.as<std::string>();
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool isAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool isDesktopOs(std::string_view os) {
  // Families as uap-core names them; Windows Phone/Mobile/CE are caught as phones first.
  static constexpr std::array<std::string_view, 22> kDesktop = {
      "Windows",  "Mac OS X",  "Mac OS",  "Linux",    "Ubuntu", "Kubuntu",    "Debian", "Fedora",
      "Red Hat",  "CentOS",    "SUSE",    "openSUSE", "Mint",   "Arch Linux", "Gentoo", "Slackware",
      "Mandriva", "Chrome OS", "FreeBSD", "OpenBSD",  "NetBSD", "Solaris"};
  return std::find(kDesktop.begin(), kDesktop.end(), os) != kDesktop.end() ||
         startsWith(os, "Windows ") || startsWith(os, "Linux ");
}

bool isPhoneOs(std::string_view os) {
  static constexpr std::array<std::string_view, 12> kPhone = {
      "iOS",   "Android", "Windows Mobile", "Windows CE", "KaiOS", "Firefox OS",
      "webOS", "Bada",    "BREW",           "Brew MP",    "Maemo", "MeeGo"};
  return std::find(kPhone.begin(), kPhone.end(), os) != kPhone.end() ||
         startsWith(os, "Windows Phone") || startsWith(os, "BlackBerry") ||
         startsWith(os, "Symbian") || startsWith(os, "Nokia Series");
}

// Smart TVs, streaming sticks and game consoles run browsers too (often with a desktop or an
// Android tablet UA); they are none of desktop, mobile or tablet.
bool isTvOrConsole(std::string_view ua) {
  static constexpr std::array<std::string_view, 12> kMarkers = {
      "HbbTV",     "SmartTV", "SMART-TV", "NetCast",     "GoogleTV", "Android TV",
      "AndroidTV", "CrKey",   "BRAVIA",   "PlayStation", "Xbox",     "Nintendo"};
  return std::any_of(kMarkers.begin(), kMarkers.end(),
                     [&](std::string_view m) { return contains(ua, m); });
}

// Maps ua-parser's answer onto the five classes the dashboards show. Bots first (they often
// claim to be a phone), then tablets (their UAs look like phones minus "Mobile"), then phones.
std::string_view deviceClass(std::string_view ua, const UserAgent& r, std::string_view brand) {
  const std::string_view family = r.deviceFamily;
  const std::string_view os = r.os;
  if (family == "Spider" || hasBotMarker(ua)) return "bot";
  if (trim(ua).empty()) return "other";
  if (family == "HbbTV" || family == "NetCast.TV" || brand == "Generic_Inettv" ||
      isTvOrConsole(ua)) {
    return "other";
  }

  // Android phone browsers say "Mobile" (Chrome, Firefox, Samsung Internet all follow Google's
  // advice), tablet ones leave it out; uap's Generic_Android_Tablet rests on the same rule.
  // App and SDK agents (Dalvik/..., WhatsApp/...) follow no such rule and are mostly phones.
  const bool android = os == "Android" || contains(ua, "Android");
  const bool androidTablet = android && contains(ua, "Mozilla/") && !contains(ua, "Mobile");
  if (startsWith(family, "iPad") || contains(family, "Kindle") || contains(ua, "Kindle") ||
      contains(ua, "Silk/") || contains(family, "Tablet") || brand == "Generic_Android_Tablet" ||
      contains(ua, "PlayBook") || androidTablet) {
    return "tablet";
  }
  // "Mobi" is MDN's advice for spotting phones; MIDP/CLDC mark J2ME feature phones.
  if (startsWith(family, "iPhone") || startsWith(family, "iPod") || android || isPhoneOs(os) ||
      startsWith(family, "Generic Smartphone") || family == "Generic Feature Phone" ||
      contains(ua, "Mobi") || contains(ua, "MIDP") || contains(ua, "CLDC") ||
      contains(ua, "Windows CE")) {
    return "mobile";
  }
  if (isDesktopOs(os)) return "desktop";
  return "other";
}

}  // namespace

bool hasBotMarker(std::string_view userAgent) noexcept {
  for (const std::string_view marker : kBotMarkers) {
    for (std::size_t i = 0; i + marker.size() <= userAgent.size(); ++i) {
      std::size_t k = 0;
      while (k < marker.size() && lowerAscii(userAgent[i + k]) == marker[k]) ++k;
      if (k < marker.size()) continue;
      if (marker == "bot") {
        // "bot" ends a name (Googlebot/2.1, AdsBot-Google, Slackbot 1.0); inside a word it is
        // a carrier like "OrangeBotswana", and CUBOT is a phone maker.
        const std::size_t end = i + marker.size();
        if (end < userAgent.size() && isAsciiLetter(userAgent[end])) continue;
        if (i >= 2 && lowerAscii(userAgent[i - 2]) == 'c' && lowerAscii(userAgent[i - 1]) == 'u') {
          continue;
        }
      }
      return true;
    }
  }
  return false;
}

struct UserAgentParser::Impl {
  // One list of rules (user agents, OS or devices) and the prefilter that narrows it per UA.
  struct Section {
    std::unique_ptr<re2::FilteredRE2> filter;  // owns the compiled rules, in file order
    std::vector<Rule> rules;                   // rules[i] is filter->GetRE2(i)
    std::vector<int> localAtom;                // atom set index -> this filter's atom, or -1
  };

  // Key of a cache entry: the text (owned by the LRU list node, or the caller's during a lookup)
  // and its hash, computed once per parse() and used both to pick the shard and in the map.
  struct Key {
    std::string_view text;
    std::size_t hash;
    bool operator==(const Key& other) const { return text == other.text; }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept { return k.hash; }
  };
  struct Entry {
    std::string text;
    std::size_t hash;
    UserAgent value;
  };
  using Lru = std::list<Entry>;

  // alignas keeps two shards' mutexes off one cache line, so threads on different shards do
  // not slow each other down.
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    Lru lru;  // most recently used first
    std::unordered_map<Key, Lru::iterator, KeyHash> index;
    std::size_t capacity = 0;
  };

  Section ua;
  Section os;
  Section device;
  std::size_t skipped = 0;
  // The literal atoms of all three sections' prefilters, found in a lowercased UA in one pass.
  std::unique_ptr<RE2::Set> atoms;
  std::size_t atomCount = 0;

  std::size_t cacheSize = 0;
  std::unique_ptr<Shard[]> shards;
  std::size_t shardCount = 0;

  void load(const std::filesystem::path& path);
  Section loadSection(const std::filesystem::path& path, const YAML::Node& root,
                      const char* section, std::array<const char*, 3> keys);
  void buildAtomSet(std::array<std::vector<std::string>, 3>& sectionAtoms);
  std::optional<Match> firstMatch(const Section& section, std::string_view text,
                                  const std::vector<int>* atomHits) const;
  UserAgent parseUncached(std::string_view text) const;
};

UserAgentParser::Impl::Section UserAgentParser::Impl::loadSection(const std::filesystem::path& path,
                                                                  const YAML::Node& root,
                                                                  const char* section,
                                                                  std::array<const char*, 3> keys) {
  const YAML::Node list = root[section];
  if (!list || !list.IsSequence()) {
    throw ConfigError(path.string() + ": not a ua-parser regexes file (no '" + section + "' list)");
  }
  Section out;
  out.filter = std::make_unique<re2::FilteredRE2>(kMinAtomLength);
  out.rules.reserve(list.size());
  std::size_t index = 0;
  for (const YAML::Node& entry : list) {
    const std::string where = std::string(section) + "[" + std::to_string(index++) + "]";
    std::string pattern;
    Rule rule;
    bool caseless = false;
    try {
      if (!entry.IsMap() || !entry["regex"] || !entry["regex"].IsScalar()) {
        throw std::invalid_argument("no 'regex' string");
      }
      pattern = entry["regex"].as<std::string>();
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (keys[k] != nullptr) rule.replacement[k] = optionalScalar(entry, keys[k]);
      }
      const auto flag = optionalScalar(entry, "regex_flag");
      caseless = flag && *flag == "i";
    } catch (const std::exception& e) {
      throw ConfigError(path.string() + ": " + where + ": " + e.what());
    }

    // Latin-1 makes RE2 work on bytes: a UA with invalid UTF-8 still matches, and the many
    // bounded `.{0,300}` repeats compile to a fraction of their UTF-8 size. The patterns are
    // ASCII, so nothing else changes.
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingLatin1);
    options.set_case_sensitive(!caseless);
    options.set_log_errors(false);
    int id = -1;
    if (out.filter->Add(pattern, options, &id) != RE2::NoError) {
      ++skipped;
      // FilteredRE2 drops the failed RE2; compile it again only to say why.
      log::get("ingest")->warn(
          "user agent rule skipped, RE2 cannot compile it: file={} rule={} error=\"{}\"",
          path.string(), where, RE2(pattern, options).error());
      continue;
    }
    rule.re = &out.filter->GetRE2(id);
    rule.groups = std::min(rule.re->NumberOfCapturingGroups(), kMaxGroups);
    out.rules.push_back(std::move(rule));
  }
  return out;
}

void UserAgentParser::Impl::buildAtomSet(std::array<std::vector<std::string>, 3>& sectionAtoms) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  // The atom set's lazily built DFA serves every cold parse; give it room so it rarely has to
  // start over (the rules themselves keep RE2's default budget).
  options.set_max_mem(kAtomSetMemory);
  auto set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  std::unordered_map<std::string, int> globalId;
  std::array<Section*, 3> sections = {&ua, &os, &device};
  std::array<std::vector<std::pair<int, int>>, 3> links;  // (global, local) per section
  for (std::size_t s = 0; s < sections.size(); ++s) {
    for (std::size_t local = 0; local < sectionAtoms[s].size(); ++local) {
      const std::string& atom = sectionAtoms[s][local];
      auto [it, inserted] = globalId.try_emplace(atom, static_cast<int>(globalId.size()));
      if (inserted && set->Add(RE2::QuoteMeta(atom), nullptr) != it->second) return;
      links[s].emplace_back(it->second, static_cast<int>(local));
    }
  }
  if (globalId.empty() || !set->Compile()) return;  // no prefilter: every rule is tried
  atomCount = globalId.size();
  for (std::size_t s = 0; s < sections.size(); ++s) {
    sections[s]->localAtom.assign(atomCount, -1);
    for (const auto& [global, local] : links[s]) {
      sections[s]->localAtom[static_cast<std::size_t>(global)] = local;
    }
  }
  atoms = std::move(set);
}

void UserAgentParser::Impl::load(const std::filesystem::path& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(path.string() + ": cannot read the user agent regexes file");
  } catch (const YAML::Exception& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
  if (!root.IsMap()) throw ConfigError(path.string() + ": not a ua-parser regexes file");
  ua = loadSection(path, root, "user_agent_parsers",
                   {"family_replacement", "v1_replacement", nullptr});
  os = loadSection(path, root, "os_parsers", {"os_replacement", nullptr, nullptr});
  device = loadSection(path, root, "device_parsers",
                       {"device_replacement", "brand_replacement", "model_replacement"});

  std::array<std::vector<std::string>, 3> sectionAtoms;
  std::array<Section*, 3> sections = {&ua, &os, &device};
  for (std::size_t s = 0; s < sections.size(); ++s) {
    // FilteredRE2 complains on stderr when compiled empty; an empty section simply never matches.
    if (!sections[s]->rules.empty()) sections[s]->filter->Compile(&sectionAtoms[s]);
  }
  buildAtomSet(sectionAtoms);
}

std::optional<Match> UserAgentParser::Impl::firstMatch(const Section& section,
                                                       std::string_view text,
                                                       const std::vector<int>* atomHits) const {
  if (section.rules.empty()) return std::nullopt;
  std::vector<int> candidates;
  if (atomHits != nullptr) {
    std::vector<int> local;
    local.reserve(atomHits->size());
    for (const int hit : *atomHits) {
      const int id = section.localAtom[static_cast<std::size_t>(hit)];
      if (id >= 0) local.push_back(id);
    }
    // Every rule that could match survives the filter; sorting restores file order, so the
    // first candidate that matches is the rule a plain first-match scan would pick.
    section.filter->AllPotentials(local, &candidates);
    std::sort(candidates.begin(), candidates.end());
  } else {
    candidates.resize(section.rules.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) candidates[i] = static_cast<int>(i);
  }

  const re2::StringPiece input(text.data(), text.size());
  Match m;
  for (const int i : candidates) {
    const Rule& rule = section.rules[static_cast<std::size_t>(i)];
    // RE2 runs its DFA first and extracts groups only when the rule matches.
    if (rule.re->Match(input, 0, input.size(), RE2::UNANCHORED, m.groups.data(), rule.groups + 1)) {
      m.rule = &rule;
      return m;
    }
  }
  return std::nullopt;
}

UserAgent UserAgentParser::Impl::parseUncached(std::string_view text) const {
  std::vector<int> hits;
  const std::vector<int>* atomHits = nullptr;
  if (atoms) {
    std::string lower(text);
    for (char& c : lower) c = lowerAscii(c);
    RE2::Set::ErrorInfo error{};
    // Out of DFA memory (a pathological UA): fall back to trying every rule.
    if (atoms->Match(lower, &hits, &error) || error.kind == RE2::Set::kNoError) atomHits = &hits;
  }

  UserAgent result;
  if (const auto m = firstMatch(ua, text, atomHits)) {
    result.browser = field(*m, 0, 1);
    result.browserVersion = field(*m, 1, 2);
  }
  if (const auto m = firstMatch(os, text, atomHits)) result.os = field(*m, 0, 1);
  std::string brand;
  if (const auto m = firstMatch(device, text, atomHits)) {
    result.deviceFamily = field(*m, 0, 1);
    brand = field(*m, 1, 0);
  }
  if (result.browser.empty()) result.browser = "Other";
  if (result.os.empty()) result.os = "Other";
  if (result.deviceFamily.empty()) result.deviceFamily = "Other";
  result.device = deviceClass(text, result, brand);
  result.bot = result.device == "bot";
  return result;
}

UserAgentParser::UserAgentParser(const std::filesystem::path& regexes, std::size_t cacheSize)
    : impl_(std::make_unique<Impl>()) {
  impl_->load(regexes);
  impl_->cacheSize = cacheSize;
  impl_->shardCount = std::min(cacheSize, kMaxShards);
  if (impl_->shardCount > 0) {
    impl_->shards = std::make_unique<Impl::Shard[]>(impl_->shardCount);
    // Spread the remainder so the capacities add up to exactly cacheSize.
    for (std::size_t i = 0; i < impl_->shardCount; ++i) {
      impl_->shards[i].capacity =
          cacheSize / impl_->shardCount + (i < cacheSize % impl_->shardCount ? 1 : 0);
    }
  }
}

UserAgentParser::~UserAgentParser() = default;

UserAgent UserAgentParser::parse(std::string_view userAgent) const {
  const std::string_view text = userAgent.substr(0, kMaxUserAgentBytes);
  if (impl_->shardCount == 0) return impl_->parseUncached(text);

  const Impl::Key key{text, std::hash<std::string_view>{}(text)};
  // The high bits pick the shard; the map's buckets use the low ones.
  Impl::Shard& shard = impl_->shards[(key.hash >> 32) % impl_->shardCount];
  {
    std::lock_guard lock(shard.mutex);
    if (const auto it = shard.index.find(key); it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      return it->second->value;
    }
  }

  // Parse outside the lock: a cold parse is long, and other threads' hits must not wait on it.
  UserAgent result = impl_->parseUncached(text);

  std::lock_guard lock(shard.mutex);
  if (shard.index.find(key) != shard.index.end()) return result;  // another thread was first
  shard.lru.push_front(Impl::Entry{std::string(text), key.hash, result});
  shard.index.emplace(Impl::Key{shard.lru.front().text, key.hash}, shard.lru.begin());
  if (shard.lru.size() > shard.capacity) {
    const Impl::Entry& oldest = shard.lru.back();
    shard.index.erase(Impl::Key{oldest.text, oldest.hash});
    shard.lru.pop_back();
  }
  return result;
}

std::size_t UserAgentParser::ruleCount() const noexcept {
  return impl_->ua.rules.size() + impl_->os.rules.size() + impl_->device.rules.size();
}

std::size_t UserAgentParser::skippedRules() const noexcept {
  return impl_->skipped;
}

std::size_t UserAgentParser::cachedEntries() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < impl_->shardCount; ++i) {
    std::lock_guard lock(impl_->shards[i].mutex);
    total += impl_->shards[i].lru.size();
  }
  return total;
}

std::size_t UserAgentParser::cacheCapacity() const noexcept {
  return impl_->cacheSize;
}

}  // namespace mp::events
