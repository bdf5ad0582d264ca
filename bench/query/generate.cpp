// mp_bench_query_data: writes bench/query's data set (DESIGN.md "Benchmark shapes", Stats) into a
// migrated, empty database: one owner, N websites and their events, streamed with COPY.
//
// usage: mp_bench_query_data DATABASE_URL SITES_FILE [options]
//   --events N         events in all (default 10000000)
//   --sites N          websites (default 100)
//   --largest-share F  share of the events held by the largest website (default 0.3)
//   --days N           UTC days of data, the last one ending now (default 90)
//   --seed N           seed of every random choice (default 1)
//   --jobs N           COPY sessions in parallel (default 2; the data do not depend on it)
//   --now MS           the moment the data end, in Unix milliseconds (default: now)
//
// The data are a function of the options and the moment "now" alone: every website draws from its
// own generator seeded with (seed, website number), whichever COPY session writes it.
//
// Shape: website 1 holds `largest-share` of the events, website k of the others 1/k of the rest
// (normalised); sessions of 1–8 page views (weight 1/n), each event up to 4 minutes after the last
// within about 30 minutes, some custom events with props between them; about 2,000 paths per
// website on a Zipf curve; the first page view of a session from one of about 300 referrer
// domains on a power law, half of the sessions direct; a dozen browser/OS/device profiles parsed
// by the daemon's own user-agent parser; 25 countries; a daily and weekly rhythm and a slow rise.
// A third of the sessions land with campaign tags (UTM, click ids); source, channel and UTM
// columns are filled by the daemon's own attribution, as ingest fills them; one custom event
// ("scroll") is non-interactive.
//
// Visitor ids are day-scoped, as ingest makes them (the daily salt is part of the hash): the id of
// an event is a hash of (seed, website, UTC day of the event, person), so no id is seen on two
// UTC days, and a person seen on several days has a different id on each.
#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "db/connection.hpp"
#include "events/attribution.hpp"
#include "events/user_agent.hpp"
#include "sites/sites.hpp"
#include "users/users.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t kDayMs = 86'400'000;
constexpr int kPathsPerSite = 2000;
constexpr int kReferrerDomains = 300;
constexpr double kCustomEventChance = 0.12;
constexpr std::size_t kCopyChunkBytes = std::size_t{1} << 20;

struct Options {
  std::string url;
  std::string sitesFile;
  std::int64_t events = 10'000'000;
  int sites = 100;
  double largestShare = 0.3;
  int days = 90;
  std::uint64_t seed = 1;
  int jobs = 2;
  std::int64_t nowMs = 0;  ///< the end of the data (Unix ms); 0 = the clock
};

// SplitMix64: a fixed, portable mixing function; the generator below and the draws built on it do
// not depend on the standard library's distributions, which are implementation-defined.
constexpr std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t hashOf(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0,
                               std::uint64_t d = 0) {
  return mix(mix(mix(mix(a) ^ b) ^ c) ^ d);
}

// xoshiro256**, seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) {
      seed = mix(seed);
      s = seed;
    }
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  bool chance(double p) { return uniform() < p; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

// Draws indexes 0…n-1 with given weights (binary search over the cumulative sum).
class Weighted {
 public:
  explicit Weighted(const std::vector<double>& weights) : cdf_(weights.size()) {
    std::partial_sum(weights.begin(), weights.end(), cdf_.begin());
  }
  /// Weights 1 / (k+1)^s for k = 0…n-1 (Zipf, power law).
  static Weighted zipf(std::size_t n, double s) {
    std::vector<double> w(n);
    for (std::size_t k = 0; k < n; ++k) w[k] = 1.0 / std::pow(static_cast<double>(k + 1), s);
    return Weighted(w);
  }
  std::size_t draw(Rng& rng) const {
    const double x = rng.uniform() * cdf_.back();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), x);
    return std::min(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

// A browser/OS/device profile: its User-Agent and what the daemon's parser makes of it.
struct Profile {
  const char* userAgent;
  double weight;
  std::string browser;
  std::string os;
  std::string device;
};

// The twelve agents of bench/ingest/track.lua, weighted roughly as web traffic is today.
std::vector<Profile> profiles() {
  return {
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/124.0.0.0 Safari/537.36",
       25,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/124.0.0.0 Safari/537.36",
       10,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
       5,
       {},
       {},
       {}},
      {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
       2,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/17.4.1 Safari/605.1.15",
       7,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
       8,
       {},
       {},
       {}},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
       "Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
       18,
       {},
       {},
       {}},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
       "Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
       4,
       {},
       {},
       {}},
      {"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/17.4 Mobile/15E148 Safari/604.1",
       3,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/124.0.0.0 Mobile Safari/537.36",
       12,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
       "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
       4,
       {},
       {},
       {}},
      {"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/124.0.0.0 Safari/537.36",
       2,
       {},
       {},
       {}},
  };
}

