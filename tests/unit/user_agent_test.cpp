// User-Agent parsing: real browsers and bots, uap-core conformance, the cache, bad rule files.
#include "events/user_agent.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/env.hpp"
#include "util/error.hpp"

namespace mp::events {
namespace {

const std::filesystem::path kUapTests = "/usr/share/uap-core/tests";

// Compiling ~1,200 rules takes a fraction of a second; share one parser between the tests.
const UserAgentParser& sharedParser() {
  static const UserAgentParser parser;
  return parser;
}

struct Case {
  const char* name;
  const char* ua;
  const char* browser;
  const char* version;
  const char* os;
  const char* device;
};

const Case kCases[] = {
    {"ChromeWindows10",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Windows", "desktop"},
    {"FirefoxUbuntu",
     "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox",
     "121", "Ubuntu", "desktop"},
    {"SafariMacOS",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Safari/605.1.15",
     "Safari", "17", "Mac OS X", "desktop"},
    {"ChromeOs",
     "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Chrome OS", "desktop"},
    {"EdgeWindows",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
     "Edge", "120", "Windows", "desktop"},
    {"MobileSafariIphone",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
     "Mobile Safari", "17", "iOS", "mobile"},
    {"SafariIpadIsTablet",
     "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/16.6 Mobile/15E148 Safari/604.1",
     "Mobile Safari", "16", "iOS", "tablet"},
    {"ChromeAndroidPhone",
     "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/116.0.0.0 Mobile Safari/537.36",
     "Chrome Mobile", "116", "Android", "mobile"},
    {"AndroidTabletWithoutMobile",
     "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Android", "tablet"},
    {"SamsungInternet",
     "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
     "Samsung Internet", "23", "Android", "mobile"},
    {"FirefoxAndroid", "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
     "Firefox Mobile", "121", "Android", "mobile"},
    {"KindleSilk",
     "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Silk/120.3.1 like Chrome/120.0.6099.116 Safari/537.36",
     "Amazon Silk", "120", "Android", "tablet"},
    {"SmartTvIsOther",
     "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
     "Samsung Internet", "4", "Tizen", "other"},
    {"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Googlebot", "2", "Other", "bot"},
    {"GooglebotSmartphone",
     "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/119.0.6045.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)",
     "Googlebot", "2", "Android", "bot"},
    {"Bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
     "bingbot", "2", "Other", "bot"},
    {"Curl", "curl/8.0.1", "curl", "8", "Other", "bot"},
    {"PythonRequests", "python-requests/2.31.0", "Python Requests", "2", "Other", "bot"},
    {"HeadlessChrome",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.6099.71 Safari/537.36",
     "HeadlessChrome", "120", "Linux", "bot"},
    {"Empty", "", "Other", "", "Other", "other"},
};

class UserAgentTable : public ::testing::TestWithParam<Case> {};

TEST_P(UserAgentTable, GivesBrowserOsAndDeviceClass) {
  const Case& c = GetParam();
  const UserAgent ua = sharedParser().parse(c.ua);
  EXPECT_EQ(ua.browser, c.browser);
  EXPECT_EQ(ua.browserVersion, c.version);
  EXPECT_EQ(ua.os, c.os);
  EXPECT_EQ(ua.device, c.device);
  EXPECT_EQ(ua.bot, std::string(c.device) == "bot");
}

std::string caseName(const ::testing::TestParamInfo<Case>& param) {
  return param.param.name;
}

INSTANTIATE_TEST_SUITE_P(UserAgent, UserAgentTable, ::testing::ValuesIn(kCases), caseName);

TEST(UserAgent, SpiderDeviceFamilyMarksUapCrawlers) {
  const UserAgent ua = sharedParser().parse(
      "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)");
  EXPECT_EQ(ua.deviceFamily, "Spider");
  EXPECT_EQ(sharedParser().parse("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X)").deviceFamily,
            "iPad");
}

TEST(UserAgent, EveryBotMarkerIsLowercaseAndMatchesAnyCase) {
  for (const std::string_view marker : kBotMarkers) {
    std::string upper;
    for (const char c : marker) {
      EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << marker;
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_TRUE(hasBotMarker("Agent " + std::string(marker) + "/1.0")) << marker;
    EXPECT_TRUE(hasBotMarker("Agent " + upper + "/1.0")) << upper;
    EXPECT_EQ(sharedParser().parse("Agent " + std::string(marker) + "/1.0").device, "bot")
        << marker;
  }
}

TEST(UserAgent, BotMarkersCatchWhatUapMisses) {
  // None of these is a uap "Spider"; each one needs its marker.
  for (const char* ua : {"Wget/1.21.3", "Go-http-client/1.1",
                         "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/114.0.0.0 Mobile Safari/537.36 "
                         "Chrome-Lighthouse",
                         "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
                         "Mozilla/5.0 (compatible; Site24x7 monitor)"}) {
    const UserAgent parsed = sharedParser().parse(ua);
    EXPECT_NE(parsed.deviceFamily, "Spider") << ua;
    EXPECT_TRUE(parsed.bot) << ua;
  }
}

TEST(UserAgent, BotInsideAWordIsNotABot) {
  // A carrier name in Facebook's in-app browser, and the phone maker CUBOT.
  const UserAgent carrier = sharedParser().parse(
      "Mozilla/5.0 (iPhone; CPU iPhone OS 11_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Mobile/15G77 [FBAN/FBIOS;FBAV/194.0.0.38.99;FBDV/iPhone7,2;FBCR/OrangeBotswana]");
  EXPECT_FALSE(carrier.bot);
  EXPECT_EQ(carrier.device, "mobile");
  const UserAgent cubot = sharedParser().parse(
      "Mozilla/5.0 (Linux; Android 4.2.2; CUBOT C11 Build/JDQ39) AppleWebKit/537.36 (KHTML, like "
      "Gecko) Chrome/31.0.1650.57 Mobile Safari/537.36");
  EXPECT_FALSE(cubot.bot);
  EXPECT_EQ(cubot.device, "mobile");
  EXPECT_FALSE(
      hasBotMarker("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 "
                   "Firefox/121.0"));
}

TEST(UserAgent, DebianRulesAllCompile) {
  const UserAgentParser& parser = sharedParser();
  std::printf("[ uap ] rules=%zu skipped=%zu\n", parser.ruleCount(), parser.skippedRules());
  // uap-core writes its rules for RE2; Debian 12's 0.16 compiles completely.
  EXPECT_LE(parser.skippedRules(), 2u);
  EXPECT_GT(parser.ruleCount(), 1000u);
}

// Share of uap-core's own test cases whose expected `family` our parser reproduces.
double conformance(const std::string& file, const char* what, std::size_t& total) {
  const YAML::Node root = YAML::LoadFile((kUapTests / file).string());
  std::size_t matched = 0;
  total = 0;
  for (const YAML::Node& test : root["test_cases"]) {
    const auto ua = test["user_agent_string"].as<std::string>();
    const YAML::Node family = test["family"];
    const std::string expected = family.IsNull() ? "Other" : family.as<std::string>();
    const UserAgent parsed = sharedParser().parse(ua);
    const std::string& got = std::string(what) == "ua"   ? parsed.browser
                             : std::string(what) == "os" ? parsed.os
                                                         : parsed.deviceFamily;
    ++total;
    if (got == expected) {
      ++matched;
    } else if (total - matched <= 5) {
      ADD_FAILURE() << file << ": expected '" << expected << "', got '" << got << "' for " << ua;
    }
  }
  return total == 0 ? 0.0 : static_cast<double>(matched) / static_cast<double>(total);
}

TEST(UserAgent, UapConformanceUserAgentFamily) {
  if (!std::filesystem::exists(kUapTests / "test_ua.yaml"))
    GTEST_FAIL() << "uap-core's test files are missing: install the uap-core package";
  std::size_t total = 0;
  const double rate = conformance("test_ua.yaml", "ua", total);
  std::printf("[ uap ] test_ua.yaml family: %.2f%% of %zu\n", rate * 100, total);
  EXPECT_GE(rate, 0.99);
  EXPECT_GT(total, 1000u);
}

TEST(UserAgent, UapConformanceUserAgentMajorVersion) {
  if (!std::filesystem::exists(kUapTests / "test_ua.yaml"))
    GTEST_FAIL() << "uap-core's test files are missing: install the uap-core package";
  const YAML::Node root = YAML::LoadFile((kUapTests / "test_ua.yaml").string());
  std::size_t total = 0;
  std::size_t matched = 0;
  for (const YAML::Node& test : root["test_cases"]) {
    const YAML::Node major = test["major"];
    const std::string expected = major.IsNull() ? "" : major.as<std::string>();
    ++total;
    if (sharedParser().parse(test["user_agent_string"].as<std::string>()).browserVersion ==
        expected) {
      ++matched;
    }
  }
  const double rate = static_cast<double>(matched) / static_cast<double>(total);
  std::printf("[ uap ] test_ua.yaml major: %.2f%% of %zu\n", rate * 100, total);
  EXPECT_GE(rate, 0.99);
}

TEST(UserAgent, UapConformanceOsFamily) {
  if (!std::filesystem::exists(kUapTests / "test_os.yaml"))
    GTEST_FAIL() << "uap-core's test files are missing: install the uap-core package";
  std::size_t total = 0;
  const double rate = conformance("test_os.yaml", "os", total);
  std::printf("[ uap ] test_os.yaml family: %.2f%% of %zu\n", rate * 100, total);
  EXPECT_GE(rate, 0.99);
  EXPECT_GT(total, 400u);
}

TEST(UserAgent, UapConformanceDeviceFamily) {
  if (!std::filesystem::exists(kUapTests / "test_device.yaml")) {
    GTEST_FAIL() << "uap-core's test files are missing: install the uap-core package";
  }
  std::size_t total = 0;
  const double rate = conformance("test_device.yaml", "device", total);
  std::printf("[ uap ] test_device.yaml family: %.2f%% of %zu\n", rate * 100, total);
  EXPECT_GE(rate, 0.99);
}

const char* const kChrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";

TEST(UserAgentCache, SameUserAgentTwiceGivesTheSameAnswerFromOneEntry) {
  const UserAgentParser parser(kDefaultRegexesPath, 100);
  const UserAgent first = parser.parse(kChrome);
  EXPECT_EQ(parser.cachedEntries(), 1u);
  const UserAgent second = parser.parse(kChrome);
  EXPECT_EQ(first, second);
  EXPECT_EQ(parser.cachedEntries(), 1u);
  EXPECT_EQ(first, sharedParser().parse(kChrome));
}

TEST(UserAgentCache, NeverGrowsPastItsSize) {
  for (const std::size_t size : {std::size_t{1}, std::size_t{5}, std::size_t{37}}) {
    const UserAgentParser parser(kDefaultRegexesPath, size);
    EXPECT_EQ(parser.cacheCapacity(), size);
    for (int i = 0; i < 200; ++i) {
      const UserAgent ua = parser.parse("Firefox/" + std::to_string(i) + ".0");
      EXPECT_EQ(ua.browserVersion, std::to_string(i));
      ASSERT_LE(parser.cachedEntries(), size);
    }
    EXPECT_EQ(parser.cachedEntries(), size);
  }
}

TEST(UserAgentCache, SizeZeroParsesWithoutCaching) {
  const UserAgentParser parser(kDefaultRegexesPath, 0);
  EXPECT_EQ(parser.parse(kChrome).browser, "Chrome");
  EXPECT_EQ(parser.cachedEntries(), 0u);
}

TEST(UserAgentCache, OverlongUserAgentIsParsedByItsPrefix) {
  const UserAgentParser parser(kDefaultRegexesPath, 10);
  const std::string longUa = std::string(kChrome) + std::string(10 * kMaxUserAgentBytes, 'x');
  EXPECT_EQ(parser.parse(longUa).browser, "Chrome");
  EXPECT_EQ(parser.parse(std::string(kChrome) + std::string(20 * kMaxUserAgentBytes, 'x')),
            parser.parse(longUa));
  EXPECT_EQ(parser.cachedEntries(), 1u) << "both share their first kMaxUserAgentBytes";
}

TEST(UserAgentCache, ConcurrentParsesAgreeWithAnUncachedParser) {
  std::vector<std::string> agents;
  for (int i = 0; i < 64; ++i) {
    agents.push_back(i % 2 == 0 ? "Mozilla/5.0 (Windows NT 10.0) Chrome/" + std::to_string(i) +
                                      ".0 Safari/537.36"
                                : "Mozilla/5.0 (iPhone; CPU iPhone OS 17_" + std::to_string(i) +
                                      " like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1");
  }
  std::vector<UserAgent> expected;
  for (const auto& a : agents) expected.push_back(sharedParser().parse(a));

  // Smaller than the working set, so threads evict and re-parse while others hit.
  const UserAgentParser parser(kDefaultRegexesPath, 24);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1500; ++i) {
        const std::size_t k = static_cast<std::size_t>((i * 7 + t * 13) % 64);
        if (!(parser.parse(agents[k]) == expected[k])) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE(parser.cachedEntries(), 24u);
}

TEST(UserAgentParserFile, MissingFileIsAConfigErrorNamingIt) {
  const std::filesystem::path path = "/nonexistent/metricpulse/regexes.yaml";
  try {
    const UserAgentParser parser(path);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(UserAgentParserFile, MalformedFilesAreConfigErrorsNamingThem) {
  const test::TempDir dir;
  const std::string valid = "user_agent_parsers:\n  - regex: '(Foo)/(\\d+)'\n";
  const std::vector<std::pair<std::string, std::string>> files = {
      {"broken.yaml", "user_agent_parsers: [ {regex: 'x'"},
      {"empty.yaml", ""},
      {"list.yaml", "- a\n- b\n"},
      {"no-device.yaml", valid + "os_parsers:\n  - regex: 'Bar'\n"},
      {"no-regex.yaml", valid + "os_parsers:\n  - os_replacement: 'X'\n"
                                "device_parsers:\n  - regex: 'Baz'\n"},
      {"map-regex.yaml", valid + "os_parsers:\n  - regex: {a: 1}\n"
                                 "device_parsers:\n  - regex: 'Baz'\n"},
  };
  for (const auto& [name, content] : files) {
    const auto path = dir.write(name, content);
    try {
      const UserAgentParser parser(path);
      ADD_FAILURE() << name << ": no exception";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
  }
}

TEST(UserAgentParserFile, RuleRe2CannotCompileIsSkippedAndCounted) {
  const test::TempDir dir;
  // A look-ahead and a back-reference are PCRE-only; the rules after them still apply.
  const auto path = dir.write("regexes.yaml",
                              "user_agent_parsers:\n"
                              "  - regex: 'Foo(?=/)'\n"
                              "  - regex: '(Foo)/(\\d+)'\n"
                              "    family_replacement: 'Foo $1 Browser'\n"
                              "os_parsers:\n"
                              "  - regex: '(Bar)\\1'\n"
                              "  - regex: 'Bar ?(\\d+)'\n"
                              "    os_replacement: 'BarOS'\n"
                              "device_parsers:\n"
                              "  - regex: '(phone)'\n"
                              "    regex_flag: 'i'\n"
                              "    device_replacement: 'Generic Smartphone'\n");
  const UserAgentParser parser(path, 0);
  EXPECT_EQ(parser.skippedRules(), 2u);
  EXPECT_EQ(parser.ruleCount(), 3u);
  const UserAgent ua = parser.parse("Foo/42 (Bar 7; PHONE)");
  EXPECT_EQ(ua.browser, "Foo Foo Browser");
  EXPECT_EQ(ua.browserVersion, "42");
  EXPECT_EQ(ua.os, "BarOS");
  EXPECT_EQ(ua.deviceFamily, "Generic Smartphone");
  EXPECT_EQ(ua.device, "mobile");
}

TEST(UserAgentParserFile, ReplacementsFollowTheSpec) {
  const test::TempDir dir;
  // $N of a group that did not take part inserts nothing, results are trimmed, v1_replacement
  // overrides group 2, and a rule without groups needs its replacement.
  const auto path = dir.write("regexes.yaml",
                              "user_agent_parsers:\n"
                              "  - regex: 'Minefield/(\\d+)'\n"
                              "    family_replacement: 'Firefox (Minefield)'\n"
                              "  - regex: '(Foo)(?: (Beta)|)/(\\d+)'\n"
                              "    family_replacement: '$1 $2'\n"
                              "    v1_replacement: '$3'\n"
                              "os_parsers:\n"
                              "  - regex: 'Win(95|98)'\n"
                              "    os_replacement: 'Windows $1'\n"
                              "device_parsers:\n"
                              "  - regex: '; *(PEDI)_(PLUS)_(W) Build'\n"
                              "    device_replacement: 'Odys $1 $2 $3'\n");
  const UserAgentParser parser(path, 0);
  EXPECT_EQ(parser.parse("Minefield/4").browser, "Firefox (Minefield)");
  EXPECT_EQ(parser.parse("Minefield/4").browserVersion, "");
  const UserAgent foo = parser.parse("Foo/9 (Win95)");
  EXPECT_EQ(foo.browser, "Foo");
  EXPECT_EQ(foo.browserVersion, "9");
  EXPECT_EQ(foo.os, "Windows 95");
  EXPECT_EQ(parser.parse("Foo Beta/3").browser, "Foo Beta");
  EXPECT_EQ(parser.parse("x; PEDI_PLUS_W Build/JDQ39").deviceFamily, "Odys PEDI PLUS W");
  EXPECT_EQ(parser.parse("nothing known").browser, "Other");
}

}  // namespace
}  // namespace mp::events
