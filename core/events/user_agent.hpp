// Browser, operating system and device class of a User-Agent header, from uap-core's regexes.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace mp::events {

/// Where Debian's uap-core package installs the ua-parser regexes.
inline constexpr char kDefaultRegexesPath[] = "/usr/share/uap-core/regexes.yaml";

/// Only this many leading bytes of a User-Agent are parsed and cached (real ones are < 400).
inline constexpr std::size_t kMaxUserAgentBytes = 1024;

/// Case-insensitive substrings that make a User-Agent a bot even when uap-core's "Spider"
/// rules miss it (HTTP libraries, headless browsers, audits, uptime monitors, link previews).
inline constexpr std::array<std::string_view, 12> kBotMarkers = {
    "bot",     "crawler",         "spider",         "slurp",          "curl/",
    "wget/",   "python-requests", "go-http-client", "headlesschrome", "lighthouse",
    "preview", "monitor"};

/// What one User-Agent string says about the visitor; the fields an event stores.
struct UserAgent {
  std::string browser = "Other";       ///< ua-parser family: "Chrome", "Mobile Safari", "Other"
  std::string browserVersion;          ///< major version, "" when unknown
  std::string os = "Other";            ///< ua-parser OS family: "Windows", "Mac OS X", "iOS"
  std::string device = "other";        ///< desktop | mobile | tablet | bot | other
  std::string deviceFamily = "Other";  ///< ua-parser device family: "iPhone", "Spider", "Other"
  bool bot = false;                    ///< device == "bot": such events are not stored

  bool operator==(const UserAgent&) const = default;
};

/// True when `userAgent` contains one of kBotMarkers, ignoring ASCII case; "bot" counts only
/// where a name ends ("Googlebot/2.1", not "OrangeBotswana"), and never in the phone maker CUBOT.
bool hasBotMarker(std::string_view userAgent) noexcept;

/// Parses User-Agent strings with the ua-parser rules (first match wins), behind an LRU cache.
class UserAgentParser {
 public:
  /// Loads and compiles every rule of `regexes` once; keeps up to `cacheSize` results (0 = no
  /// cache). Throws ConfigError naming the file when it is unreadable or not a ua-parser file.
  explicit UserAgentParser(const std::filesystem::path& regexes = kDefaultRegexesPath,
                           std::size_t cacheSize = 10000);
  ~UserAgentParser();
  UserAgentParser(const UserAgentParser&) = delete;
  UserAgentParser& operator=(const UserAgentParser&) = delete;

  /// The browser, OS and device class of `userAgent` ("" gives all "Other"/"other"); thread-safe.
  UserAgent parse(std::string_view userAgent) const;

  /// Rules compiled and in use, over the three sections.
  std::size_t ruleCount() const noexcept;
  /// Rules RE2 could not compile, skipped with a warning on the "ingest" logger.
  std::size_t skippedRules() const noexcept;
  /// Results held in the cache now; never more than cacheCapacity().
  std::size_t cachedEntries() const;
  /// The `cacheSize` the parser was built with.
  std::size_t cacheCapacity() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp::events