constexpr std::array<const char*, 25> kCountries = {
    "US", "DE", "GB", "FR", "IN", "CA", "NL", "BR", "ES", "IT", "AU", "PL", "SE",
    "JP", "CH", "BE", "AT", "MX", "TR", "DK", "NO", "FI", "IE", "PT", "CZ"};

// The head of the referrer curve: real sources, most frequent first (hosts as ingest stores them,
// without "www."); the tail is made-up blogs and forums.
constexpr std::array<const char*, 30> kTopReferrers = {"google.com",
                                                       "bing.com",
                                                       "duckduckgo.com",
                                                       "t.co",
                                                       "facebook.com",
                                                       "reddit.com",
                                                       "news.ycombinator.com",
                                                       "linkedin.com",
                                                       "github.com",
                                                       "yahoo.com",
                                                       "ecosia.org",
                                                       "search.brave.com",
                                                       "baidu.com",
                                                       "yandex.ru",
                                                       "instagram.com",
                                                       "youtube.com",
                                                       "stackoverflow.com",
                                                       "medium.com",
                                                       "dev.to",
                                                       "producthunt.com",
                                                       "lobste.rs",
                                                       "mastodon.social",
                                                       "pinterest.com",
                                                       "quora.com",
                                                       "en.wikipedia.org",
                                                       "substack.com",
                                                       "qwant.com",
                                                       "slack.com",
                                                       "discord.com",
                                                       "startpage.com"};

constexpr std::array<const char*, 48> kWords = {
    "analytics", "privacy", "guide",     "release", "pricing",   "update",   "install",  "docker",
    "postgres",  "redis",   "scaling",   "events",  "dashboard", "tracking", "api",      "team",
    "billing",   "account", "security",  "export",  "import",    "report",   "campaign", "funnel",
    "goals",     "cohort",  "retention", "segment", "mobile",    "browser",  "cookie",   "consent",
    "gdpr",      "speed",   "cache",     "server",  "cloud",     "backup",   "upgrade",  "plugin",
    "theme",     "widget",  "webhook",   "sdk",     "linux",     "windows",  "android",  "ios"};

// Custom events, most frequent first, and props for each (drawn from the session's generator).
// The last is sent with "interactive": false (a scroll-depth ping): it does not end a bounce.
constexpr std::array<const char*, 7> kCustomEvents = {
    "signup", "download", "outbound-link", "play-video", "add-to-cart", "newsletter", "scroll"};
constexpr std::size_t kNonInteractiveEvent = 6;

// Several draws in a fixed order: the elements of a braced list are evaluated left to right,
// while the operands of + and the arguments of a call are evaluated in an order the compiler picks.
template <std::size_t N>
std::array<std::uint64_t, N> draws(Rng& rng, const std::array<std::uint64_t, N>& bounds) {
  std::array<std::uint64_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = rng.below(bounds[i]);
  return out;
}

