// UUIDs, UTF-8 and base64url.
#include <gtest/gtest.h>

#include <set>

#include "util/base64.hpp"
#include "util/error.hpp"
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

}  // namespace
}  // namespace mp
