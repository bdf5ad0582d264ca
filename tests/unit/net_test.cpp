// Address helpers: CIDR matching and the buckets per-address limits count by.
#include "util/net.hpp"

#include <gtest/gtest.h>

namespace mp::util {
namespace {

TEST(AddressBucket, Ipv4IsItselfAndIpv6IsItsSlash64) {
  EXPECT_EQ(addressBucket("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(addressBucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  // Two hosts of one network share a bucket; the next network does not.
  EXPECT_EQ(addressBucket("2001:db8:1:2::1"), addressBucket("2001:db8:1:2:ffff::9"));
  EXPECT_NE(addressBucket("2001:db8:1:2::1"), addressBucket("2001:db8:1:3::1"));
  EXPECT_EQ(addressBucket("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(addressBucket("::1"), "::/64");
}

TEST(AddressBucket, WhatIsNotANumericAddressHasNoBucket) {
  EXPECT_EQ(addressBucket(""), "");
  EXPECT_EQ(addressBucket("example.com"), "");
  EXPECT_EQ(addressBucket("192.0.2.7, 10.0.0.1"), "");
  EXPECT_EQ(addressBucket(std::string(100, '1')), "");
}

TEST(InCidr, MatchesNetworksOfBothFamilies) {
  EXPECT_TRUE(inCidr("10.1.2.3", "10.0.0.0/8"));
  EXPECT_FALSE(inCidr("11.1.2.3", "10.0.0.0/8"));
  EXPECT_TRUE(inCidr("192.0.2.7", "192.0.2.7"));
  EXPECT_FALSE(inCidr("192.0.2.8", "192.0.2.7"));
  EXPECT_TRUE(inCidr("192.0.2.200", "192.0.2.128/25"));
  EXPECT_FALSE(inCidr("192.0.2.100", "192.0.2.128/25"));
  EXPECT_TRUE(inCidr("2001:db8::5", "2001:db8::/32"));
  EXPECT_FALSE(inCidr("2001:db9::5", "2001:db8::/32"));
  EXPECT_TRUE(inCidr("1.2.3.4", "0.0.0.0/0"));
  // Families never match each other; malformed networks match nothing.
  EXPECT_FALSE(inCidr("10.1.2.3", "::/0"));
  EXPECT_FALSE(inCidr("10.1.2.3", "10.0.0.0/33"));
  EXPECT_FALSE(inCidr("10.1.2.3", "10.0.0.0/x"));
  EXPECT_FALSE(inCidr("not an address", "0.0.0.0/0"));
  EXPECT_TRUE(inCidr("::ffff:10.1.2.3", "10.0.0.0/8"));
  EXPECT_FALSE(inCidr("::ffff:11.1.2.3", "10.0.0.0/8"));
}

}  // namespace
}  // namespace mp::util