std::string customProps(std::size_t type, Rng& rng) {
  static constexpr std::array<const char*, 3> kPlans = {"free", "pro", "team"};
  static constexpr std::array<const char*, 3> kSources = {"header", "footer", "pricing"};
  switch (type) {
    case 0: {
      const auto d = draws<2>(rng, {3, 3});
      return fmt::format(R"({{"plan": "{}", "source": "{}"}})", kPlans[d[0]], kSources[d[1]]);
    }
    case 1: {
      const auto d = draws<3>(rng, {4, 20, 4});
      return fmt::format(R"({{"file": "release-{}.{}.tar.gz", "os": "{}"}})", 1 + d[0], d[1],
                         kWords[44 + d[2]]);
    }
    case 2:
      return fmt::format(R"({{"host": "{}"}})", kTopReferrers[rng.below(kTopReferrers.size())]);
    case 3: {
      const auto d = draws<2>(rng, {12, 300});
      return fmt::format(R"({{"video": "intro-{}", "seconds": {}}})", d[0], 5 + d[1]);
    }
    case 4: {
      const auto d = draws<4>(rng, {500, 200, 100, 10});
      return fmt::format(R"({{"sku": "SKU-{}", "price": {}.{:02}, "gift": {}}})", 1000 + d[0],
                         5 + d[1], d[2], d[3] == 0 ? "true" : "false");
    }
    case 5:
      return fmt::format(R"({{"source": "{}"}})", kSources[rng.below(3)]);
    default:
      return fmt::format(R"({{"depth": "{}"}})", 25 * (1 + rng.below(4)));
  }
}

// About 2,000 distinct paths: the usual pages first (they take the head of the Zipf curve),
// then blog posts, docs, products and help articles.
std::vector<std::string> sitePaths(Rng& rng) {
  std::vector<std::string> paths = {
      "/",        "/pricing", "/features", "/blog",      "/docs",         "/about",
      "/contact", "/login",   "/signup",   "/changelog", "/download",     "/docs/getting-started",
      "/careers", "/privacy", "/terms",    "/customers", "/integrations", "/security"};
  std::set<std::string> seen(paths.begin(), paths.end());
  static constexpr std::array<const char*, 6> kKinds = {"/blog/", "/docs/", "/products/",
                                                        "/help/", "/blog/", "/docs/"};
  constexpr std::uint64_t kW = kWords.size();
  while (paths.size() < static_cast<std::size_t>(kPathsPerSite)) {
    const auto d = draws<4>(rng, {kKinds.size(), kW, kW, kW});
    std::string path = kKinds[d[0]];
    if (path == "/products/") {
      path += fmt::format("{}-{}", kWords[d[1]], d[2] * 100 / kW);
    } else if (path == "/docs/") {
      path += fmt::format("{}/{}-{}", kWords[d[1]], kWords[d[2]], kWords[d[3]]);
    } else {
      path += fmt::format("{}-{}-{}", kWords[d[1]], kWords[d[2]], kWords[d[3]]);
    }
    if (seen.insert(path).second) paths.push_back(std::move(path));
  }
  return paths;
}

std::vector<std::string> referrerDomains() {
  std::vector<std::string> domains(kTopReferrers.begin(), kTopReferrers.end());
  Rng rng(0x5EF);
  std::set<std::string> seen(domains.begin(), domains.end());
  static constexpr std::array<const char*, 5> kTlds = {".com", ".net", ".org", ".io", ".dev"};
  while (domains.size() < static_cast<std::size_t>(kReferrerDomains)) {
    const auto r = draws<4>(rng, {kWords.size(), kWords.size(), kTlds.size(), 10});
    std::string d =
        fmt::format("{}{}{}{}", r[3] < 3 ? "blog." : "", kWords[r[0]], kWords[r[1]], kTlds[r[2]]);
    if (seen.insert(d).second) domains.push_back(std::move(d));
  }
  return domains;
}

// Appends `text` in COPY text format (backslash, tab, newline and carriage return escaped).
void appendField(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

// "2026-11-27 10:15:00.123+00" for Unix milliseconds.
void appendTimestamp(std::string& out, std::int64_t ms) {
  const auto day = std::chrono::sys_days{std::chrono::days{ms / kDayMs}};
  const std::chrono::year_month_day ymd{day};
  const std::int64_t inDay = ms % kDayMs;
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}+00",
                 static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                 static_cast<unsigned>(ymd.day()), inDay / 3'600'000, inDay / 60'000 % 60,
                 inDay / 1000 % 60, inDay % 1000);
}

// A UUIDv7 as ingest makes them (time prefix, then bits that are random there and hashed here).
void appendUuidV7(std::string& out, std::int64_t ms, std::uint64_t bits) {
  const auto time = static_cast<std::uint64_t>(ms);
  const std::uint64_t rest = mix(bits);
  fmt::format_to(std::back_inserter(out), "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}", time >> 16,
                 time & 0xFFFF, (bits >> 52) & 0xFFF, 0x8000 | ((rest >> 48) & 0x3FFF),
                 rest & 0xFFFFFFFFFFFFULL);
}

