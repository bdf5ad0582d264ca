// Stats parameters: every rule is checked before any query runs, with a message naming the
// parameter.
#include "stats/params.hpp"

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/time.hpp"

namespace mp::stats {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

sys_days parseDay(const char* field, const std::string& text) {
  auto day = util::parseDate(text);
  if (!day) {
    throw InvalidInput(field, fmt::format("{} must be a date (YYYY-MM-DD), not \"{}\"", field,
                                          text.substr(0, 40)));
  }
  if (*day < kFirstDate || *day > kLastDate) {
    throw InvalidInput(field, fmt::format("{} must lie between 1970-01-01 and 9999-12-31", field));
  }
  return *day;
}

}  // namespace

DateRange parseRange(const std::optional<std::string>& from, const std::optional<std::string>& to,
                     sys_days today) {
  DateRange range{};
  range.to = to ? parseDay("to", *to) : today;
  range.from = from ? parseDay("from", *from) : range.to - days{kDefaultRangeDays - 1};
  if (range.from > range.to) {
    throw InvalidInput("from",
                       fmt::format("from ({}) is after to ({})", util::formatDate(range.from),
                                   util::formatDate(range.to)));
  }
  if (range.days() > kMaxRangeDays) {
    throw InvalidInput("from", fmt::format("the range covers {} days; at most {} are answered",
                                           range.days(), kMaxRangeDays));
  }
  return range;
}

void checkDates(const std::optional<std::string>& from, const std::optional<std::string>& to) {
  if (from && to) {
    parseRange(from, to, kFirstDate);  // today is not used: both are given
  } else if (from) {
    parseDay("from", *from);
  } else if (to) {
    parseDay("to", *to);
  }
}

int parseLimit(const std::optional<std::string>& text) {
  if (!text) return kDefaultLimit;
  int value = 0;
  bool digits = !text->empty() && text->size() <= 3;
  for (const char c : *text) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (!digits || value < 1 || value > kMaxLimit) {
    throw InvalidInput("limit", fmt::format("limit must be a whole number from 1 to {}, not \"{}\"",
                                            kMaxLimit, text->substr(0, 40)));
  }
  return value;
}

Interval parseInterval(const std::optional<std::string>& text) {
  if (!text || *text == "day") return Interval::kDay;
  if (*text == "hour") return Interval::kHour;
  throw InvalidInput("interval",
                     fmt::format("interval must be hour or day, not \"{}\"", text->substr(0, 40)));
}

void checkInterval(const DateRange& range, Interval interval) {
  if (interval == Interval::kHour && range.days() > kMaxHourRangeDays) {
    throw InvalidInput("from",
                       fmt::format("an hourly timeseries covers at most {} days, not {}; ask for "
                                   "interval=day or a shorter range",
                                   kMaxHourRangeDays, range.days()));
  }
}

std::string_view name(Interval interval) {
  return interval == Interval::kHour ? "hour" : "day";
}

}  // namespace mp::stats
