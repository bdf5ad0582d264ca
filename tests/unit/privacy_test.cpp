// Address storage modes, address canonicalisation and the keyed visitor id.
#include "events/privacy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "util/error.hpp"

namespace mp::events {
namespace {

const std::string kSalt(32, '\x5a');
const std::string kOtherSalt(32, '\x3c');
const std::string kSite = "0190d7a0-0000-7000-8000-000000000001";
const std::string kOtherSite = "0190d7a0-0000-7000-8000-000000000002";
const std::chrono::sys_days kDay{std::chrono::year{2026} / 11 / 27};
const std::string kUa = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

TEST(PrivacyIpStorage, ParsesTheThreeConfigWords) {
  EXPECT_EQ(parseIpStorage("full"), IpStorage::kFull);
  EXPECT_EQ(parseIpStorage("truncated"), IpStorage::kTruncated);
  EXPECT_EQ(parseIpStorage("none"), IpStorage::kNone);
  for (auto s : {IpStorage::kFull, IpStorage::kTruncated, IpStorage::kNone}) {
    EXPECT_EQ(parseIpStorage(toString(s)), s);
  }
}

TEST(PrivacyIpStorage, RejectsAnythingElseNamingTheKey) {
  for (const char* bad : {"", "Full", "TRUNCATED", " none", "anonymized", "truncate"}) {
    try {
      parseIpStorage(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("privacy.ip_storage"), std::string::npos) << e.what();
    }
  }
}

struct StoredCase {
  std::string ip;
  std::string full;
  std::string truncated;
};

TEST(PrivacyStoredIp, EachModeForManyAddresses) {
  const std::vector<StoredCase> cases = {
      {"81.2.69.160", "81.2.69.160", "81.2.69.0"},
      {"1.2.3.4", "1.2.3.4", "1.2.3.0"},
      {"255.255.255.255", "255.255.255.255", "255.255.255.0"},
      {"0.0.0.0", "0.0.0.0", "0.0.0.0"},
      {"10.0.0.1", "10.0.0.1", "10.0.0.0"},
      {"127.0.0.1", "127.0.0.1", "127.0.0.0"},
      {"::1", "::1", "::"},
      {"0:0:0:0:0:0:0:1", "::1", "::"},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", "2001:db8::"},
      {"2001:db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234:5678:9abc:def0:1234:5678",
       "2001:db8:1234::"},
      {"2001:DB8:ABCD:12::FF", "2001:db8:abcd:12::ff", "2001:db8:abcd::"},
      {"2001:218::1", "2001:218::1", "2001:218::"},
      {"fe80::1", "fe80::1", "fe80::"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
       "ffff:ffff:ffff::"},
      // IPv4-mapped IPv6, as a dual-stack socket reports IPv4 clients: stored as IPv4.
      {"::ffff:1.2.3.4", "1.2.3.4", "1.2.3.0"},
      {"::FFFF:81.2.69.160", "81.2.69.160", "81.2.69.0"},
      {"::ffff:0102:0304", "1.2.3.4", "1.2.3.0"},
      {"0:0:0:0:0:ffff:a00:1", "10.0.0.1", "10.0.0.0"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(storedIp(c.ip, IpStorage::kFull), c.full) << c.ip;
    EXPECT_EQ(storedIp(c.ip, IpStorage::kTruncated), c.truncated) << c.ip;
    EXPECT_EQ(storedIp(c.ip, IpStorage::kNone), "") << c.ip;
    EXPECT_EQ(canonicalIp(c.ip), c.full) << c.ip;
  }
}

TEST(PrivacyStoredIp, MalformedAddressesStoreNothing) {
  const std::vector<std::string> bad = {
      "",
      "garbage",
      "localhost",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "0x7f.0.0.1",
      "127.1",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4:8080",
      "[::1]",
      "::1%lo",
      "fe80::1%eth0",
      "2001:db8::1::2",
      "2001:db8:0:0:0:0:0:0:1",
      "12345::1",
      "::ffff:1.2.3.256",
      std::string("1.2.3.4\0junk", 12),
      std::string(200, '1'),
  };
  for (const auto& ip : bad) {
    for (auto mode : {IpStorage::kFull, IpStorage::kTruncated, IpStorage::kNone}) {
      EXPECT_EQ(storedIp(ip, mode), "") << ip << " " << toString(mode);
    }
    EXPECT_FALSE(parseIp(ip).has_value()) << ip;
  }
}

TEST(PrivacyParseIp, FamiliesAndBytes) {
  auto v4 = parseIp("192.0.2.7");
  ASSERT_TRUE(v4);
  EXPECT_FALSE(v4->v6);
  EXPECT_EQ(v4->bytes[0], 192);
  EXPECT_EQ(v4->bytes[3], 7);
  auto mapped = parseIp("::ffff:192.0.2.7");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->v6);
  EXPECT_EQ(mapped->bytes, v4->bytes);
  auto v6 = parseIp("2001:db8::7");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->v6);
  EXPECT_EQ(v6->bytes[0], 0x20);
  EXPECT_EQ(v6->bytes[15], 7);
  // ::1.2.3.4 (the deprecated IPv4-compatible form) is an IPv6 address, not IPv4.
  auto compat = parseIp("::1.2.3.4");
  ASSERT_TRUE(compat);
  EXPECT_TRUE(compat->v6);
}

TEST(PrivacyVisitorId, StableForTheSameInput) {
  const auto id = visitorId(kSalt, kSite, "81.2.69.160", kUa, kDay);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(visitorId(kSalt, kSite, "81.2.69.160", kUa, kDay), id);
  EXPECT_EQ(visitorId(std::string(kSalt), std::string(kSite), std::string("81.2.69.160"),
                      std::string(kUa), kDay),
            id);
}

TEST(PrivacyVisitorId, DiffersWhenAnyInputDiffers) {
  const auto id = visitorId(kSalt, kSite, "81.2.69.160", kUa, kDay);
  EXPECT_NE(visitorId(kOtherSalt, kSite, "81.2.69.160", kUa, kDay), id);
  EXPECT_NE(visitorId(kSalt, kOtherSite, "81.2.69.160", kUa, kDay), id);
  EXPECT_NE(visitorId(kSalt, kSite, "81.2.69.161", kUa, kDay), id);
  EXPECT_NE(visitorId(kSalt, kSite, "81.2.69.160", kUa + " Edg/120", kDay), id);
  EXPECT_NE(visitorId(kSalt, kSite, "81.2.69.160", "", kDay), id);

  std::set<std::int64_t> ids;
  for (int i = 0; i < 256; ++i) {
    ids.insert(visitorId(kSalt, kSite, "10.0.0." + std::to_string(i), kUa, kDay));
  }
  EXPECT_EQ(ids.size(), 256u);
}

TEST(PrivacyVisitorId, FieldBoundariesAreUnambiguous) {
  // Plain concatenation would make these equal; the length prefixes keep them apart.
  EXPECT_NE(visitorId(kSalt, "ab", "1.2.3.4", "c", kDay),
            visitorId(kSalt, "a", "1.2.3.4", "bc", kDay));
  EXPECT_NE(visitorId(kSalt, "site", "x", "yz", kDay), visitorId(kSalt, "site", "xy", "z", kDay));
  EXPECT_NE(visitorId(kSalt, "", "", "ab", kDay), visitorId(kSalt, "ab", "", "", kDay));
}

TEST(PrivacyVisitorId, OneAddressWrittenTwoWaysIsOneVisitor) {
  EXPECT_EQ(visitorId(kSalt, kSite, "::1", kUa, kDay),
            visitorId(kSalt, kSite, "0:0:0:0:0:0:0:1", kUa, kDay));
  EXPECT_EQ(visitorId(kSalt, kSite, "::1", kUa, kDay),
            visitorId(kSalt, kSite, "0:0::1", kUa, kDay));
  EXPECT_EQ(visitorId(kSalt, kSite, "2001:DB8::1", kUa, kDay),
            visitorId(kSalt, kSite, "2001:0db8:0:0::0001", kUa, kDay));
  EXPECT_EQ(visitorId(kSalt, kSite, "1.2.3.4", kUa, kDay),
            visitorId(kSalt, kSite, "::ffff:1.2.3.4", kUa, kDay));
  // Malformed addresses are hashed as given: still deterministic, still distinct.
  EXPECT_EQ(visitorId(kSalt, kSite, "unknown", kUa, kDay),
            visitorId(kSalt, kSite, "unknown", kUa, kDay));
  EXPECT_NE(visitorId(kSalt, kSite, "unknown", kUa, kDay), visitorId(kSalt, kSite, "", kUa, kDay));
}

TEST(PrivacyVisitorId, IsTheFirstEightBytesOfHmacSha256BigEndian) {
  // Computed independently with Python's hmac module over the documented encoding:
  //   fields = [b"site", b"1.2.3.4", b"ua", b"2026-11-27"]
  //   msg = b"metricpulse visitor v2" + b"".join(len(f).to_bytes(8, "big") + f for f in fields)
  //   int.from_bytes(hmac.new(b"k" * 32, msg, "sha256").digest()[:8], "big", signed=True)
  EXPECT_EQ(visitorId(std::string(32, 'k'), "site", "1.2.3.4", "ua", kDay), 1875179734956774580LL);
}

TEST(PrivacyVisitorId, BelongsToOneDay) {
  // The same visitor on two days has two ids, whatever salt hashed them: the rollups add up
  // daily unique visitors on that basis.
  const auto id = visitorId(kSalt, kSite, "81.2.69.160", kUa, kDay);
  EXPECT_NE(visitorId(kSalt, kSite, "81.2.69.160", kUa, kDay - std::chrono::days{1}), id);
  EXPECT_NE(visitorId(kSalt, kSite, "81.2.69.160", kUa, kDay + std::chrono::days{1}), id);
}

TEST(PrivacyVisitorId, KeyedContextFollowsTheSalt) {
  // The per-thread HMAC context is re-keyed when the salt changes, and back again.
  const auto a = visitorId(kSalt, kSite, "1.2.3.4", kUa, kDay);
  const auto b = visitorId(kOtherSalt, kSite, "1.2.3.4", kUa, kDay);
  EXPECT_NE(a, b);
  EXPECT_EQ(visitorId(kSalt, kSite, "1.2.3.4", kUa, kDay), a);
  EXPECT_EQ(visitorId(kOtherSalt, kSite, "1.2.3.4", kUa, kDay), b);
  std::int64_t fromThread = 0;
  std::thread([&] { fromThread = visitorId(kSalt, kSite, "1.2.3.4", kUa, kDay); }).join();
  EXPECT_EQ(fromThread, a);
}

TEST(PrivacyVisitorId, EmptySaltIsRefused) {
  EXPECT_THROW(visitorId("", kSite, "1.2.3.4", kUa, kDay), Error);
}

TEST(PrivacySessionId, SixteenHexDigitsOfTheVisitorId) {
  EXPECT_EQ(sessionIdFromVisitor(0), "0000000000000000");
  EXPECT_EQ(sessionIdFromVisitor(1), "0000000000000001");
  EXPECT_EQ(sessionIdFromVisitor(-1), "ffffffffffffffff");
  EXPECT_EQ(sessionIdFromVisitor(0x0123456789abcdefLL), "0123456789abcdef");
  EXPECT_EQ(sessionIdFromVisitor(INT64_MIN), "8000000000000000");
  const auto id = visitorId(kSalt, kSite, "1.2.3.4", kUa, kDay);
  EXPECT_EQ(sessionIdFromVisitor(id), sessionIdFromVisitor(id));
  EXPECT_NE(sessionIdFromVisitor(id),
            sessionIdFromVisitor(visitorId(kSalt, kSite, "1.2.3.5", kUa, kDay)));
}

}  // namespace
}  // namespace mp::events