// What every website's generator shares.
struct Shared {
  const Options* opts = nullptr;
  std::vector<Profile> profiles;
  std::vector<std::string> referrers;
  std::int64_t spanStartMs = 0;  ///< 00:00 UTC of the first day
  std::int64_t spanEndMs = 0;    ///< now
  std::atomic<std::int64_t> written{0};
};

struct SiteTask {
  int number = 0;  ///< 1 = the largest
  std::string id;
  std::string domain;
  std::int64_t events = 0;
};

struct SiteStats {
  std::int64_t sessions = 0;
  std::int64_t pageviews = 0;
};

// Relative traffic at a moment: a daily curve (UTC; audiences in Europe and the Americas), quieter
// weekends, and a rise of 30% over the span.
double trafficWeight(std::int64_t ms, const Shared& shared) {
  static constexpr std::array<double, 24> kHourly = {
      0.35, 0.30, 0.25, 0.22, 0.20, 0.22, 0.30, 0.45, 0.65, 0.80, 0.90, 0.95,
      1.00, 1.00, 0.98, 0.95, 0.95, 0.95, 0.90, 0.85, 0.75, 0.60, 0.50, 0.42};
  const auto hour = static_cast<std::size_t>(ms % kDayMs / 3'600'000);
  const std::int64_t day = ms / kDayMs;
  const std::int64_t weekday = (day + 4) % 7;  // 1970-01-01 was a Thursday; 0 = Sunday
  const double weekend = (weekday == 0 || weekday == 6) ? 0.75 : 1.0;
  const double progress = static_cast<double>(ms - shared.spanStartMs) /
                          static_cast<double>(shared.spanEndMs - shared.spanStartMs);
  return kHourly[hour] * weekend * (0.85 + 0.3 * progress);
}

