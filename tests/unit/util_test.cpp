// UUIDs, UTF-8, base64url, domain and email rules.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "sites/sites.hpp"
#include "users/users.hpp"
#include "util/base64.hpp"
#include "util/error.hpp"
#include "util/json_text.hpp"
#include "util/sched.hpp"
#include "util/time.hpp"
#include "util/utf8.hpp"
#include "util/uuid.hpp"

namespace mp {
namespace {

TEST(Uuid, V7IsCanonicalUniqueAndTimeOrdered) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    std::string id = util::uuidV7();
    EXPECT_TRUE(util::isUuid(id)) << id;
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_GE(id.substr(0, 13), previous.substr(0, std::min<std::size_t>(13, previous.size())));
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(util::isUuid("not-a-uuid"));
  EXPECT_FALSE(util::isUuid("0190d7a0-0000-7000-8000-00000000000g"));
  EXPECT_FALSE(util::isUuid("0190d7a000007000800000000000000000"));
}

TEST(Uuid, CanonicalFormIsLowerCaseAndOnlyForUuids) {
  EXPECT_EQ(util::canonicalUuid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"),
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(util::canonicalUuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  for (const char* bad : {"", "not-a-uuid", "0190A1B2C3D47E5F8A9B0C1D2E3F4A5B",
                          "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"}) {
    EXPECT_EQ(util::canonicalUuid(bad), std::nullopt) << bad;
  }
}

TEST(Rfc3339, FormatsMillisecondsExactlyAndReadsThemBack) {
  EXPECT_EQ(util::formatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(util::formatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(util::formatRfc3339Millis(1795784838221), "2026-11-27T13:07:18.221Z");
  EXPECT_EQ(util::formatRfc3339Millis(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(util::formatRfc3339Millis(253402300799999), "9999-12-31T23:59:59.999Z");
  // Past four-digit years the text grows rather than being cut.
  EXPECT_EQ(util::formatRfc3339Millis(253402300800000), "10000-01-01T00:00:00.000Z");
  for (std::int64_t ms = -86400000LL * 400; ms < 86400000LL * 365 * 80;
       ms += 86400000LL * 37 + 3600000 * 5 + 60000 * 7 + 1013) {
    const std::string text = util::formatRfc3339Millis(ms);
    ASSERT_EQ(util::parseRfc3339(text), ms) << text;
  }
}

TEST(Dates, ParseAndFormat) {
  using std::chrono::sys_days;
  EXPECT_EQ(util::parseDate("2024-02-29"), sys_days{std::chrono::year{2024} / 2 / 29});
  EXPECT_EQ(util::formatDate(sys_days{std::chrono::year{2025} / 11 / 3}), "2025-11-03");
  for (const char* bad :
       {"2025-02-29", "2025-13-01", "2025-1-01", "20251101", "", "2025-11-0x", "2025-11-01 "}) {
    EXPECT_EQ(util::parseDate(bad), std::nullopt) << bad;
  }
}

TEST(Sched, PreferThroughputMakesOnlyTheCallingThreadABatchThread) {
  int inside = -1;
  bool applied = false;
  std::thread worker([&] {
    applied = util::preferThroughput();
    inside = sched_getscheduler(0);
  });
  worker.join();
  EXPECT_TRUE(applied);
  EXPECT_EQ(inside, SCHED_BATCH);
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER) << "the caller's other threads are unchanged";
}

TEST(Sched, PreferLatencyReturnsABatchThreadToTheNormalPolicy) {
  int batch = -1;
  int after = -1;
  bool applied = false;
  std::thread worker([&] {
    util::preferThroughput();
    batch = sched_getscheduler(0);
    applied = util::preferLatency();
    after = sched_getscheduler(0);
  });
  worker.join();
  EXPECT_EQ(batch, SCHED_BATCH);
  EXPECT_TRUE(applied);
  EXPECT_EQ(after, SCHED_OTHER);
}

TEST(Sched, BatchSizePolicyTurnsToThroughputOnALargeBatchAndBackAfterALongQuietRun) {
  using Change = util::BatchSizePolicy::Change;
  util::BatchSizePolicy policy(8, 2, 4);
  // A light load: batches of one to seven change nothing.
  for (int size : {1, 2, 7, 1, 3}) {
    EXPECT_EQ(policy.observe(static_cast<std::size_t>(size)), Change::None) << size;
  }
  EXPECT_FALSE(policy.throughput());
  // The first batch of eight switches, once.
  EXPECT_EQ(policy.observe(8), Change::ToThroughput);
  EXPECT_TRUE(policy.throughput());
  EXPECT_EQ(policy.observe(40), Change::None);
  // Three quiet batches, then a middling one (3: neither busy nor quiet) starts the count again.
  EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(2), Change::None);
  EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(3), Change::None);
  EXPECT_TRUE(policy.throughput());
  // Four quiet batches in a row switch back, once.
  EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(2), Change::None);
  EXPECT_EQ(policy.observe(1), Change::ToLatency);
  EXPECT_FALSE(policy.throughput());
  EXPECT_EQ(policy.observe(1), Change::None);
  // A busy batch in a quiet run resets it: four more quiet ones are needed after it.
  EXPECT_EQ(policy.observe(9), Change::ToThroughput);
  EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(8), Change::None);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(policy.observe(1), Change::None);
  EXPECT_EQ(policy.observe(1), Change::ToLatency);
}

TEST(Sched, NameThreadNamesTheCallingThreadAndKeepsFifteenCharacters) {
  char shortName[32] = {};
  char longName[32] = {};
  std::thread worker([&] {
    util::nameThread("mp-writer-0");
    pthread_getname_np(pthread_self(), shortName, sizeof shortName);
    // The kernel refuses a name of 16 characters or more; the first 15 are kept instead.
    util::nameThread("mp-a-very-long-thread-name");
    pthread_getname_np(pthread_self(), longName, sizeof longName);
  });
  worker.join();
  EXPECT_STREQ(shortName, "mp-writer-0");
  EXPECT_STREQ(longName, "mp-a-very-long-");
}

TEST(Sched, NameThreadNamesAThreadFromItsStarterBeforeItRuns) {
  std::mutex mutex;
  std::condition_variable go;
  bool started = false;
  char seen[32] = {};
  std::thread worker([&] {
    std::unique_lock lock(mutex);
    go.wait(lock, [&] { return started; });
    pthread_getname_np(pthread_self(), seen, sizeof seen);
  });
  util::nameThread(worker, "mp-live-3");
  char outside[32] = {};
  pthread_getname_np(worker.native_handle(), outside, sizeof outside);
  {
    std::lock_guard lock(mutex);
    started = true;
  }
  go.notify_one();
  worker.join();
  EXPECT_STREQ(outside, "mp-live-3") << "named before the thread ran";
  EXPECT_STREQ(seen, "mp-live-3");
}

TEST(Utf8, AcceptsValidAndRejectsMalformed) {
  EXPECT_TRUE(util::isValidUtf8("plain"));
  EXPECT_TRUE(util::isValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(util::isValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(util::isValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(util::isValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(util::isValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(util::isValidUtf8("\xff"));
  EXPECT_EQ(util::utf8Length("caf\xc3\xa9"), 4u);
}

TEST(Utf8, LengthUnlessNulCountsCodePointsAndSpotsEveryNul) {
  using namespace std::string_literals;
  EXPECT_EQ(util::utf8LengthUnlessNul(""), 0u);
  EXPECT_EQ(util::utf8LengthUnlessNul("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 8u);
  EXPECT_EQ(util::utf8LengthUnlessNul(std::string(2048, 'a')), 2048u);
  std::string twoByte;
  for (int i = 0; i < 2048; ++i) twoByte += "\xc3\xa9";
  EXPECT_EQ(util::utf8LengthUnlessNul(twoByte), 2048u) << "characters, not bytes";
  EXPECT_EQ(util::utf8LengthUnlessNul("\0"s), util::kHoldsNul);
  EXPECT_EQ(util::utf8LengthUnlessNul("a\0b"s), util::kHoldsNul);
  EXPECT_EQ(util::utf8LengthUnlessNul(std::string(300, 'a') + '\0'), util::kHoldsNul);
  EXPECT_TRUE(util::isValidUtf8WithoutNul("caf\xc3\xa9"));
  EXPECT_FALSE(util::isValidUtf8WithoutNul("caf\0e"s));
  EXPECT_FALSE(util::isValidUtf8WithoutNul("\xff"));
  EXPECT_TRUE(util::isValidUtf8("caf\0e"s))
      << "NUL is valid UTF-8; only the stricter check refuses it";
}

TEST(JsonNumber, SameDecimalValueWhateverTheSpelling) {
  EXPECT_TRUE(util::sameJsonNumber("100", "100.0"));
  EXPECT_TRUE(util::sameJsonNumber("1e2", "100.0"));
  EXPECT_TRUE(util::sameJsonNumber("1.5E+3", "1500"));
  EXPECT_TRUE(util::sameJsonNumber("0.1", "0.1"));
  EXPECT_TRUE(util::sameJsonNumber("0.0010", "1e-3"));
  EXPECT_TRUE(util::sameJsonNumber("-0", "0.0"));
  EXPECT_TRUE(util::sameJsonNumber("-2.50", "-2.5"));
  EXPECT_FALSE(util::sameJsonNumber("1e-400", "0.0"));
  EXPECT_FALSE(util::sameJsonNumber("123456789012345678901234", "1.2345678901234569e+23"));
  EXPECT_FALSE(util::sameJsonNumber("-1", "1"));
  EXPECT_FALSE(util::sameJsonNumber("0.1", "0.10000000000000001"));
  EXPECT_FALSE(util::sameJsonNumber("1e999999999999999999", "1e999999999"));
  for (const char* bad : {"", "-", "1.", ".5", "1e", "01x", "abc", "1e+"}) {
    EXPECT_FALSE(util::sameJsonNumber(bad, bad)) << bad;
  }
}

TEST(Base64Url, RoundTripsAndRejectsForeignAlphabet) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "\xff\xfe\x00x"}) {
    auto enc = util::base64UrlEncode(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    EXPECT_EQ(util::base64UrlDecode(enc), s);
  }
  EXPECT_EQ(util::base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(util::base64UrlDecode("+/8"));
  EXPECT_FALSE(util::base64UrlDecode("a"));
}

TEST(Domain, NormalisedAsTheApiSays) {
  EXPECT_EQ(sites::normalizeDomain("https://WWW.Example.com:443/x"), "example.com");
  EXPECT_EQ(sites::normalizeDomain("example.com"), "example.com");
  EXPECT_EQ(sites::normalizeDomain("  Blog.Example.COM.  "), "blog.example.com");
  EXPECT_EQ(sites::normalizeDomain("http://shop.example.co.uk?q=1#f"), "shop.example.co.uk");
  EXPECT_EQ(sites::normalizeDomain("localhost:3000"), "localhost");
  EXPECT_EQ(sites::normalizeDomain("xn--bcher-kva.example"), "xn--bcher-kva.example");
}

TEST(Domain, NonHostNamesAreRejected) {
  for (const char* bad : {"", "   ", "https://", "exa mple.com", "example..com", "-x.com", "x-.com",
                          "ex'ample.com", "a;b.com",
                          "b\xc3\xbc"
                          "cher.example",
                          "example.com:port"}) {
    EXPECT_THROW(sites::normalizeDomain(bad), InvalidInput) << bad;
  }
}

TEST(Email, NormalisedOnceForLoginAsPostgresqlLowerDoes) {
  EXPECT_EQ(users::normaliseEmail(" victim@example.org "), "victim@example.org");
  EXPECT_EQ(users::normaliseEmail("VICTIM@Example.ORG"), "victim@example.org");
  EXPECT_EQ(users::normaliseEmail("\t\r\nVictim@example.org\n"), "victim@example.org");
  EXPECT_EQ(users::normaliseEmail("\xc3\x89ve@Example.org"), "\xc3\xa9ve@example.org");  // Éve
  EXPECT_EQ(users::normaliseEmail("\xd0\x96@x.org"), "\xd0\xb6@x.org");                  // Ж
  EXPECT_EQ(users::normaliseEmail(users::normaliseEmail(" A\xc3\x89@X.org")),
            users::normaliseEmail(" A\xc3\x89@X.org"));
  EXPECT_EQ(users::normaliseEmail("   "), "");
}

TEST(Email, Checked) {
  EXPECT_EQ(users::checkEmail("  Ann@Example.com "), "Ann@Example.com");
  for (const char* bad : {"", "ann", "ann@", "@example.com", "ann@example", "a b@example.com",
                          "ann@@example.com", "ann@example.com."}) {
    EXPECT_THROW(users::checkEmail(bad), InvalidInput) << bad;
  }
  EXPECT_THROW(users::checkPassword("short"), InvalidInput);
  EXPECT_THROW(users::checkPassword(std::string(73, 'x')), InvalidInput);
  EXPECT_NO_THROW(users::checkPassword(std::string(72, 'x')));
  EXPECT_NO_THROW(users::checkPassword("12345678"));
}

}  // namespace
}  // namespace mp
