// Splitting page URLs: scheme, host, path and query as attribution needs them, and query values.
#include "util/url.hpp"

#include <gtest/gtest.h>

namespace mp::util {
namespace {

TEST(HttpUrl, SplitsHostPathAndQuery) {
  auto url = parseHttpUrl("HTTPS://WWW.Example.COM.:8443/Pricing/?utm_source=x&a=b#top");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "www.example.com");
  EXPECT_EQ(url->path, "/Pricing/");
  EXPECT_EQ(url->query, "utm_source=x&a=b");
}

TEST(HttpUrl, QueryIsEmptyWithoutOneAndStopsAtTheFragment) {
  EXPECT_EQ(parseHttpUrl("https://example.com")->query, "");
  EXPECT_EQ(parseHttpUrl("https://example.com/#a?b=c")->query, "");
  EXPECT_EQ(parseHttpUrl("https://example.com/?")->query, "");
  EXPECT_EQ(parseHttpUrl("https://example.com?x=1")->path, "/");
  EXPECT_EQ(parseHttpUrl("https://example.com?x=1")->query, "x=1");
}

TEST(HttpUrl, RefusesWhatIsNotAnAbsoluteHttpUrl) {
  EXPECT_FALSE(parseHttpUrl("ftp://example.com/"));
  EXPECT_FALSE(parseHttpUrl("/relative"));
  EXPECT_FALSE(parseHttpUrl("https://exa mple.com/"));
  EXPECT_FALSE(parseHttpUrl("https:///path"));
  EXPECT_FALSE(parseHttpUrl("https://example.com:80x/"));
}

TEST(QueryValue, DecodesTheFirstValueOfAName) {
  EXPECT_EQ(queryValue("utm_source=news+letter&utm_source=other", "utm_source"), "news letter");
  EXPECT_EQ(queryValue("a=1&utm_campaign=spring%20sale%21", "utm_campaign"), "spring sale!");
  EXPECT_EQ(queryValue("utm_term=caf%C3%A9", "utm_term"), "caf\xC3\xA9");
  EXPECT_EQ(queryValue("utm_medium=", "utm_medium"), "");
  EXPECT_EQ(queryValue("utm_medium", "utm_medium"), "");
}

TEST(QueryValue, AbsentNamesAndPrefixesAreNotValues) {
  EXPECT_FALSE(queryValue("", "utm_source"));
  EXPECT_FALSE(queryValue("utm_sourcex=1&xutm_source=2", "utm_source"));
  EXPECT_FALSE(queryValue("&&=&", "utm_source"));
}

TEST(QueryValue, KeepsBrokenEscapesAndPassesAnyByte) {
  EXPECT_EQ(queryValue("q=100%&r=%zz%4", "q"), "100%");
  EXPECT_EQ(queryValue("q=100%&r=%zz%4", "r"), "%zz%4");
  EXPECT_EQ(queryValue("q=a%00b", "q"), std::string("a\0b", 3));
  EXPECT_EQ(queryValue("q=%ff", "q"), "\xff");
}

}  // namespace
}  // namespace mp::util