class CopyStream {
 public:
  explicit CopyStream(PGconn* conn) : conn_(conn) { buffer_.reserve(kCopyChunkBytes + 4096); }
  std::string& buffer() { return buffer_; }
  void maybeFlush() {
    if (buffer_.size() >= kCopyChunkBytes) flush();
  }
  void flush() {
    if (buffer_.empty()) return;
    if (PQputCopyData(conn_, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      throw std::runtime_error(std::string("COPY failed: ") + PQerrorMessage(conn_));
    }
    buffer_.clear();
  }

 private:
  PGconn* conn_;
  std::string buffer_;
};

// Streams one website's events into the open COPY.
SiteStats writeSite(const SiteTask& site, Shared& shared, CopyStream& copy) {
  const Options& opts = *shared.opts;
  Rng rng(hashOf(opts.seed, static_cast<std::uint64_t>(site.number), 0x517E));
  const std::vector<std::string> paths = sitePaths(rng);
  static const Weighted kPageCurve = Weighted::zipf(kPathsPerSite, 1.0);
  static const Weighted kReferrerCurve = Weighted::zipf(kReferrerDomains, 1.1);
  static const Weighted kCountryCurve = Weighted::zipf(kCountries.size(), 0.9);
  static const Weighted kCustomCurve = Weighted::zipf(kCustomEvents.size(), 0.8);
  static const Weighted kSessionLength = Weighted::zipf(8, 1.0);
  std::vector<double> profileWeights;
  for (const auto& p : shared.profiles) profileWeights.push_back(p.weight);
  const Weighted profileCurve(profileWeights);

  // Half the websites are reached on www.
  const std::string host = (site.number % 2 == 0 ? "www." : "") + site.domain;
  const std::string origin = "https://" + host;
  // Persons: about three times as many as sessions a day, drawn uniformly, so that most
  // visitors of a day have one session and some have several (visits/visitor ≈ 1.2).
  const double meanSessionEvents = 2.94 * (1.0 + kCustomEventChance);
  const double sessionsPerDay = static_cast<double>(site.events) / meanSessionEvents / opts.days;
  const auto persons = static_cast<std::uint64_t>(std::max(100.0, 3.0 * sessionsPerDay));

  static constexpr std::array<const char*, 9> kUtm = {
      "?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
      "?utm_source=twitter&utm_medium=social",
      "?gclid=Cj0KCQiA",
      "?fbclid=IwAR2x",
      "?ref=producthunt",
      "?utm_source=google&utm_medium=cpc&utm_campaign=brand",
      "?utm_source=facebook&utm_medium=paid-social&utm_campaign=spring-sale&utm_content=video",
      "?utm_source=partner-blog&utm_medium=affiliate&utm_campaign=launch",
      "?utm_campaign=black-friday&utm_term=analytics"};

  SiteStats stats;
  std::int64_t written = 0;
  std::int64_t eventIndex = 0;
  const std::int64_t span = shared.spanEndMs - shared.spanStartMs;
  std::string& out = copy.buffer();

  while (written < site.events) {
    // The session's start: uniform over the span, kept with the traffic weight (rejection).
    std::int64_t start = 0;
    do {
      start =
          shared.spanStartMs + static_cast<std::int64_t>(rng.uniform() * static_cast<double>(span));
    } while (rng.uniform() * 1.15 > trafficWeight(start, shared));

    const std::uint64_t person = rng.below(persons);
    // A person keeps one agent, country and address: drawn from the person's own generator.
    Rng personRng(hashOf(opts.seed, static_cast<std::uint64_t>(site.number), person, 0xFE45));
    const Profile& agent = shared.profiles[profileCurve.draw(personRng)];
    const char* country = kCountries[kCountryCurve.draw(personRng)];
    const auto octets = draws<3>(personRng, {200, 256, 256});
    const std::string ip = fmt::format("{}.{}.{}.0", 11 + octets[0], octets[1], octets[2]);

    const int pageviews = static_cast<int>(kSessionLength.draw(rng)) + 1;
    char sessionId[17];
    std::snprintf(sessionId, sizeof sessionId, "%016llx",
                  static_cast<unsigned long long>(
                      hashOf(opts.seed, static_cast<std::uint64_t>(site.number), 0x5E55,
                             static_cast<std::uint64_t>(stats.sessions))));

    // Times of the session's events: page views up to 4 minutes apart (about a minute on
    // average), a custom event between two of them; moved back when it would end after now.
    struct Planned {
      std::int64_t ms;
      int custom;  // -1 for a page view
    };
    std::vector<Planned> plan;
    std::int64_t t = start;
    for (int i = 0; i < pageviews; ++i) {
      if (i > 0) {
        const double pause = std::min(230.0, -60.0 * std::log(1.0 - rng.uniform()));
        t += 10'000 + static_cast<std::int64_t>(pause * 1000.0);
      }
      plan.push_back({t, -1});
      if (rng.chance(kCustomEventChance)) {
        plan.push_back({t + 1000 + static_cast<std::int64_t>(rng.below(9000)),
                        static_cast<int>(kCustomCurve.draw(rng))});
      }
    }
    const std::int64_t overflow = plan.back().ms - (shared.spanEndMs - 1);
    if (overflow > 0) {
      for (auto& p : plan) p.ms -= overflow;
    }

    std::string referrer;
    std::string referrerHost;
    if (rng.chance(0.5)) {
      referrerHost = shared.referrers[kReferrerCurve.draw(rng)];
      const bool www = referrerHost.find('.') == referrerHost.rfind('.') && rng.chance(0.5);
      referrer = "https://" + std::string(www ? "www." : "") + referrerHost + "/";
    }
    const bool campaign = rng.chance(0.35);

    std::string page;
    std::string url;
    int viewNumber = 0;
    for (const auto& ev : plan) {
      if (written >= site.events) break;
      if (ev.custom < 0) {
        if (viewNumber > 0) {
          referrer = url;  // internal navigation: the previous page, no referrer host
          referrerHost.clear();
        }
        page = paths[kPageCurve.draw(rng)];
        url = origin + page;
        if (viewNumber == 0 && campaign) {
          url += kUtm[rng.below(kUtm.size())];
        } else if (viewNumber > 0 && rng.chance(0.1)) {
          url += "?page=" + std::to_string(2 + rng.below(5));
        }
        ++viewNumber;
        ++stats.pageviews;
      }
      // Attributed as ingest does it (core/ingest/event_store.cpp), from the URL's query and the
      // referrer's host (none for internal navigation).
      const auto question = url.find('?');
      const mp::events::Attribution attribution = mp::events::attribute(
          question == std::string::npos ? std::string_view()
                                        : std::string_view(url).substr(question + 1),
          host, referrerHost);
      const std::int64_t day = ev.ms / kDayMs;
      const auto visitorId = static_cast<std::int64_t>(
          hashOf(opts.seed ^ 0x715170, static_cast<std::uint64_t>(site.number),
                 static_cast<std::uint64_t>(day), person));

      out += site.id;
      out += '\t';
      appendTimestamp(out, ev.ms);
      out += '\t';
      appendUuidV7(out, ev.ms,
                   hashOf(opts.seed, static_cast<std::uint64_t>(site.number), 0xE1D,
                          static_cast<std::uint64_t>(eventIndex)));
      out += '\t';
      out += ev.custom < 0 ? "pageview" : kCustomEvents[static_cast<std::size_t>(ev.custom)];
      out += '\t';
      appendField(out, page);
      out += '\t';
      appendField(out, url);
      out += '\t';
      out += host;
      out += '\t';
      if (referrer.empty()) {
        out += "\\N";
      } else {
        appendField(out, referrer);
      }
      out += '\t';
      if (referrerHost.empty()) {
        out += "\\N";
      } else {
        appendField(out, referrerHost);
      }
      out += '\t';
      out += sessionId;
      out += '\t';
      fmt::format_to(std::back_inserter(out), "{}", visitorId);
      out += '\t';
      appendField(out, agent.userAgent);
      out += '\t';
      appendField(out, agent.browser);
      out += '\t';
      appendField(out, agent.os);
      out += '\t';
      appendField(out, agent.device);
      out += '\t';
      out += country;
      out += '\t';
      out += ip;
      out += '\t';
      if (ev.custom < 0) {
        out += "\\N";
      } else {
        appendField(out, customProps(static_cast<std::size_t>(ev.custom), rng));
      }
      for (const auto* column :
           {&attribution.source, &attribution.utmSource, &attribution.utmMedium,
            &attribution.utmCampaign, &attribution.utmTerm, &attribution.utmContent}) {
        out += '\t';
        if (*column) {
          appendField(out, **column);
        } else {
          out += "\\N";
        }
        if (column == &attribution.source) {
          out += '\t';
          appendField(out, attribution.channel);
        }
      }
      out += '\t';
      out += ev.custom == static_cast<int>(kNonInteractiveEvent) ? 'f' : 't';
      out += '\n';
      ++written;
      ++eventIndex;
      if ((written & 1023) == 0) shared.written.fetch_add(1024);
      copy.maybeFlush();
    }
    ++stats.sessions;
  }
  shared.written.fetch_add(written & 1023);
  return stats;
}

// Events per website: the largest holds `largestShare`, website k of the others 1/k of the rest.
std::vector<std::int64_t> plannedCounts(const Options& opts) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(opts.sites), 0);
  if (opts.sites == 1) {
    counts[0] = opts.events;
    return counts;
  }
  counts[0] =
      static_cast<std::int64_t>(std::llround(static_cast<double>(opts.events) * opts.largestShare));
  const std::int64_t rest = opts.events - counts[0];
  double harmonic = 0;
  for (int k = 2; k <= opts.sites; ++k) harmonic += 1.0 / k;
  std::int64_t given = 0;
  for (int k = 2; k <= opts.sites; ++k) {
    const auto n = static_cast<std::int64_t>(static_cast<double>(rest) / k / harmonic);
    counts[static_cast<std::size_t>(k - 1)] = n;
    given += n;
  }
  counts[1] += rest - given;  // the rounding remainder, a few events
  return counts;
}

