// Stats parameters: defaults, every rule and the parameter each refusal names; the cache key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "redis/keys.hpp"
#include "stats/params.hpp"
#include "stats/query_params.hpp"
#include "util/error.hpp"

namespace mp::stats {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using ::testing::HasSubstr;

constexpr sys_days kToday{std::chrono::year{2026} / 11 / 27};

sys_days day(int y, unsigned m, unsigned d) {
  return sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

// The field an InvalidInput names and its message, or "no error".
std::pair<std::string, std::string> refusal(const std::function<void()>& call) {
  try {
    call();
  } catch (const InvalidInput& e) {
    return {e.field(), e.what()};
  }
  return {"no error", ""};
}

TEST(StatsParams, DefaultRangeIsTheLastSevenDaysIncludingToday) {
  EXPECT_EQ(parseRange(std::nullopt, std::nullopt, kToday), (DateRange{day(2026, 11, 21), kToday}));
  EXPECT_EQ(parseRange(std::nullopt, std::nullopt, kToday).days(), 7);
  // Only `to`: the seven days up to it; only `from`: from it through today.
  EXPECT_EQ(parseRange(std::nullopt, "2026-03-02", kToday),
            (DateRange{day(2026, 2, 24), day(2026, 3, 2)}));
  EXPECT_EQ(parseRange("2026-11-01", std::nullopt, kToday), (DateRange{day(2026, 11, 1), kToday}));
  // One day, and a range across a month and a year boundary.
  EXPECT_EQ(parseRange("2026-11-27", "2026-11-27", kToday).days(), 1);
  EXPECT_EQ(parseRange("2025-12-30", "2026-01-02", kToday).days(), 4);
  // Future days are answered (with zeros), as are leap days.
  EXPECT_EQ(parseRange("2028-02-29", "2028-03-01", kToday).days(), 2);
}

TEST(StatsParams, MalformedDatesNameTheirParameter) {
  for (const char* bad : {"2026-13-01", "2026-02-30", "26-11-01", "2026/11/01", "2026-11-1", "",
                          "today", "2026-11-01T00:00:00Z", "1969-12-31", "0000-01-01"}) {
    auto [field, message] = refusal([&] { parseRange(bad, "2026-11-27", kToday); });
    EXPECT_EQ(field, "from") << bad;
    EXPECT_THAT(message, HasSubstr("from")) << bad;
    EXPECT_EQ(refusal([&] { parseRange("2026-11-01", bad, kToday); }).first, "to") << bad;
  }
}

TEST(StatsParams, ReversedAndOverlongRangesAreRefused) {
  auto [field, message] = refusal([] { parseRange("2026-11-28", "2026-11-27", kToday); });
  EXPECT_EQ(field, "from");
  EXPECT_THAT(message, HasSubstr("after"));
  // `from` alone after today is reversed too (to defaults to today).
  EXPECT_EQ(refusal([] { parseRange("2026-12-01", std::nullopt, kToday); }).first, "from");

  const auto longest = parseRange("2016-01-01", std::nullopt, day(2026, 1, 7));
  EXPECT_EQ(longest.days(), kMaxRangeDays);
  auto [tooLong, why] = refusal([] { parseRange("2016-01-01", "2026-01-08", kToday); });
  EXPECT_EQ(tooLong, "from");
  EXPECT_THAT(why, HasSubstr("3661 days"));
}

TEST(StatsParams, LimitIsAWholeNumberFromOneToAHundred) {
  EXPECT_EQ(parseLimit(std::nullopt), kDefaultLimit);
  EXPECT_EQ(parseLimit("1"), 1);
  EXPECT_EQ(parseLimit("100"), 100);
  EXPECT_EQ(parseLimit("007"), 7);
  for (const char* bad : {"0", "101", "-1", "1.5", "", "ten", "1e2", " 5", "5 ", "0x10", "1000"}) {
    auto [field, message] = refusal([&] { parseLimit(bad); });
    EXPECT_EQ(field, "limit") << bad;
    EXPECT_THAT(message, HasSubstr("1 to 100")) << bad;
  }
}

TEST(StatsParams, BreakdownDimensionsInBothSpellings) {
  const std::pair<const char*, const char*> all[] = {{"page", "page"},
                                                     {"referrer", "referrer"},
                                                     {"browser", "browser"},
                                                     {"os", "os"},
                                                     {"device", "device"},
                                                     {"country", "country"},
                                                     {"eventType", "event_type"},
                                                     {"source", "source"},
                                                     {"entry_page", "entry_page"},
                                                     {"visit:source", "source"},
                                                     {"event:page", "page"},
                                                     {"prop:plan", "prop:plan"},
                                                     {"event:props:plan", "prop:plan"},
                                                     {"utm_campaign", "utm_campaign"}};
  for (const auto& [text, canonical] : all) {
    EXPECT_EQ(parseBreakdownDimension(text).name, canonical) << text;
  }
  for (const char* bad : {"Page", "url", "", "time:day", "prop:"}) {
    auto [field, message] = refusal([&] { parseBreakdownDimension(bad); });
    EXPECT_EQ(field, "dimension") << bad;
    EXPECT_THAT(message, HasSubstr("entry_page")) << bad;
  }
  auto [field, message] = refusal([] { parseBreakdownDimension(std::nullopt); });
  EXPECT_EQ(field, "dimension");
  EXPECT_THAT(message, HasSubstr("required"));
}

TEST(StatsParams, DatesAreCheckedBeforeTheWebsitesTodayIsKnown) {
  // A day after UTC's today may be today in a zone ahead of UTC: not refused here.
  EXPECT_NO_THROW(checkDates("2099-01-01", std::nullopt));
  EXPECT_NO_THROW(checkDates(std::nullopt, "1999-01-01"));
  EXPECT_NO_THROW(checkDates(std::nullopt, std::nullopt));
  EXPECT_EQ(refusal([] { checkDates("2026-02-30", std::nullopt); }).first, "from");
  EXPECT_EQ(refusal([] { checkDates(std::nullopt, "today"); }).first, "to");
  EXPECT_THAT(refusal([] { checkDates("2026-03-02", "2026-03-01"); }).second, HasSubstr("after"));
  EXPECT_THAT(refusal([] { checkDates("1990-01-01", "2026-03-01"); }).second, HasSubstr("3660"));
}

TEST(StatsParams, IntervalsAndTheHourlyRangeLimit) {
  EXPECT_EQ(parseInterval(std::nullopt), Interval::kDay);
  EXPECT_EQ(parseInterval("day"), Interval::kDay);
  EXPECT_EQ(parseInterval("hour"), Interval::kHour);
  EXPECT_EQ(name(Interval::kHour), "hour");
  for (const char* bad : {"week", "Hour", "", "minute"}) {
    EXPECT_EQ(refusal([&] { parseInterval(bad); }).first, "interval") << bad;
  }
  const DateRange month{day(2026, 11, 1), day(2026, 12, 1)};  // 31 days
  EXPECT_NO_THROW(checkInterval(month, Interval::kHour));
  const DateRange longer{day(2026, 11, 1), day(2026, 12, 2)};
  auto [field, message] = refusal([&] { checkInterval(longer, Interval::kHour); });
  EXPECT_EQ(field, "from");
  EXPECT_THAT(message, HasSubstr("31 days"));
  EXPECT_NO_THROW(checkInterval(longer, Interval::kDay));
}

TEST(StatsCacheKey, NamesWebsiteEndpointAndParameters) {
  EXPECT_EQ(redis::statsCacheKey("0190d7a0-1c2e-7a3b-8f00-2b6c1d9e4f10", "top-pages",
                                 "from=2026-11-21&to=2026-11-27&limit=10"),
            "mp:stats:0190d7a0-1c2e-7a3b-8f00-2b6c1d9e4f10:top-pages:"
            "from=2026-11-21&to=2026-11-27&limit=10");
  EXPECT_NE(redis::statsCacheKey("a", "top-pages", "limit=10"),
            redis::statsCacheKey("a", "breakdown", "limit=10"));
  EXPECT_LE(redis::kRealtimeCacheMaxTtl.count(), 5);
}

}  // namespace
}  // namespace mp::stats
