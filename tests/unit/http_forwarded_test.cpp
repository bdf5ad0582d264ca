// Which X-Forwarded-For entry is the client: walked from the right past the trusted proxies.
#include <gtest/gtest.h>

#include "http/common.hpp"

namespace mp::http {
namespace {

const std::vector<std::string> kTrusted = {"127.0.0.1", "10.0.0.0/8", "2001:db8:ffff::/48"};

std::string client(const std::string& peer, const std::optional<std::string>& xff) {
  return forwardedClient(peer, xff, kTrusted);
}

TEST(ForwardedClient, APeerThatIsNotTrustedIsTheClientWhateverItSends) {
  EXPECT_EQ(client("198.51.100.9", "203.0.113.7"), "198.51.100.9");
  EXPECT_EQ(forwardedClient("127.0.0.1", std::string("203.0.113.7"), {}), "127.0.0.1");
  EXPECT_EQ(client("127.0.0.1", std::nullopt), "127.0.0.1");
}

TEST(ForwardedClient, TheFirstUntrustedEntryFromTheRightIsTheClient) {
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7, 10.0.0.2"), "203.0.113.7");
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7,10.1.2.3 ,  10.0.0.2"), "203.0.113.7");
  EXPECT_EQ(client("127.0.0.1", "2001:db8::7, 2001:db8:ffff::1"), "2001:db8::7");
}

// A client sends "X-Forwarded-For: <anything>" and an appending proxy adds its real address: the
// forged left-most entry must not become the client.
TEST(ForwardedClient, AForgedLeftMostEntryIsNotBelieved) {
  EXPECT_EQ(client("127.0.0.1", "1.2.3.4, 198.51.100.9"), "198.51.100.9");
  EXPECT_EQ(client("127.0.0.1", "10.0.0.5, 198.51.100.9, 10.0.0.2"), "198.51.100.9");
}

TEST(ForwardedClient, WhenEveryEntryIsTrustedTheLeftMostIsTheClient) {
  EXPECT_EQ(client("127.0.0.1", "10.0.0.5, 10.0.0.2"), "10.0.0.5");
  EXPECT_EQ(client("127.0.0.1", "127.0.0.1"), "127.0.0.1");
}

TEST(ForwardedClient, AMalformedEntryStopsTheWalkAtTheAddressRightOfIt) {
  EXPECT_EQ(client("127.0.0.1", "garbage"), "127.0.0.1");
  EXPECT_EQ(client("127.0.0.1", ""), "127.0.0.1");
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7, unknown, 10.0.0.2"), "10.0.0.2");
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7, , 10.0.0.2"), "10.0.0.2");
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7:443, 10.0.0.2"), "10.0.0.2");
  EXPECT_EQ(client("127.0.0.1", "203.0.113.7, 10.0.0.2,"), "127.0.0.1");
  EXPECT_EQ(client("127.0.0.1", std::string("1.2.3.4\0, 10.0.0.2", 18)), "10.0.0.2");
}

}  // namespace
}  // namespace mp::http