struct JobResult {
  SiteStats stats;
  std::string error;
};

// One COPY session: its websites one after the other, each in its own COPY (one transaction).
void runJob(const std::vector<SiteTask>& tasks, Shared& shared, JobResult& result) {
  try {
    mp::db::Connection conn(shared.opts->url, std::chrono::seconds(10));
    // A bulk load that can be redone: no need to wait for each commit's WAL flush.
    conn.exec("SET synchronous_commit = off");
    PGconn* pg = conn.native();
    for (const auto& task : tasks) {
      PGresult* res =
          PQexec(pg,
                 "COPY events (website_id, ts, id, event_type, page, url, hostname,"
                 " referrer, referrer_host, session_id, visitor_id, user_agent,"
                 " browser, os, device, country, ip, props, source, channel, utm_source,"
                 " utm_medium, utm_campaign, utm_term, utm_content, interactive)"
                 " FROM STDIN");
      const bool copying = PQresultStatus(res) == PGRES_COPY_IN;
      PQclear(res);
      if (!copying) throw std::runtime_error(std::string("COPY: ") + PQerrorMessage(pg));
      CopyStream copy(pg);
      const SiteStats s = writeSite(task, shared, copy);
      copy.flush();
      if (PQputCopyEnd(pg, nullptr) != 1) {
        throw std::runtime_error(std::string("COPY end: ") + PQerrorMessage(pg));
      }
      bool ok = true;
      std::string message;
      while (PGresult* r = PQgetResult(pg)) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
          ok = false;
          message = PQresultErrorMessage(r);
        }
        PQclear(r);
      }
      if (!ok)
        throw std::runtime_error("COPY of site" + std::to_string(task.number) + ": " + message);
      result.stats.sessions += s.sessions;
      result.stats.pageviews += s.pageviews;
    }
  } catch (const std::exception& e) {
    result.error = e.what();
  }
}

