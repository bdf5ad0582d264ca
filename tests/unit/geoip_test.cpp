// Country lookups against MaxMind's public test databases (tests/data/geoip, known answers).
#include "events/geoip.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/env.hpp"
#include "util/error.hpp"

namespace mp::events {
namespace {

// The table of tests/data/geoip/README.md.
const std::vector<std::pair<std::string, std::string>> kKnownAnswers = {
    {"81.2.69.160", "GB"},   {"2.125.160.216", "GB"}, {"89.160.20.112", "SE"},
    {"216.160.83.56", "US"}, {"67.43.156.1", "BT"},   {"202.196.224.1", "PH"},
    {"2001:218::1", "JP"},   {"127.0.0.1", ""},
};

class GeoIpDatabases : public ::testing::TestWithParam<std::string> {
 protected:
  std::filesystem::path path() const { return test::testdataPath("geoip/" + GetParam()); }
};

TEST_P(GeoIpDatabases, KnownAnswers) {
  GeoIp geo(path());
  for (const auto& [ip, country] : kKnownAnswers) {
    EXPECT_EQ(geo.country(ip), country) << ip;
  }
}

TEST_P(GeoIpDatabases, SameAnswerForEveryWayOfWritingTheAddress) {
  GeoIp geo(path());
  EXPECT_EQ(geo.country("::ffff:81.2.69.160"), "GB");
  EXPECT_EQ(geo.country("::FFFF:89.160.20.112"), "SE");
  EXPECT_EQ(geo.country("2001:0218:0000:0000:0000:0000:0000:0001"), "JP");
}

TEST_P(GeoIpDatabases, UnknownPrivateLoopbackAndMalformedAreEmpty) {
  GeoIp geo(path());
  for (const char* ip : {"10.0.0.1", "192.168.1.1", "172.16.0.1", "::1", "fe80::1", "0.0.0.0",
                         "garbage", "", "localhost", "81.2.69", "81.2.69.160:443", "[2001:218::1]",
                         "127.1", " 81.2.69.160", "81.2.69.160.1", "2001:218::1%eth0"}) {
    EXPECT_EQ(geo.country(ip), "") << ip;
  }
}

TEST_P(GeoIpDatabases, ConcurrentLookupsAgree) {
  const GeoIp geo(path());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const auto& [ip, country] =
            kKnownAnswers[static_cast<std::size_t>(i) % kKnownAnswers.size()];
        if (geo.country(ip) != country) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(GeoIpDatabases, ReportsItsType) {
  GeoIp geo(path());
  EXPECT_NE(geo.databaseType().find("GeoLite2"), std::string::npos) << geo.databaseType();
}

std::string databaseName(const ::testing::TestParamInfo<std::string>& param) {
  return param.param.find("City") != std::string::npos ? "City" : "Country";
}

INSTANTIATE_TEST_SUITE_P(GeoIp, GeoIpDatabases,
                         ::testing::Values("GeoLite2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb"),
                         databaseName);

void expectConfigErrorNaming(const std::filesystem::path& file) {
  try {
    GeoIp geo(file);
    ADD_FAILURE() << "opened " << file;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST(GeoIpOpen, MissingFileIsAConfigErrorNamingIt) {
  test::TempDir dir;
  expectConfigErrorNaming(dir.path() / "GeoLite2-Country.mmdb");
}

TEST(GeoIpOpen, CorruptFileIsAConfigErrorNamingIt) {
  test::TempDir dir;
  expectConfigErrorNaming(dir.write("empty.mmdb", ""));
  expectConfigErrorNaming(dir.write("garbage.mmdb", std::string(4096, '\x42')));
  // A file that is not a MaxMind DB at all, such as the licence text beside the test databases.
  expectConfigErrorNaming(test::testdataPath("geoip/LICENSE-MIT"));
}

TEST(GeoIpOpen, DirectoryIsAConfigError) {
  test::TempDir dir;
  expectConfigErrorNaming(dir.path());
}

}  // namespace
}  // namespace mp::events
