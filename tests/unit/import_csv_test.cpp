// The CSV reader of mpctl import: RFC 4180 quoting, line ends, blank lines, a byte order mark,
// the line each record began on, and a quote left open.
#include <gtest/gtest.h>

#include <cstring>

#include "importing/csv.hpp"
#include "importing/detail.hpp"
#include "util/error.hpp"

namespace mp::importing {
namespace {

// The records of `text`, read through a source handing out `chunk` bytes at a time (records
// span reads).
std::vector<std::pair<std::int64_t, std::vector<std::string>>> read(const std::string& text,
                                                                    std::size_t chunk = 3) {
  std::size_t pos = 0;
  CsvReader reader([&](char* buffer, std::size_t size) {
    const std::size_t n = std::min({size, chunk, text.size() - pos});
    std::memcpy(buffer, text.data() + pos, n);
    pos += n;
    return n;
  });
  std::vector<std::pair<std::int64_t, std::vector<std::string>>> out;
  std::vector<std::string> fields;
  while (reader.next(fields)) out.emplace_back(reader.line(), fields);
  return out;
}

using Fields = std::vector<std::string>;

TEST(ImportCsv, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  const auto r = read("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\nlast,,\n");
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r[1].second, (Fields{"x, y", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(r[2].first, 4);  // the quoted line break counts
  EXPECT_EQ(r[2].second, (Fields{"last", "", ""}));
}

TEST(ImportCsv, CrLfBlankLinesAndAByteOrderMark) {
  const auto r = read("\xEF\xBB\xBFh1,h2\r\n\r\n1,2\r\n\n3,4");
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r[0].second, (Fields{"h1", "h2"}));
  EXPECT_EQ(r[1].first, 3);
  EXPECT_EQ(r[1].second, (Fields{"1", "2"}));
  EXPECT_EQ(r[2].first, 5);
  EXPECT_EQ(r[2].second, (Fields{"3", "4"}));  // no line end at the end of the file
}

TEST(ImportCsv, AQuoteLeftOpenOrTextAfterAQuoteIsAnErrorWithItsLine) {
  try {
    read("a\nb\n\"open\n");
    FAIL() << "no error";
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(), "line 3: a quoted field is not closed before the end of the file");
  }
  EXPECT_THROW(read("\"x\"y,1\n"), InvalidInput);
}

}  // namespace
}  // namespace mp::importing

namespace mp::importing {
namespace {

// Imported referrers are stored as tracking stores them, so that imported and tracked days fall
// into the same breakdown rows.
TEST(ImportReferrerHost, IsTheHostAsTrackingStoresIt) {
  using detail::referrerHost;
  EXPECT_EQ(referrerHost("news.ycombinator.com/item?id=1"), "news.ycombinator.com");
  EXPECT_EQ(referrerHost("https://www.Google.com/search?q=x"), "google.com");
  EXPECT_EQ(referrerHost("http://user@blog.example:8080/post#top"), "blog.example");
  EXPECT_EQ(referrerHost("https://[2001:db8::1]:8443/x"), "[2001:db8::1]");
  EXPECT_EQ(referrerHost("  t.co  "), "t.co");
  EXPECT_EQ(referrerHost(""), "");
  // The website's own pages are internal navigation, not a referrer.
  EXPECT_EQ(referrerHost("https://www.example.com/pricing", "example.com"), "");
  EXPECT_EQ(referrerHost("docs.example.com", "example.com"), "");
  EXPECT_EQ(referrerHost("https://notexample.com/", "example.com"), "notexample.com");
}

}  // namespace
}  // namespace mp::importing