bool parseOptions(int argc, char** argv, Options& opts) {
  if (argc < 3) return false;
  opts.url = argv[1];
  opts.sitesFile = argv[2];
  for (int i = 3; i < argc; i += 2) {
    if (i + 1 >= argc) return false;
    const std::string_view name = argv[i];
    const char* value = argv[i + 1];
    char* end = nullptr;
    if (name == "--events") {
      opts.events = std::strtoll(value, &end, 10);
    } else if (name == "--sites") {
      opts.sites = static_cast<int>(std::strtol(value, &end, 10));
    } else if (name == "--largest-share") {
      opts.largestShare = std::strtod(value, &end);
    } else if (name == "--days") {
      opts.days = static_cast<int>(std::strtol(value, &end, 10));
    } else if (name == "--seed") {
      opts.seed = std::strtoull(value, &end, 10);
    } else if (name == "--jobs") {
      opts.jobs = static_cast<int>(std::strtol(value, &end, 10));
    } else if (name == "--now") {
      opts.nowMs = std::strtoll(value, &end, 10);
    } else {
      return false;
    }
    if (end == nullptr || *end != '\0') return false;
  }
  return opts.events >= 1 && opts.sites >= 1 && opts.sites <= 10000 && opts.largestShare > 0 &&
         opts.largestShare < 1 && opts.days >= 1 && opts.days <= 3650 && opts.jobs >= 1 &&
         opts.jobs <= 16 && opts.nowMs >= 0;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  if (!parseOptions(argc, argv, opts)) {
    std::fprintf(stderr,
                 "usage: %s DATABASE_URL SITES_FILE [--events N] [--sites N] [--largest-share F]"
                 " [--days N] [--seed N] [--jobs N] [--now MS]\n",
                 argv[0]);
    return 2;
  }
  const auto started = Clock::now();
  try {
    Shared shared;
    shared.opts = &opts;
    shared.profiles = profiles();
    shared.referrers = referrerDomains();
    {
      // What the daemon's parser makes of each agent, so the stored columns agree with ingest.
      mp::events::UserAgentParser parser;
      for (auto& p : shared.profiles) {
        const auto info = parser.parse(p.userAgent);
        p.browser = info.browser;
        p.os = info.os;
        p.device = info.device;
      }
    }
    const auto nowMs = opts.nowMs > 0 ? opts.nowMs
                                      : std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count();
    shared.spanEndMs = nowMs;
    shared.spanStartMs = (nowMs / kDayMs - (opts.days - 1)) * kDayMs;

    mp::db::Connection conn(opts.url, std::chrono::seconds(10));
    if (conn.exec("SELECT count(*) FROM websites").getInt(0, 0) != 0) {
      throw std::runtime_error("the database already has websites: give it an empty one");
    }
    // bcrypt cost 4: the owner's password is never used (mpctl token issue signs tokens).
    const auto owner = mp::users::create(conn, "owner@bench.test", "bench-password", 4);
    const auto counts = plannedCounts(opts);
    std::vector<SiteTask> tasks;
    for (int k = 1; k <= opts.sites; ++k) {
      const std::string domain = "site" + std::to_string(k) + ".bench.test";
      const auto site =
          mp::sites::create(conn, owner.id, "Bench site " + std::to_string(k), domain);
      tasks.push_back({k, site.id, domain, counts[static_cast<std::size_t>(k - 1)]});
    }
    // Every month of the span gets its partition first (migrations create this month's and the
    // next ones only), so no row lands in events_default.
    for (std::int64_t month = shared.spanStartMs; month <= shared.spanEndMs; month += 28 * kDayMs) {
      conn.execArgs("SELECT mp_ensure_event_partition(to_timestamp($1::bigint / 1000.0)::date)",
                    month);
    }
    conn.execArgs("SELECT mp_ensure_event_partition(to_timestamp($1::bigint / 1000.0)::date)",
                  shared.spanEndMs);

    // Websites to COPY sessions, largest first to the least loaded.
    const auto jobs = static_cast<std::size_t>(std::min(opts.jobs, opts.sites));
    std::vector<std::vector<SiteTask>> perJob(jobs);
    std::vector<std::int64_t> load(jobs, 0);
    std::vector<SiteTask> bySize = tasks;
    std::stable_sort(bySize.begin(), bySize.end(),
                     [](const SiteTask& a, const SiteTask& b) { return a.events > b.events; });
    for (auto& task : bySize) {
      const auto j =
          static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
      load[j] += task.events;
      perJob[j].push_back(std::move(task));
    }

    std::fprintf(
        stderr, "generating %lld events for %d websites (largest %lld) in %zu COPY sessions\n",
        static_cast<long long>(opts.events), opts.sites, static_cast<long long>(counts[0]), jobs);
    const auto copyStarted = Clock::now();
    std::vector<JobResult> results(jobs);
    std::vector<std::thread> threads;
    for (std::size_t j = 0; j < jobs; ++j) {
      threads.emplace_back(runJob, std::cref(perJob[j]), std::ref(shared), std::ref(results[j]));
    }
    std::atomic<bool> done{false};
    std::thread progress([&] {
      auto last = Clock::now();
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (secondsSince(last) < 10) continue;
        last = Clock::now();
        const auto n = shared.written.load();
        std::fprintf(stderr, "  %lld of %lld events (%.0f/s)\n", static_cast<long long>(n),
                     static_cast<long long>(opts.events),
                     static_cast<double>(n) / secondsSince(copyStarted));
      }
    });
    for (auto& t : threads) t.join();
    done = true;
    progress.join();
    SiteStats total;
    for (const auto& r : results) {
      if (!r.error.empty()) throw std::runtime_error(r.error);
      total.sessions += r.stats.sessions;
      total.pageviews += r.stats.pageviews;
    }
    const double copySeconds = secondsSince(copyStarted);

    std::fprintf(stderr, "VACUUM (ANALYZE) events\n");
    const auto vacuumStarted = Clock::now();
    conn.exec("VACUUM (ANALYZE) events");
    conn.exec("ANALYZE");
    const double vacuumSeconds = secondsSince(vacuumStarted);

    std::ofstream out(opts.sitesFile, std::ios::trunc);
    for (const auto& task : tasks) out << task.id << '\n';
    out.close();
    if (!out) throw std::runtime_error("cannot write " + opts.sitesFile);

    const auto stored = conn.exec("SELECT count(*) FROM events").getInt(0, 0);
    if (stored != opts.events) {
      throw std::runtime_error(fmt::format("{} events stored, {} expected", stored, opts.events));
    }
    std::printf(
        "BENCH_DATA events=%lld sessions=%lld pageviews=%lld largest=%lld largest_id=%s "
        "start_ms=%lld end_ms=%lld copy_s=%.1f vacuum_s=%.1f total_s=%.1f\n",
        static_cast<long long>(stored), static_cast<long long>(total.sessions),
        static_cast<long long>(total.pageviews), static_cast<long long>(counts[0]),
        tasks[0].id.c_str(), static_cast<long long>(shared.spanStartMs),
        static_cast<long long>(shared.spanEndMs), copySeconds, vacuumSeconds,
        secondsSince(started));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_bench_query_data: %s\n", e.what());
    return 1;
  }
  return 0;
}
