// The COPY text form of events, the data-error test and the writers' histograms, without services.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "events/event.hpp"
#include "ingest/event_store.hpp"
#include "util/error.hpp"

namespace mp::ingest {
namespace {

events::Event minimalEvent() {
  events::Event e;
  e.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  e.websiteId = "5a1e0000-0000-4000-8000-00000000000a";
  e.tsMillis = 1'700'000'000'123;
  e.eventType = "pageview";
  e.page = "/";
  e.url = "https://example.com/";
  e.hostname = "example.com";
  e.sessionId = "s1";
  e.visitorId = -42;
  e.userAgent = "UA";
  e.browser = "Firefox";
  e.os = "Linux";
  e.device = "desktop";
  return e;
}

TEST(IngestCopyLine, EmptyOptionalFieldsAreNullAndTheTimeIsUtcWithMilliseconds) {
  EXPECT_EQ(EventStore::copyLine(minimalEvent()),
            "5a1e0000-0000-4000-8000-00000000000a\t2023-11-14T22:13:20.123Z\t"
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\tpageview\t/\thttps://example.com/\texample.com\t"
            "\\N\t\\N\ts1\t-42\tUA\tFirefox\tLinux\tdesktop\t\\N\t\\N\t\\N\t"
            "\\N\tDirect\t\\N\t\\N\t\\N\t\\N\t\\N\tt\n");
}

TEST(IngestCopyLine, EscapesEverythingThatWouldSplitOrAlterAField) {
  events::Event e = minimalEvent();
  e.url = "a\tb\nc\rd\\e\\N" + std::string(1, '\0') + "f";
  e.referrer = "\\N";
  e.props = R"({"k":"x\ty"})";
  e.country = "DE";
  e.ip = "203.0.113.0";
  e.eventType.clear();
  const std::string line = EventStore::copyLine(e);
  EXPECT_NE(line.find("\ta\\tb\\nc\\rd\\\\e\\\\Nf\t"), std::string::npos) << line;
  EXPECT_NE(line.find("\t\\\\N\t"), std::string::npos) << "the text \\N must not read as NULL";
  EXPECT_NE(line.find("5b\tpageview\t"), std::string::npos) << "an empty type is the default";
  EXPECT_NE(line.find(R"({"k":"x\\ty"})"), std::string::npos) << line;
  EXPECT_NE(line.find("\tDE\t203.0.113.0\t"), std::string::npos) << line;
  // One line, twenty-six fields: no raw tab, newline or NUL survived inside a value.
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\t'), 25);
  EXPECT_EQ(line.find('\0'), std::string::npos);
}

TEST(IngestCopyLine, AttributesTheEventFromItsUrlAndReferrer) {
  events::Event e = minimalEvent();
  e.url =
      "https://example.com/"
      "?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=%09#x";
  e.referrerHost = "mail.google.com";
  e.eventType = "scroll";
  e.interactive = false;
  const std::string line = EventStore::copyLine(e);
  // source, channel, utm_source … utm_content, interactive; a control character is no value.
  EXPECT_NE(line.find("\tnewsletter\tEmail\tnewsletter\temail\tspring sale\t\\N\t\\N\tf\n"),
            std::string::npos)
      << line;
  e = minimalEvent();
  e.referrerHost = "www.google.de";
  EXPECT_NE(EventStore::copyLine(e).find("\tGoogle\tOrganic Search\t"), std::string::npos);
}

TEST(IngestDataError, OnlyRefusedValuesAreTheEventsFault) {
  EXPECT_TRUE(isDataError(DbError("bad inet", "22P02")));
  EXPECT_TRUE(isDataError(DbError("not null", "23502")));
  EXPECT_TRUE(isDataError(DbError("too big", "54000")));
  EXPECT_FALSE(isDataError(DbError("no table", "42P01")));
  EXPECT_FALSE(isDataError(DbError("gone", "08006")));
  EXPECT_FALSE(isDataError(DbError("shutdown", "57P01")));
  EXPECT_FALSE(isDataError(DbError("no state")));
}

TEST(IngestHistogram, BucketsAreCumulativeWithInclusiveUpperBounds) {
  util::Histogram<3> h({1, 10, 100});
  for (const double v : {0.5, 1.0, 1.5, 10.0, 99.0, 1000.0}) h.observe(v);
  EXPECT_EQ(h.cumulativeCount(0), 2u);  // 0.5, 1
  EXPECT_EQ(h.cumulativeCount(1), 4u);  // + 1.5, 10
  EXPECT_EQ(h.cumulativeCount(2), 5u);  // + 99
  EXPECT_EQ(h.cumulativeCount(3), 6u);  // +Inf
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 1112.0);
}

TEST(IngestWriterStats, RecordBatchSplitsNewDuplicateAndRejectedEvents) {
  WriterStats stats;
  IsolatedInsert outcome;
  outcome.inserted = 1500;
  outcome.rejected = {3, 7};
  stats.recordBatch(2000, outcome, std::chrono::milliseconds(30));
  EXPECT_EQ(stats.batchesWritten.load(), 1u);
  EXPECT_EQ(stats.eventsWritten.load(), 1500u);
  EXPECT_EQ(stats.eventsDuplicated.load(), 498u);
  EXPECT_EQ(stats.rejected.load(), 2u);
  EXPECT_EQ(stats.lastBatchSize.load(), 2000u);
  EXPECT_EQ(stats.batchLatencyMs.cumulativeCount(4), 0u);  // <= 25 ms
  EXPECT_EQ(stats.batchLatencyMs.cumulativeCount(5), 1u);  // <= 50 ms
  EXPECT_EQ(stats.batchSize.cumulativeCount(7), 1u);       // <= 2000
  EXPECT_EQ(stats.batchSize.cumulativeCount(6), 0u);       // <= 1000
}

}  // namespace
}  // namespace mp::ingest
